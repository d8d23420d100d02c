/**
 * The finding catalog (src/core/catalog.ts) is the one list of finding ids: every id the source
 * can emit is in it with the severities the source gives it, every catalog id is emitted somewhere,
 * the README's finding tables list exactly the catalog's ids, and the help texts name only
 * catalogued ids (the probe's help all of its own). Real outputs are checked against the catalog
 * in test/schema.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { CATALOG, catalogEntry } from '../src/core/catalog.js';
import { SEVERITIES, type Severity } from '../src/core/finding.js';
import { ROOT, runLbdiag } from './support/processes.js';

function sourceFiles(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sourceFiles(p) : e.name.endsWith('.ts') ? [p] : [];
  });
}

/**
 * Finding literals in the source: `id: 'kebab-id'` or `id: CONSTANT` followed within two lines by
 * `severity: ...` (a finding object; candidate records such as `{ id: 'dead-member', score }` are
 * not findings). Constants resolve through any `const NAME = 'kebab-id'` in src/.
 */
function emittedInSource(): Map<string, { severities: Set<Severity>; files: Set<string> }> {
  const files = sourceFiles(path.join(ROOT, 'src'));
  const texts = new Map(files.map((f) => [f, fs.readFileSync(f, 'utf8')]));
  const consts = new Map<string, string>();
  for (const t of texts.values()) for (const m of t.matchAll(/const ([A-Z][A-Z0-9_]*) = '([a-z0-9]+(?:-[a-z0-9]+)*)';/g)) consts.set(m[1], m[2]);
  const out = new Map<string, { severities: Set<Severity>; files: Set<string> }>();
  const re = /\bid: (?:'([a-z0-9]+(?:-[a-z0-9]+)*)'|([A-Z][A-Z0-9_]*)),[^\n]*\n(?:[^\n]*\n){0,2}?\s*severity: ([^\n]*)/g;
  for (const [file, t] of texts) {
    for (const m of t.matchAll(re)) {
      const id = m[1] ?? consts.get(m[2]);
      assert.ok(id, `${path.relative(ROOT, file)}: finding id constant ${m[2]} not found as const ${m[2]} = '...'`);
      const e = out.get(id) ?? { severities: new Set<Severity>(), files: new Set<string>() };
      for (const s of m[3].matchAll(/'(info|warn|error)'/g)) e.severities.add(s[1] as Severity);
      e.files.add(path.relative(ROOT, file));
      out.set(id, e);
    }
  }
  return out;
}

test('every finding id in the source is in the catalog, with its severities; every catalog id is emitted', () => {
  const emitted = emittedInSource();
  assert.ok(emitted.size >= 15, `the scan found ${emitted.size} finding ids: the pattern no longer matches how findings are written`);
  for (const [id, { severities, files }] of emitted) {
    const e = catalogEntry(id);
    assert.ok(e, `finding id ${id} (${[...files].join(', ')}) is missing from src/core/catalog.ts`);
    for (const s of severities) assert.ok(e.severities.includes(s), `${id} can be ${s} (${[...files].join(', ')}); the catalog says ${e.severities.join(', ')}`);
    if ([...files].some((f) => f.startsWith('src/pcap/'))) assert.ok(e.sources.includes('pcap'), `${id} is raised by pcap`);
    if ([...files].some((f) => f.startsWith('src/probe/'))) assert.ok(e.sources.includes('probe'), `${id} is raised by probe`);
  }
  for (const e of CATALOG) assert.ok(emitted.has(e.id), `catalog id ${e.id} is emitted nowhere in src/ (remove it, or fix the scan)`);
});

test('the catalog is well formed: unique ids, severities in order, aliases not emitted', () => {
  const ids = CATALOG.map((e) => e.id);
  assert.equal(new Set(ids).size, ids.length, 'unique ids');
  const emitted = emittedInSource();
  for (const e of CATALOG) {
    assert.match(e.id, /^[a-z0-9]+(-[a-z0-9]+)*$/);
    assert.ok(e.severities.length > 0 && e.sources.length > 0 && e.summary.length > 0, e.id);
    const ranks = e.severities.map((s) => SEVERITIES.indexOf(s));
    assert.deepEqual(ranks, [...ranks].sort((a, b) => a - b), `${e.id}: severities mildest first`);
    for (const a of e.aliases ?? []) {
      // An alias is a former id in that source: the source no longer emits it (another source may own the id).
      const now = catalogEntry(a.id);
      assert.ok(!now || !now.sources.includes(a.source), `${e.id}: alias ${a.id} is still a ${a.source} id`);
      const files = [...(emitted.get(a.id)?.files ?? [])];
      assert.ok(!files.some((f) => f.startsWith(`src/${a.source}/`)), `${a.id} is still emitted by ${a.source} (${files.join(', ')})`);
    }
  }
});

test("the README's finding tables list exactly the catalog's ids, and name every alias beside its new id", () => {
  const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
  const start = readme.indexOf('<!-- section:findings -->');
  const end = readme.indexOf('<!-- /section:findings -->');
  assert.ok(start >= 0 && end > start, 'README has the findings section');
  const section = readme.slice(start, end);
  const rows = [...section.matchAll(/^\| `([a-z0-9-]+)` \|(.*)$/gm)];
  const listed = rows.map((m) => m[1]);
  assert.equal(new Set(listed).size, listed.length, `an id listed twice: ${listed.join(', ')}`);
  const catalog = CATALOG.map((e) => e.id);
  for (const id of catalog) assert.ok(listed.includes(id), `README finding tables lack ${id}`);
  for (const id of listed) assert.ok(catalog.includes(id), `README lists ${id}, which the catalog lacks`);
  for (const e of CATALOG) {
    for (const a of e.aliases ?? []) {
      const row = rows.find((m) => m[1] === e.id)!;
      assert.ok(row[2].includes(`\`${a.id}\``), `README row of ${e.id} names its former id ${a.id}`);
    }
  }
});

test('help texts name only catalogued ids, and probe --help every probe id', async () => {
  for (const cmd of ['probe', 'pcap']) {
    const r = await runLbdiag([cmd, '--help'], { timeoutMs: 20_000 });
    assert.equal(r.code, 0, r.stderr);
    const para = /Finding(?:s \(stable ids\)| ids):([\s\S]*?)\n(?:[A-Z][a-z]+ [a-z]+|Exit codes)/.exec(r.stdout);
    assert.ok(para, `${cmd} --help has its finding list`);
    // The list items: comma-separated ids (prose around them is not an item).
    const named = para[1].split(/[,;()]|\.(?:\s|$)/).map((x) => x.trim()).filter((x) => /^[a-z0-9]+(-[a-z0-9]+)*$/.test(x));
    assert.ok(named.length >= 4, `${cmd} --help: ${named.join(', ')}`);
    for (const id of named) assert.ok(catalogEntry(id), `${cmd} --help names ${id}, not in the catalog`);
    if (cmd === 'probe') for (const e of CATALOG.filter((x) => x.sources.includes('probe'))) assert.ok(named.includes(e.id), `probe --help lacks ${e.id}`);
  }
});
