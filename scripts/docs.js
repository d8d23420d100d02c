#!/usr/bin/env node
// `npm run docs`: regenerates every pasted lbdiag output in README.md and docs/*.md from a real run.
//
//   npm run docs                     run every marked block, write the outputs back
//   npm run docs -- --check          run them, write nothing, list the blocks whose stable part differs
//   npm run docs -- --only docs/pcap.md[:LINE]   only the blocks of one page (or the one at LINE)
//   npm run docs -- --list           list the marked blocks and the unmarked lbdiag output blocks
//
// Markers (an HTML comment on the last non-blank line before a fenced block; invisible on GitHub):
//
//   <!-- lbdiag:run cmd="lbdiag pcap fixtures/fin-retransmit.pcap" excerpt="1; /^ERROR/ to /fix:/" -->
//   <!-- lbdiag:static reason="output of a real BIG-IP; cannot run here" -->
//
// A run marker's block is replaced by the output of its command(s), run with `sh -c` from the
// repository, where `lbdiag` is this checkout's bin/lbdiag.js (a shim first on PATH), with NO_COLOR=1,
// TERM=dumb, COLUMNS=100, stdin from /dev/null and stdout/stderr pipes (not a TTY: no progress, no
// colour). Attributes (per command: suffix .2, .3 ... for `cmd.2` etc.):
//   cmd="..."        the command line (shell syntax; $LBDIAG_DOCS_TMP is a scratch directory for the
//                    block, $LBDIAG_CORPUS the tcpdump capture corpus in shared/)
//   setup="a,b"      recipes of scripts/docs-setups.js started before and stopped (by pid) after
//   prompt           show `$ <display>` above the output;  display="..." what to show (default cmd)
//   output=both      stdout and stderr interleaved as a terminal shows them (default stdout; stderr)
//   exit="1"         the exit code(s) expected (default 0 or 1: a finding); another fails the block.
//                    A non-zero exit is shown as a last line `(exit N)`, as `echo $?` would tell.
//   drop="re"        lines matching re are left out first (e.g. drop="^├" the rules between table rows)
//   excerpt="..."    the lines kept (see parseExcerpt in scripts/docs-markers.js); gap="…" between cuts
//   timeout="180"    seconds before the command is killed (the block then fails)
//   check="off"      --check runs this block but does not compare it (say why in note="...")
// Inline markers in the text: `<!-- lbdiag:wall -->4.0 s<!-- /lbdiag:wall -->` becomes the wall time
// of the next run block's first command; `<!-- lbdiag:date -->...<!-- /lbdiag:date -->` the date of the
// run (UTC); `<!-- lbdiag:load -->...<!-- /lbdiag:load -->` the 1-minute load average when the next
// run block started.
//
// Robustness: blocks run one after the other; a block that fails (a command exits with an unexpected
// code, times out, an excerpt pattern finds nothing, a setup cannot start) is reported with its
// file:line and the tail of its stderr, and keeps its old content; the others are still written. Each
// page is written whole through a temporary file and a rename, only when it changed. The exit code is
// 1 when a block failed (or, with --check, differed), else 0. Re-running on its own output changes only
// what the runs change (idempotent).
import { spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { applyExcerpt, isLbdiagOutput, lineDiff, markerSteps, normalise, scanMarkdown } from './docs-markers.js';
import { SETUPS, setupContext } from './docs-setups.js';

const ROOT = path.join(path.dirname(fileURLToPath(import.meta.url)), '..');

/** README.md and docs/*.md, relative to the root. */
export function docFiles(root = ROOT) {
  return ['README.md', ...readdirSync(path.join(root, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`)];
}

function parseArgs(argv) {
  const o = { check: false, list: false, only: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--check') o.check = true;
    else if (a === '--list') o.list = true;
    else if (a === '--only') o.only = argv[++i];
    else if (a.startsWith('--only=')) o.only = a.slice(7);
    else if (a === '--help' || a === '-h') {
      process.stdout.write(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1, 8).map((l) => l.replace(/^\/\/ ?/, '')).join('\n') + '\n');
      process.exit(0);
    } else {
      process.stderr.write(`docs: unknown argument ${a} (--check, --list, --only FILE[:LINE])\n`);
      process.exit(2);
    }
  }
  return o;
}

function corpusDir() {
  const c = [process.env.LBDIAG_CORPUS, path.resolve(ROOT, '../shared/corpus/tcpdump'), path.resolve(ROOT, '../../shared/corpus/tcpdump')].filter(Boolean);
  return c.find((d) => existsSync(d)) ?? c[c.length - 1];
}

/** What runs now, for a clean stop on Ctrl-C / SIGTERM: the command's process group, the block's setups. */
const running = { shell: null, ctx: null, dirs: new Set() };

/** Ctrl-C or SIGTERM: stop what runs (by pid / process group), remove temporary files, exit 130; pages are untouched. */
function onSignal(sig) {
  process.stderr.write(`\ndocs: ${sig}: stopping; no page was changed by the block that was running\n`);
  if (running.shell) {
    try {
      process.kill(-running.shell.pid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  const done = () => {
    for (const d of running.dirs) rmSync(d, { recursive: true, force: true });
    process.exit(130);
  };
  if (running.ctx) running.ctx.stop().then(done, done);
  else done();
}

/** Runs one shell command; resolves { stdout, stderr, code, ms } (code 'timeout' when killed). */
function runShell(cmd, { env, cwd, output, timeoutS }) {
  return new Promise((resolve) => {
    const script = output === 'both' ? `exec 2>&1\n${cmd}` : cmd;
    const started = process.hrtime.bigint();
    // detached: its own process group, so a timeout kills the whole pipeline (by the group's pid).
    const child = spawn('sh', ['-c', script], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    running.shell = child;
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        /* gone */
      }
    }, timeoutS * 1000);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      running.shell = null;
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      resolve({ stdout, stderr, code: timedOut ? 'timeout' : (code ?? signal), ms });
    });
  });
}

/** A wall time as the docs print it: 850 ms, 4.0 s, 56 s. */
function formatWall(ms) {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 20000) return `${(ms / 1000).toFixed(1)} s`;
  return `${Math.round(ms / 1000)} s`;
}

/** The environment each cached run had (for $LBDIAG_DOCS_* in display). */
const blockEnvOf = new Map();

/**
 * Runs a run marker's commands with its setups; returns { lines, wallMs, load } or throws an Error
 * whose message says what failed. `cache` holds results of identical (setup, commands) within a run.
 */
export async function runBlock(attrs, env, cache = new Map()) {
  const steps = markerSteps(attrs);
  const key = JSON.stringify([attrs.setup ?? '', steps.map((s) => [s.cmd, s.output === 'both'])]);
  let results = cache.get(key);
  const load = os.loadavg()[0];
  if (!results) {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'lbdiag-docs-'));
    const blockEnv = { ...env, LBDIAG_DOCS_TMP: dir };
    const ctx = setupContext(ROOT, dir, blockEnv);
    running.ctx = ctx;
    running.dirs.add(dir);
    try {
      for (const name of String(attrs.setup ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
        const recipe = SETUPS[name];
        if (!recipe) throw new Error(`unknown setup "${name}" (scripts/docs-setups.js has: ${Object.keys(SETUPS).join(', ')})`);
        try {
          await recipe(ctx);
        } catch (e) {
          throw new Error(`setup ${name}: ${e.message}`);
        }
      }
      results = [];
      for (const step of steps) {
        const r = await runShell(step.cmd, { env: blockEnv, cwd: ROOT, output: step.output, timeoutS: step.timeout });
        results.push(r);
      }
    } finally {
      await ctx.stop();
      running.ctx = null;
      rmSync(dir, { recursive: true, force: true });
      running.dirs.delete(dir);
    }
    cache.set(key, results);
    blockEnvOf.set(key, blockEnv);
  }
  const lines = [];
  for (const [i, step] of steps.entries()) {
    const r = results[i];
    const expected = step.exit === undefined ? [0, 1] : String(step.exit).split(',').map(Number);
    const tail = (r.stderr || r.stdout).trimEnd().split('\n').slice(-5).join('\n  ');
    if (r.code === 'timeout') throw new Error(`\`${step.cmd}\` did not finish within ${step.timeout} s\n  ${tail}`);
    if (!expected.includes(r.code)) throw new Error(`\`${step.cmd}\` exited ${r.code} (expected ${expected.join(' or ')})\n  ${tail}`);
    const text = step.output === 'stderr' ? r.stderr : r.stdout;
    let out = text.replace(/\r/g, '').replace(/\n+$/, '').split('\n').map((l) => l.trimEnd());
    if (text.trim() === '') out = [];
    if (step.drop) out = out.filter((l) => !step.drop.test(l));
    if (step.excerpt !== undefined) {
      try {
        out = applyExcerpt(out, String(step.excerpt), step.gap);
      } catch (e) {
        throw new Error(`\`${step.cmd}\`: ${e.message}`);
      }
    }
    // $LBDIAG_DOCS_* in display: values a setup chose (a namespace's address)
    if (step.prompt) lines.push(`$ ${step.display.replace(/\$\{?(LBDIAG_DOCS_\w+)\}?/g, (m, k) => blockEnvOf.get(key)?.[k] ?? m)}`);
    lines.push(...out);
    if (r.code !== 0) lines.push(`(exit ${r.code})`);
  }
  return { lines, wallMs: results[0].ms, load };
}

/**
 * Replaces the inline markers of `text` (wall time, load, date). `runLines`: the 0-based marker lines
 * of every run block of the page, sorted; `timings` those that ran this time. An inline marker takes
 * the next run block below it, and is left as it was when that block did not run.
 */
function fillInline(text, runLines, timings, date) {
  const lines = text.split('\n');
  return lines
    .map((line, i) =>
      line.replace(/(<!--\s*lbdiag:(wall|load|date)\s*-->)(.*?)(<!--\s*\/lbdiag:\2\s*-->)/g, (all, open, kind, _old, close) => {
        if (kind === 'date') return date ? `${open}${date}${close}` : all;
        const next = runLines.find((l) => l > i);
        const t = next === undefined ? undefined : timings.get(next);
        if (!t) return all;
        return `${open}${kind === 'wall' ? formatWall(t.wallMs) : t.load.toFixed(1)}${close}`;
      }),
    )
    .join('\n');
}

/**
 * The environment marker commands run in: `lbdiag` on PATH is this checkout (a shim in a temporary
 * directory; `cleanup()` removes it), no colour, no TTY hints, a fixed width.
 */
export function docEnv() {
  const shimDir = mkdtempSync(path.join(os.tmpdir(), 'lbdiag-docs-bin-'));
  const shim = path.join(shimDir, 'lbdiag');
  writeFileSync(shim, `#!/bin/sh\nexec '${process.execPath}' '${path.join(ROOT, 'bin', 'lbdiag.js')}' "$@"\n`);
  chmodSync(shim, 0o755);
  const env = { ...process.env, PATH: `${shimDir}:${process.env.PATH}:/usr/sbin:/sbin`, NO_COLOR: '1', TERM: 'dumb', COLUMNS: '100', LBDIAG_CORPUS: corpusDir() };
  delete env.FORCE_COLOR;
  delete env.LBDIAG_DEBUG;
  return { env, cleanup: () => rmSync(shimDir, { recursive: true, force: true }) };
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  if (!existsSync(path.join(ROOT, 'dist', 'src', 'cli.js'))) {
    process.stderr.write('docs: dist/ is missing: run `npm run build` first (npm run docs does)\n');
    process.exit(2);
  }
  const { env, cleanup } = docEnv();
  for (const sig of ['SIGINT', 'SIGTERM']) process.once(sig, () => {
    cleanup();
    onSignal(sig);
  });
  const [onlyFile, onlyLine] = o.only ? o.only.split(':') : [null, null];
  if (onlyFile && !docFiles().includes(path.normalize(onlyFile))) {
    cleanup();
    process.stderr.write(`docs: --only ${onlyFile}: not one of ${docFiles().join(', ')}\n`);
    process.exit(2);
  }
  const failures = [];
  const differs = [];
  const unmarked = [];
  const cache = new Map();
  const started = Date.now();
  let ran = 0;
  const date = new Date().toISOString().slice(0, 10);
  try {
    for (const rel of docFiles()) {
      if (onlyFile && path.normalize(onlyFile) !== rel) continue;
      const file = path.join(ROOT, rel);
      const original = readFileSync(file, 'utf8');
      const scan = scanMarkdown(original);
      for (const e of scan.errors) failures.push(`${rel}:${e.line}: ${e.message}`);
      for (const l of scan.orphans) failures.push(`${rel}:${l}: marker without a fenced block after it`);
      const lines = scan.lines.slice();
      const timings = new Map();
      const replacements = [];
      for (const b of scan.blocks) {
        const where = `${rel}:${b.open + 1}`;
        if (!b.marker) {
          if (isLbdiagOutput(b.body)) unmarked.push(where);
          continue;
        }
        if (o.list) {
          process.stdout.write(`${where}  ${b.marker.kind}  ${b.marker.kind === 'run' ? b.marker.attrs.cmd : b.marker.attrs.reason}\n`);
          continue;
        }
        if (b.marker.kind !== 'run') continue;
        if (onlyLine && Number(onlyLine) !== b.open + 1 && Number(onlyLine) !== b.marker.line) continue;
        const t0 = Date.now();
        process.stderr.write(`docs: ${where} ${b.marker.attrs.cmd} ... `);
        let res;
        try {
          res = await runBlock(b.marker.attrs, env, cache);
        } catch (e) {
          process.stderr.write('FAILED\n');
          failures.push(`${where}: ${e.message}`);
          continue;
        }
        ran++;
        process.stderr.write(`${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
        timings.set(b.marker.line - 1, res);
        if (o.check) {
          if (b.marker.attrs.check === 'off') continue;
          const d = lineDiff(normalise(b.body.join('\n')), normalise(res.lines.join('\n')));
          if (d.onlyA.length || d.onlyB.length) {
            const show = (xs, sign) => xs.slice(0, 4).map((l) => `    ${sign} ${l.slice(0, 110)}`);
            differs.push([`${where}: ${b.marker.attrs.cmd}`, ...show(d.onlyA, '-'), ...show(d.onlyB, '+')].join('\n'));
          }
          continue;
        }
        replacements.push({ b, body: res.lines });
      }
      if (o.check || o.list) continue;
      // Inline markers first (prose only, line count unchanged), then the blocks from the bottom up.
      const runLines = scan.blocks.filter((b) => b.marker?.kind === 'run').map((b) => b.marker.line - 1);
      const filled = fillInline(lines.join('\n'), runLines, timings, onlyFile ? null : date).split('\n');
      for (const { b, body } of replacements.reverse()) {
        filled.splice(b.open + 1, b.close - b.open - 1, ...body.map((l) => (l === '' ? '' : b.indent + l)));
      }
      const text = filled.join('\n');
      if (text !== original) {
        const tmp = `${file}.docs-tmp-${process.pid}`;
        writeFileSync(tmp, text);
        renameSync(tmp, file);
        process.stderr.write(`docs: wrote ${rel}\n`);
      }
    }
  } finally {
    cleanup();
  }
  const secs = ((Date.now() - started) / 1000).toFixed(1);
  if (unmarked.length) process.stderr.write(`docs: ${unmarked.length} lbdiag output block(s) without a marker (lbdiag:run or lbdiag:static):\n  ${unmarked.join('\n  ')}\n`);
  if (differs.length) process.stderr.write(`docs: ${differs.length} block(s) differ from a fresh run in their stable part:\n${differs.join('\n')}\n`);
  if (failures.length) process.stderr.write(`docs: ${failures.length} block(s) failed (left as they were):\n  ${failures.join('\n  ')}\n`);
  if (!o.list) process.stderr.write(`docs: ${ran} block(s) run in ${secs} s${o.check ? ', nothing written (--check)' : ''}\n`);
  process.exitCode = failures.length || unmarked.length || differs.length ? 1 : 0;
}

// Run as a script (`node scripts/docs.js`), not when imported by test/docs-run.test.ts.
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
