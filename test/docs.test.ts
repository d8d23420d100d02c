/**
 * The reference in docs/ follows the commands: every long option that `lbdiag <command> --help`
 * shows (commander's own option list, as src/completion/spec.ts walks it) is mentioned in
 * docs/<command>.md, and every relative link in README.md and docs/*.md points to a file that exists
 * (and, for `file.md#anchor`, to a heading of that file).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { buildProgram } from '../src/cli.js';
import { ROOT } from './support/processes.js';

const DOCS = path.join(ROOT, 'docs');

/** The anchors GitHub gives the headings of a Markdown file (outside fenced code). */
function anchors(markdown: string): Set<string> {
  const out = new Set<string>();
  const seen = new Map<string, number>();
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    if (fenced) continue;
    const m = /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const base = m[1]
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

/** Relative Markdown links of a file, outside fenced code: [text](target). */
function relativeLinks(markdown: string): string[] {
  const out: string[] = [];
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (/^\s*(```|~~~)/.test(line)) fenced = !fenced;
    if (fenced) continue;
    for (const m of line.matchAll(/\]\(([^)\s]+)\)/g)) {
      const target = m[1];
      if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue; // http:, mailto:, ...
      out.push(target);
    }
  }
  return out;
}

test('every option of every subcommand --help is documented in docs/<command>.md', async () => {
  const program = await buildProgram();
  const commands = program.commands.filter((c) => c.name() !== 'help');
  assert.ok(commands.length >= 6, `subcommands: ${commands.map((c) => c.name()).join(', ')}`);
  const missing: string[] = [];
  let checked = 0;
  for (const cmd of commands) {
    const file = path.join(DOCS, `${cmd.name()}.md`);
    assert.ok(fs.existsSync(file), `docs/${cmd.name()}.md exists`);
    const page = fs.readFileSync(file, 'utf8');
    const helpText = cmd.helpInformation();
    const help = cmd.createHelp();
    for (const o of help.visibleOptions(cmd)) {
      if (o.long === undefined || o.long === '--help') continue;
      assert.ok(helpText.includes(o.long), `lbdiag ${cmd.name()} --help shows ${o.long}`);
      const escaped = o.long.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      if (!new RegExp(`${escaped}(?![A-Za-z0-9-])`).test(page)) missing.push(`docs/${cmd.name()}.md lacks ${o.long}`);
      checked++;
    }
  }
  assert.deepEqual(missing, []);
  assert.ok(checked >= 40, `only ${checked} options checked`);
});

test('every relative link in README.md and docs/*.md points to a file (and heading) that exists', () => {
  const files = [path.join(ROOT, 'README.md'), ...fs.readdirSync(DOCS).filter((f) => f.endsWith('.md')).map((f) => path.join(DOCS, f))];
  assert.ok(files.length >= 8, `docs pages: ${files.length}`);
  const broken: string[] = [];
  let checked = 0;
  for (const file of files) {
    const text = fs.readFileSync(file, 'utf8');
    for (const link of relativeLinks(text)) {
      const [target, anchor] = link.split('#', 2) as [string, string | undefined];
      const resolved = target === '' ? file : path.resolve(path.dirname(file), decodeURIComponent(target));
      const where = `${path.relative(ROOT, file)}: ${link}`;
      checked++;
      if (!fs.existsSync(resolved)) {
        broken.push(`${where} (no such file)`);
        continue;
      }
      if (anchor !== undefined && resolved.endsWith('.md') && !anchors(fs.readFileSync(resolved, 'utf8')).has(anchor)) {
        broken.push(`${where} (no such heading)`);
      }
    }
  }
  assert.deepEqual(broken, []);
  assert.ok(checked >= 20, `only ${checked} links checked`);
});
