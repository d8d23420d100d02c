/**
 * Golden findings for the probe's analyse(): every finding's id, severity, title, evidence,
 * explanation, remedy and metrics, in analyse()'s own order, for hand-made tallies (one or more
 * per finding id, and quiet ones) and for tallies rebuilt from real `--records` runs
 * (test/fixtures-probe/). The golden file was written by the code before the detectors moved to
 * src/probe/detectors/, so this test proves the move changed no finding byte.
 * Regenerate only for an intended change: LBDIAG_UPDATE_GOLDEN=1 node --test dist/test/probe.golden.test.js
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { analyse, type AnalyseOptions } from '../src/probe/analyse.js';
import type { ModeTally } from '../src/probe/tally.js';
import { ROOT } from './support/processes.js';
import { keepalive, lcg, randomSchedule, rec, short, talliesFromRecords, type RecordedModeFacts } from './support/probe-tallies.js';
import { ModeTally as Tally } from '../src/probe/tally.js';

const DIR = path.join(ROOT, 'test', 'fixtures-probe');
const GOLDEN = path.join(DIR, 'golden-findings.json');
const names = ['a', 'b', 'c'];

interface Scenario {
  name: string;
  modes: () => ModeTally[];
  options?: AnalyseOptions;
}

function lateOnPool(): ModeTally {
  const t = new Tally('keepalive');
  t.startT = 0;
  for (let i = 0; i < 1000; i++) {
    const late = i >= 600 && i % 40 === 0;
    t.add(rec('keepalive', { t: i, conn: (i % 8) + 1, reused: i >= 8, seq: Math.floor(i / 8) + 1, backend: late ? 'c' : names[i % 2] }));
  }
  t.connectionsOpened = 9;
  t.endT = 1000;
  return t;
}

function churnOnePerConn(): ModeTally {
  const t = new Tally('keepalive');
  t.startT = 0;
  t.lanes = 4;
  for (let i = 0; i < 100; i++) t.add(rec('keepalive', { t: i, order: i, conn: i + 1, port: 41000 + i, backend: names[i % 2] }));
  t.connectionsOpened = 100;
  t.endT = 100;
  return t;
}

function withMode(t: ModeTally, mode: 'rotate'): ModeTally {
  (t as { mode: string }).mode = mode;
  return t;
}

const SCENARIOS: Scenario[] = [
  { name: 'pinned keep-alive, short spread over 3', modes: () => [keepalive(4, 50, (c) => names[(c - 1) % 3]), short(150, (i) => names[i % 3])] },
  {
    name: 'per-request balancing with l7 signals',
    modes: () => {
      let sc = 0;
      return [keepalive(4, 30, (c, s) => names[(c + s) % 3], () => ({ serverConn: String(++sc), serverSeq: 1 })), short(90, (i) => names[i % 3], () => ({ forwarded: ['X-Forwarded-For'] }))];
    },
  },
  { name: 'two requests per connection over 2', modes: () => [keepalive(4, 2, (c) => names[c % 2]), short(40, (i) => names[i % 2])] },
  { name: 'skewed short 6:2:2', modes: () => [short(300, (i) => (i % 10 < 6 ? 'a' : i % 10 < 8 ? 'b' : 'c'))] },
  { name: 'skewed short with matching weights', modes: () => [short(300, (i) => (i % 10 < 6 ? 'a' : i % 10 < 8 ? 'b' : 'c'))], options: { weights: new Map([['a', 3], ['b', 1], ['c', 1]]) } },
  { name: 'fair short with weights 3:1:1', modes: () => [short(300, (i) => names[i % 3])], options: { weights: new Map([['a', 3], ['b', 1], ['c', 1]]) } },
  { name: 'fair short', modes: () => [short(300, (i) => names[i % 3])] },
  { name: 'fair short, alpha 0.5', modes: () => [short(299, (i) => (i % 7 === 0 ? 'a' : names[i % 3]))], options: { alpha: 0.5 } },
  { name: 'nine requests over 3', modes: () => [short(9, (i) => (i < 7 ? 'a' : i === 7 ? 'b' : 'c'))] },
  { name: 'single backend', modes: () => [short(50, () => 'a')] },
  { name: 'single backend, --expect 1', modes: () => [short(50, () => 'a')], options: { expect: 1 } },
  { name: 'single backend, --expect-backends a', modes: () => [short(50, () => 'a')], options: { expectBackends: ['a'] } },
  { name: 'two of three expected backends (names)', modes: () => [short(60, (i) => names[i % 2])], options: { expectBackends: ['a', 'b', 'c', 'd'] } },
  { name: 'two of three expected backends (count)', modes: () => [short(60, (i) => names[i % 2])], options: { expect: 3 } },
  { name: 'three of three expected', modes: () => [short(60, (i) => names[i % 3])], options: { expect: 3 } },
  { name: 'nothing answered, --expect 2', modes: () => [short(20, () => undefined, () => ({ status: undefined, error: 'refused', phase: 'connect' }))], options: { expect: 2, expectBackends: undefined } },
  { name: 'late backend on the pool', modes: () => [lateOnPool()] },
  { name: 'fair pool from the start', modes: () => [keepalive(6, 50, (c) => names[c % 3])] },
  { name: 'late backend never on a large pool', modes: () => [keepalive(8, 20, (c) => names[c % 2]), short(90, (i) => names[i % 3], undefined, 5000)] },
  { name: 'late backend, small pool', modes: () => [keepalive(2, 20, (c) => names[c % 2]), short(90, (i) => names[i % 3], undefined, 5000)] },
  { name: 'stale instance with start times', modes: () => [short(40, () => 'a', (i) => (i % 2 ? { instance: 'old1', pid: 100, started: 1_700_000_000_000 } : { instance: 'new2', pid: 200, started: 1_700_000_060_000 }))] },
  { name: 'workers of one generation', modes: () => [short(40, () => 'a', (i) => ({ instance: 'gen1', pid: 100 + (i % 2), started: 1_700_000_000_000 }))] },
  { name: 'clean handover', modes: () => [short(40, () => 'a', (i) => (i < 20 ? { instance: 'old1', pid: 100, started: 1000 } : { instance: 'new2', pid: 200, started: 5000 }))] },
  { name: 'drain on keep-alive', modes: () => [keepalive(2, 20, () => 'a', (c, s) => ({ instance: c === 1 || s < 5 ? 'old1' : 'new2', started: c === 1 || s < 5 ? 1000 : 5000 }))] },
  { name: 'instances without start times', modes: () => [short(40, () => 'a', (i) => ({ instance: i % 2 ? 'w1' : 'w2', pid: 100 + (i % 2) }))] },
  {
    name: 'many instances over two modes',
    modes: () => [
      keepalive(3, 20, (c) => names[c % 2], (c, s) => ({ instance: `k${(c + s) % 8}`, pid: 10 + ((c + s) % 8), started: 1000 * ((c + s) % 8) })),
      short(80, (i) => names[i % 2], (i) => ({ instance: `k${i % 8}`, pid: 10 + (i % 8), started: 1000 * (i % 8) }), 5000),
    ],
  },
  { name: 'lockstep round robin over 2', modes: () => [keepalive(4, 30, () => names[0], (c) => ({ backend: names[(c - 1) % 2] })), short(60, (i) => names[i % 2])] },
  ...[2, 3].flatMap((k) => [2, 3, 4, 6].map((c): Scenario => ({ name: `random schedule round robin k=${k} c=${c}`, modes: () => [randomSchedule(c, 40 * c, (_c, order) => names[order % k], c * 7 + k)] }))),
  { name: 'random schedule through L4', modes: () => [randomSchedule(4, 120, (conn) => names[conn % 2], 3)] },
  ...[4, 8].map((n): Scenario => ({ name: `pinned VIP with -n ${n}`, modes: () => [randomSchedule(4, n, (conn) => names[conn % 2], n), short(n, (i) => names[i % 2])] })),
  { name: 'pinned VIP with enough data', modes: () => [randomSchedule(4, 200, (conn) => names[conn % 2]), short(200, (i) => names[i % 2])] },
  { name: 'six answers from one backend', modes: () => [short(6, () => 'a')] },
  {
    name: 'random half fails (503 without identity)',
    modes: () => {
      const rnd = lcg(7);
      return [short(200, (i) => (i % 2 ? 'a' : 'b'), () => (rnd() < 0.5 ? { status: 503, backend: undefined } : {}))];
    },
  },
  { name: 'every third fails with identity', modes: () => [short(90, (i) => names[i % 3], (i) => (i % 3 === 2 ? { status: 502 } : {}))] },
  { name: 'all refused', modes: () => [short(20, () => undefined, () => ({ status: undefined, error: 'refused', phase: 'connect' }))] },
  { name: 'idle timeout reset', modes: () => [keepalive(2, 30, (c) => names[c - 1], (c, s) => (s > 1 && s % 10 === 0 ? { status: undefined, backend: undefined, error: 'reset', phase: 'response', idleMs: 5000 } : {}))] },
  { name: 'idle timeout reset in rotate mode', modes: () => [withMode(keepalive(3, 30, (c) => names[c - 1], (c, s) => (s > 1 && s % 7 === 0 ? { status: undefined, backend: undefined, error: 'closed', phase: 'response', idleMs: 61000 } : {})), 'rotate')] },
  { name: 'connects near 1 s and 3 s', modes: () => [short(100, (i) => names[i % 3], (i) => (i % 10 === 0 ? { connectMs: 1003 + i, totalMs: 1006 + i } : i === 5 ? { connectMs: 3010, totalMs: 3012 } : {}))] },
  { name: 'connects near 7 s', modes: () => [short(60, (i) => names[i % 3], (i) => (i % 6 === 0 ? { connectMs: 7003, totalMs: 7006 } : {}))] },
  { name: 'uniformly slow path', modes: () => [short(30, () => 'a', () => ({ connectMs: 1000, ttfbMs: 1000, totalMs: 2000 }))] },
  {
    name: 'connection churn',
    modes: () => {
      const t = keepalive(2, 10, () => 'a');
      t.connectionsOpened = 10;
      return [t];
    },
  },
  { name: 'no backend identity', modes: () => [short(30, () => undefined)] },
  { name: 'dead member, slow periodic closes', modes: () => [short(200, (i) => (i % 4 === 3 ? undefined : names[i % 3]), (i) => (i % 4 === 3 ? { status: undefined, error: 'closed', phase: 'response', totalMs: 3005, ttfbMs: undefined } : {}))] },
  {
    name: 'stale listener, fast random 503s',
    modes: () => {
      const rnd = lcg(11);
      return [short(200, (i) => names[i % 3], () => (rnd() < 0.5 ? { status: 503, backend: undefined } : {}))];
    },
  },
  {
    name: 'refused and reset at the VIP, fast, random',
    modes: () => {
      const rnd = lcg(5);
      return [short(240, (i) => names[i % 3], () => (rnd() < 0.25 ? (rnd() < 0.5 ? { status: undefined, backend: undefined, error: 'refused', phase: 'connect' } : { status: undefined, backend: undefined, error: 'reset', phase: 'response' }) : {}))];
    },
  },
  { name: 'rare errors (under 1%)', modes: () => [short(400, (i) => names[i % 3], (i) => (i === 17 ? { status: 500 } : {}))] },
  { name: 'one connection per request in keep-alive mode', modes: () => [churnOnePerConn()] },
  {
    name: 'local port exhaustion, with facts',
    modes: () => [short(120, (i) => names[i % 3], (i) => (i % 5 === 4 ? { status: undefined, backend: undefined, error: 'no-local-port', phase: 'connect', port: 0 } : i % 13 === 0 ? { status: 503, backend: undefined } : {}))],
    options: { localPorts: { target: '10.0.0.10:80', range: [32768, 60999], twReuse: 2, timeWaitToTarget: 28000, timeWaitAll: 28100, closingToTarget: 0, close: 'client' } },
  },
  { name: 'local port exhaustion, no facts', modes: () => [short(50, (i) => names[i % 2], () => ({ status: undefined, backend: undefined, error: 'no-local-port', phase: 'connect', port: 0 }))] },
  { name: 'no requests at all', modes: () => [short(0, () => 'a')] },
];

function recordedScenarios(): Scenario[] {
  const runs = JSON.parse(fs.readFileSync(path.join(DIR, 'runs.json'), 'utf8')) as Record<string, { records: string; options: AnalyseOptions; modes: Record<string, RecordedModeFacts> }>;
  return Object.entries(runs).map(([name, r]) => ({ name: `recorded ${name}`, modes: () => talliesFromRecords(path.join(DIR, r.records), r.modes), options: r.options }));
}

/** JSON that keeps what JSON.stringify would blur (NaN, ±Infinity, -0) distinct. */
function stable(value: unknown): unknown {
  return JSON.parse(JSON.stringify(value, (_k, v: unknown) => (typeof v === 'number' && (!Number.isFinite(v) || Object.is(v, -0)) ? `number:${String(Object.is(v, -0) ? '-0' : v)}` : v)));
}

function current(): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const s of [...SCENARIOS, ...recordedScenarios()]) {
    assert.ok(!(s.name in out), `duplicate scenario ${s.name}`);
    out[s.name] = stable(analyse(s.modes(), s.options));
  }
  return out;
}

test('analyse() gives the golden findings, byte for byte and in order, on hand-made and recorded tallies', () => {
  const now = current();
  if (process.env.LBDIAG_UPDATE_GOLDEN === '1') fs.writeFileSync(GOLDEN, `${JSON.stringify(now, null, 1)}\n`);
  const golden = JSON.parse(fs.readFileSync(GOLDEN, 'utf8')) as Record<string, unknown>;
  assert.deepEqual(Object.keys(now), Object.keys(golden));
  for (const name of Object.keys(golden)) assert.deepEqual(now[name], golden[name], name);
});

test('the golden scenarios raise every probe finding id at least once', () => {
  const golden = JSON.parse(fs.readFileSync(GOLDEN, 'utf8')) as Record<string, { id: string }[]>;
  const ids = new Set(Object.values(golden).flatMap((fs) => fs.map((f) => f.id)));
  const expected = ['keepalive-pinning', 'imbalance', 'single-backend', 'backend-missing', 'late-backend-starved', 'stale-instance', 'backend-restarted', 'local-port-exhaustion', 'all-failing', 'intermittent-errors', 'idle-timeout-reset', 'stall-1s', 'l7-proxy', 'connection-churn', 'no-backend-identity', 'insufficient-data'];
  assert.deepEqual(expected.filter((id) => !ids.has(id)), []);
});

test('tallies rebuilt from the recorded runs give the findings those runs printed', () => {
  const runs = JSON.parse(fs.readFileSync(path.join(DIR, 'runs.json'), 'utf8')) as Record<string, { records: string; options: AnalyseOptions; modes: Record<string, RecordedModeFacts>; findingsThen: string[] }>;
  for (const [name, r] of Object.entries(runs)) {
    const ids = analyse(talliesFromRecords(path.join(DIR, r.records), r.modes), r.options).map((f) => f.id);
    assert.deepEqual(ids.sort(), [...r.findingsThen].sort(), name);
  }
});
