/**
 * source-affinity over real sockets: lbdiag probe --source 127.0.0.20-127.0.0.29 through real
 * haproxy `balance source` (raised, with p-value and matrix) and `balance roundrobin` (not raised);
 * plus the independence test on hand-made tables and its too-little-data rule.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { startHaproxy, haproxyInstalled } from '../src/lab/balancers/index.js';
import { independenceTest, sourceAffinity } from '../src/probe/detectors/source-affinity.js';
import { ModeTally } from '../src/probe/tally.js';
import { freePort, runLbdiag } from './support/processes.js';
import { LB_HOST, startBackends } from './balancers-backends.js';
import type { NameServer } from '../src/lab/name-server.js';

test('independence test: a diagonal table is dependent, a uniform one is not', () => {
  const diag = independenceTest([[10, 0, 0], [0, 10, 0], [0, 0, 10], [10, 0, 0]]);
  assert.equal(diag.df, 6);
  assert.ok(diag.pValue < 1e-10, String(diag.pValue));
  assert.ok(Math.abs(diag.cramersV - 1) < 1e-9);
  const flat = independenceTest([[5, 5, 5], [5, 5, 5], [5, 5, 5]]);
  assert.equal(flat.statistic, 0);
  assert.equal(flat.pValue, 1);
});

function shortTally(sources: string[], perSource: number, backendOf: (src: string, i: number) => string): ModeTally {
  const t = new ModeTally('short');
  let conn = 1;
  for (let i = 0; i < perSource; i++) for (const src of sources) t.add({ mode: 'short', t: conn, conn: conn++, port: 40000, addr: '127.0.0.1', src, reused: false, seq: 1, totalMs: 1, status: 200, backend: backendOf(src, i) });
  return t;
}

test('rule: never raised with 2 sources or thin tables; raised with 3 sources and enough connections', () => {
  const pin = (src: string): string => `b${Number(src.split('.')[3]) % 3}`;
  assert.equal(sourceAffinity(shortTally(['127.0.0.20', '127.0.0.21'], 50, pin)).finding, undefined);
  const thin = sourceAffinity(shortTally(['127.0.0.20', '127.0.0.21', '127.0.0.22'], 3, pin));
  assert.equal(thin.finding, undefined);
  assert.ok(thin.undecided && thin.undecided.needed > thin.undecided.have);
  // 10 per source over 3 backends: expected 3.3 per cell, below Cochran's rule (undecided); 20: decided.
  assert.equal(sourceAffinity(shortTally(['127.0.0.20', '127.0.0.21', '127.0.0.22'], 10, pin)).finding, undefined);
  const ok = sourceAffinity(shortTally(['127.0.0.20', '127.0.0.21', '127.0.0.22'], 20, pin));
  assert.equal(ok.finding?.id, 'source-affinity');
  // Spread evenly regardless of source: no finding.
  assert.equal(sourceAffinity(shortTally(['127.0.0.20', '127.0.0.21', '127.0.0.22'], 30, (_s, i) => `b${i % 3}`)).finding, undefined);
});

let backends: NameServer[] = [];
before(async () => {
  backends = await startBackends(3);
});
after(async () => {
  await Promise.all(backends.map((b) => b.stop()));
});

async function probeThrough(balance: string): Promise<{ code: number; json: { findings: { id: string; metrics?: Record<string, unknown> }[]; modes: { short: { sources: { source: string; connectionBackends: Record<string, number> }[] } } }; human: string }> {
  const port = await freePort(LB_HOST);
  const lb = await startHaproxy({ mode: 'tcp', listen: { host: LB_HOST, port }, backends, balance });
  try {
    const args = ['probe', `${LB_HOST}:${port}`, '--mode', 'short', '-n', '200', '--source', '127.0.0.20-127.0.0.29'];
    const j = await runLbdiag([...args, '--json'], { timeoutMs: 60_000 });
    assert.ok(j.code === 0 || j.code === 1, j.stderr);
    const h = await runLbdiag(args, { timeoutMs: 60_000, env: { ...process.env, NO_COLOR: '1' } });
    return { code: j.code, json: JSON.parse(j.stdout), human: h.stdout };
  } finally {
    await lb.stop();
  }
}

test('haproxy balance source, 10 source addresses: source-affinity with its p-value and the matrix', async (t) => {
  if (!haproxyInstalled()) return t.skip('haproxy not installed');
  const r = await probeThrough('source');
  const f = r.json.findings.find((x) => x.id === 'source-affinity');
  assert.ok(f, r.json.findings.map((x) => x.id).join(','));
  assert.ok((f.metrics!.pValue as number) < 1e-3);
  assert.equal(f.metrics!.sources, 10);
  const rows = r.json.modes.short.sources;
  assert.equal(rows.length, 10);
  for (const row of rows) assert.equal(Object.keys(row.connectionBackends).length, 1, JSON.stringify(row));
  assert.match(r.human, /source x backend/);
  assert.match(r.human, /127\.0\.0\.29/);
  assert.match(r.human, /source-affinity .*p = /);
});

test('haproxy roundrobin, short connections from 10 sources: no source-affinity', async (t) => {
  if (!haproxyInstalled()) return t.skip('haproxy not installed');
  const r = await probeThrough('roundrobin');
  assert.ok(!r.json.findings.some((x) => x.id === 'source-affinity'), JSON.stringify(r.json.findings.map((x) => x.id)));
  const reached = r.json.modes.short.sources.filter((row) => Object.keys(row.connectionBackends).length > 1).length;
  assert.ok(reached >= 8, `${reached} of 10 sources reached several backends`);
});
