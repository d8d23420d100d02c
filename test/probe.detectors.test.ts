/**
 * The detector core (src/core/detector.ts) and the probe's registry (src/probe/detectors/): the
 * result shapes flatten in order, per-mode detectors keep a mode's findings together, detectors
 * leave their input as it was and give the same answer twice, every detector file is in the
 * registry, and no code outside src/core/finding.ts orders findings by itself.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { findingsOf, runDetectors, type Detector } from '../src/core/detector.js';
import type { Finding } from '../src/core/finding.js';
import { analyse } from '../src/probe/analyse.js';
import { eachMode, probeContext, type ModeDetector } from '../src/probe/detectors/context.js';
import { PROBE_DETECTORS } from '../src/probe/detectors/index.js';
import { DETECTORS as PCAP_DETECTORS } from '../src/pcap/detectors/index.js';
import { ROOT } from './support/processes.js';
import { keepalive, lcg, short } from './support/probe-tallies.js';

const f = (id: string, extra: Partial<Finding> = {}): Finding => ({ id, severity: 'info', title: id, evidence: [], explanation: '', remedy: '', ...extra });

test('runDetectors flattens one, several and no findings in registry order', () => {
  const ds: Detector<number, string>[] = [(n) => f(`one-${n}`), () => null, (_n, ctx) => [f(`a-${ctx}`), f(`b-${ctx}`)], () => []];
  assert.deepEqual(runDetectors(ds, 7, 'x').map((x) => x.id), ['one-7', 'a-x', 'b-x']);
  assert.deepEqual(findingsOf(null), []);
  const list = [f('z')];
  const copy = findingsOf(list);
  assert.deepEqual(copy, list);
  assert.notEqual(copy, list); // a copy: the caller may push onto it
});

test('eachMode runs its detectors mode by mode, so a mode\'s findings stay together', () => {
  const modes = [keepalive(2, 3, () => 'a'), short(5, () => 'a')];
  const first: ModeDetector = (m) => f('first', { mode: m.mode });
  const second: ModeDetector = (m) => (m.mode === 'short' ? [f('second', { mode: m.mode }), f('third', { mode: m.mode })] : null);
  const out = findingsOf(eachMode(first, second)(modes, probeContext(modes, {})));
  assert.deepEqual(out.map((x) => `${x.mode}:${x.id}`), ['keepalive:first', 'short:first', 'short:second', 'short:third']);
});

test('probe detectors leave the tallies as they were and give the same findings twice', () => {
  const rnd = lcg(3);
  const modes = [
    keepalive(4, 30, (c) => ['a', 'b', 'c'][c % 3], (c, s) => (s % 9 === 0 ? { status: undefined, backend: undefined, error: 'reset', phase: 'response', idleMs: 5000 } : { instance: `i${c % 2}`, started: 1000 * (c % 2) })),
    short(200, (i) => ['a', 'b', 'c'][i % 3], (i) => (rnd() < 0.1 ? { status: 503, backend: undefined } : i % 7 === 0 ? { status: undefined, backend: undefined, error: 'no-local-port', phase: 'connect', port: 0 } : { connectMs: i % 10 === 0 ? 1004 : 0.4 })),
  ];
  const before = structuredClone(modes);
  const once = analyse(modes, { expect: 4 });
  assert.ok(once.length >= 3, once.map((x) => x.id).join(','));
  assert.deepEqual(structuredClone(modes), before);
  assert.deepEqual(analyse(modes, { expect: 4 }), once);
  // Each detector on its own, twice: same answer (pcap relies on this for its own detectors).
  const ctx = probeContext(modes, { expect: 4 });
  for (const d of PROBE_DETECTORS) assert.deepEqual(findingsOf(d(modes, ctx)), findingsOf(d(modes, ctx)));
  assert.deepEqual(structuredClone(modes), before);
});

test('the probe registry ends with insufficient-data and every detector file is wired in', () => {
  assert.ok(PROBE_DETECTORS.length >= 13);
  assert.ok(PCAP_DETECTORS.length >= 4);
  const dir = path.join(ROOT, 'src', 'probe', 'detectors');
  const index = fs.readFileSync(path.join(dir, 'index.ts'), 'utf8');
  // Files that raise a finding (an `id: '...', severity:` literal) must be imported by the registry.
  for (const file of fs.readdirSync(dir).filter((n) => n.endsWith('.ts') && n !== 'index.ts')) {
    const text = fs.readFileSync(path.join(dir, file), 'utf8');
    if (!/\bid: '[a-z0-9-]+',\s*severity:/.test(text)) continue;
    assert.match(index, new RegExp(`from '\\./${file.replace(/\.ts$/, '')}\\.js'`), `${file} raises findings but is not in detectors/index.ts`);
  }
  const last = PROBE_DETECTORS[PROBE_DETECTORS.length - 1];
  const ctx = probeContext([short(4, () => 'a')], {});
  assert.equal(findingsOf(last([short(4, () => 'a')], ctx))[0]?.id, 'insufficient-data');
});

test('findings are ordered in one place: nothing outside src/core/finding.ts sorts them by itself', () => {
  const offenders: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts') && p !== path.join(ROOT, 'src', 'core', 'finding.ts')) {
        const text = fs.readFileSync(p, 'utf8');
        if (/severityRank\(/.test(text) || /findings\]?\)?\.sort\(/.test(text)) offenders.push(path.relative(ROOT, p));
      }
    }
  };
  walk(path.join(ROOT, 'src'));
  assert.deepEqual(offenders, []);
});

test('once the JSON envelope builder exists, only src/core/ calls sortFindings (no command sorts on its own)', (t) => {
  // The envelope (src/core/envelope.ts, branch `envelope`) sorts for --json and core/render.ts for
  // humans; before that branch is merged, probe/run.ts and pcap/json.ts still sort themselves.
  if (!fs.existsSync(path.join(ROOT, 'src', 'core', 'envelope.ts'))) return t.skip('src/core/envelope.ts not merged yet');
  const callers: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith('.ts') && /\bsortFindings\(/.test(fs.readFileSync(p, 'utf8'))) callers.push(path.relative(ROOT, p));
    }
  };
  walk(path.join(ROOT, 'src'));
  assert.deepEqual(callers.filter((p) => !p.startsWith(`src${path.sep}core${path.sep}`)), []);
});

test('backend-missing: --expect and --expect-backends together both apply (the count is not dropped when names are given)', () => {
  const modes = [short(60, (i) => ['a', 'b'][i % 2])];
  // Both named backends answered, but 3 were expected: the count still speaks.
  const count = analyse(modes, { expect: 3, expectBackends: ['a', 'b'] }).filter((f) => f.id === 'backend-missing');
  assert.equal(count.length, 1);
  assert.match(count[0].title, /2 of 3 expected backends answered/);
  // A named backend missing explains the shortfall: one finding, for that name, not a second for the count.
  const named = analyse(modes, { expect: 3, expectBackends: ['a', 'b', 'c'] }).filter((f) => f.id === 'backend-missing');
  assert.deepEqual(named.map((f) => f.backend), ['c']);
});
