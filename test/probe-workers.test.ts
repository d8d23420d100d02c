/**
 * `probe --workers`: the engine in worker threads, one report. Verdicts through real balancers are
 * those of one thread (haproxy mode tcp still raises keepalive-pinning; nginx proxy_pass round robin
 * does not), dispatch orders and connection numbers are run-wide, --records and --json hold every
 * request once, Ctrl-C gathers every worker's part, a crashed worker is a one-line error (exit 2)
 * with the others' results printed. Backends on 127.0.44.x.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { hostnameBackends as hostnameBackendsOn, keepBalancer, stopAfterAll } from './support/balancer-fixtures.js';
import { startHaproxy, startNginx, haproxyInstalled, nginxInstalled, type Balancer, type BackendTarget } from '../src/lab/balancers/index.js';
import { runProbeWorkers, shareOptions, parseWorkers } from '../src/probe/workers.js';
import type { ProbeReport } from '../src/probe/summary.js';
import { startWhoami } from '../src/whoami/server.js';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { ROOT, freePort, runLbdiag, startLbdiag } from './support/processes.js';

const stoppers = stopAfterAll();
const hostnameBackends = (n: number, first: number): Promise<BackendTarget[]> => hostnameBackendsOn(stoppers, '127.0.44', n, first);
const balancer = (b: Promise<Balancer>): Promise<Balancer> => keepBalancer(stoppers, b);

const ids = (r: ProbeReport) => r.findings.map((f) => f.id);

async function waitFor(cond: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`condition not met in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

test('--workers: shares of -c, -n and --rate add up; keep-alive gives each worker two connections or more', () => {
  assert.equal(parseWorkers('auto'), Math.min(64, os.availableParallelism()));
  assert.equal(parseWorkers('3'), 3);
  for (const bad of ['0', '-1', '1.5', 'x', '65']) assert.throws(() => parseWorkers(bad), /invalid --workers/);
  const s = shareOptions({ target: 'x', concurrency: 50, requests: 1001, rate: 300 }, 'short', 2);
  assert.deepEqual(s.map((o) => o.concurrency), [25, 25]);
  assert.equal(s.reduce((a, o) => a + o.requests!, 0), 1001);
  assert.ok(Math.abs(s.reduce((a, o) => a + o.rate!, 0) - 300) < 1e-9);
  // Paced: worker i starts its lanes i/n of a lane step later, so 2 workers' lanes interleave (not fire in pairs).
  assert.deepEqual(s.map((o) => o.pacePhase), [0, 0.5]);
  assert.deepEqual(shareOptions({ target: 'x', concurrency: 9, requests: 90, intervalMs: 100 }, 'short', 3).map((o) => o.pacePhase), [0, 1 / 3, 2 / 3]);
  assert.deepEqual(shareOptions({ target: 'x', concurrency: 8, requests: 90 }, 'short', 2).map((o) => o.pacePhase), [undefined, undefined], 'unpaced: no phase');
  // Keep-alive: each worker keeps c_i connections with c_i - 1 in flight; requests follow the lanes.
  const k = shareOptions({ target: 'x', concurrency: 7, requests: 100 }, 'keepalive', 4);
  assert.deepEqual(k.map((o) => o.concurrency), [3, 2, 2], 'at most floor(7/2) workers, two connections or more each');
  assert.deepEqual(k.map((o) => o.requests), [50, 25, 25], 'requests in proportion to the requests in flight (2, 1, 1)');
  assert.equal(shareOptions({ target: 'x', concurrency: 3 }, 'keepalive', 2).length, 1, 'fewer than 4 connections: one worker');
  assert.equal(shareOptions({ target: 'x', concurrency: 8, requests: 1 }, 'short', 2).length, 1, 'never a worker without requests');
  assert.equal(shareOptions({ target: 'x', concurrency: 8, durationMs: 1000 }, 'short', 2)[0].requests, undefined);
});

test('--workers 2 through nginx proxy_pass round robin: no false keepalive-pinning, every request counted once', { timeout: 90_000 }, async (t) => {
  if (!nginxInstalled()) return t.skip('nginx not installed');
  for (const k of [2, 3]) {
    const backends = await hostnameBackends(k, k === 2 ? 2 : 10);
    const host = `127.0.44.${k === 2 ? 1 : 9}`;
    const lb = await balancer(startNginx({ mode: 'http', listen: { host, port: await freePort(host) }, backends }));
    for (const c of [4, 6, 8]) {
      const n = 25 * c;
      const rep = await runProbeWorkers({ target: `${host}:${lb.address.port}`, mode: 'keepalive', requests: n, concurrency: c }, 2);
      const m = rep.modes.keepalive!;
      const label = `k=${k} c=${c}: ${ids(rep).join(',')} ${m.perConnection.map((p) => `${p.id}:${JSON.stringify(p.backends)}`).join(' ')}`;
      assert.equal((rep.config as Record<string, unknown>).workers, 2);
      assert.equal(m.requests, n, label);
      assert.equal(m.ok, n, label);
      assert.equal(m.backends.length, k, label);
      assert.equal(m.connections, c, label);
      assert.deepEqual(m.perConnection.map((p) => p.id).sort((a, b) => a - b), Array.from({ length: c }, (_, i) => i + 1), `run-wide connection numbers: ${label}`);
      assert.equal(m.perConnection.reduce((s, p) => s + p.requests, 0), n, label);
      assert.ok(!ids(rep).includes('keepalive-pinning'), label);
      for (const p of m.perConnection) if (p.requests >= 12) assert.ok(Object.keys(p.backends).length > 1, label);
    }
    await lb.stop();
  }
});

test('--workers 2 through haproxy mode tcp: keepalive-pinning still raised, with the same confidence', { timeout: 60_000 }, async (t) => {
  if (!haproxyInstalled()) return t.skip('haproxy not installed');
  const backends = await hostnameBackends(2, 20);
  const host = '127.0.44.19';
  const lb = await balancer(startHaproxy({ mode: 'tcp', listen: { host, port: await freePort(host) }, backends }));
  for (const c of [4, 8]) {
    const rep = await runProbeWorkers({ target: `${host}:${lb.address.port}`, mode: 'both', requests: 30 * c, concurrency: c }, 2);
    const pin = rep.findings.find((f) => f.id === 'keepalive-pinning');
    assert.ok(pin, `c=${c}: ${ids(rep).join(',')}`);
    assert.ok((pin.metrics!.chance as number) < 1e-3, `c=${c}: chance ${pin.metrics!.chance}`);
    assert.ok(!ids(rep).includes('insufficient-data'), `c=${c}: ${ids(rep).join(',')}`);
    assert.equal(rep.modes.short!.requests, 30 * c);
    assert.equal(rep.modes.short!.backends.length, 2, 'short: new connections rotate');
  }
});

test('--workers 2 --records --json: each request once, dispatch orders 0..n-1 over the whole mode, the report adds up to the records', { timeout: 60_000 }, async () => {
  const w = await startWhoami({ host: '127.0.44.30', port: 0, name: 'solo' });
  stoppers.push(() => w.close());
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lbdiag-workers-'));
  stoppers.push(async () => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'r.ndjson');
  const r = await runLbdiag(['probe', `127.0.44.30:${w.addresses[0].port}`, '-c', '6', '-n', '300', '--workers', '2', '--records', file, '--json', '--fail-on', 'none']);
  assert.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout);
  assert.equal(report.config.workers, 2);
  const schema = JSON.parse(fs.readFileSync(path.join(ROOT, 'schema', 'lbdiag-v1.schema.json'), 'utf8'));
  const validate = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true, validateFormats: false }).compile(schema);
  assert.ok(validate(JSON.parse(r.stdout)), JSON.stringify(validate.errors?.slice(0, 3)));
  const recs = fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  for (const mode of ['keepalive', 'short']) {
    const m = recs.filter((x) => x.mode === mode);
    const rep = report.modes[mode];
    assert.equal(m.length, 300, mode);
    assert.deepEqual(m.map((x) => x.order).sort((a, b) => a - b), Array.from({ length: 300 }, (_, i) => i), `${mode}: orders`);
    assert.equal(rep.requests, 300);
    assert.equal(rep.ok, m.filter((x) => x.status === 200).length);
    assert.equal(rep.histograms.total.count, 300, `${mode}: merged histogram`);
    assert.equal(rep.timeline.buckets.reduce((s: number, b: { requests: number }) => s + b.requests, 0), 300, `${mode}: merged timeline`);
    assert.equal(new Set(m.map((x) => x.conn)).size, mode === 'short' ? 300 : 6, `${mode}: connection numbers unique over the workers`);
  }
  // Connection numbers continue across modes (short starts after keep-alive's 6).
  assert.equal(Math.min(...recs.filter((x) => x.mode === 'short').map((x) => x.conn)), 7);
});

test('--workers 2: Ctrl-C prints what every worker gathered and exits 130', { timeout: 30_000 }, async () => {
  const w = await startWhoami({ host: '127.0.44.31', port: 0, name: 'solo' });
  stoppers.push(() => w.close());
  const p = startLbdiag(['probe', `127.0.44.31:${w.addresses[0].port}`, '--mode', 'keepalive', '-c', '4', '--workers', '2', '--duration', '30s', '--interval', '20ms', '--json']);
  await waitFor(() => w.stats().requests >= 20, 15_000);
  p.child.kill('SIGINT');
  const code = await p.exited;
  assert.equal(code, 130, p.stderr());
  const report = JSON.parse(p.stdout());
  assert.equal(report.interrupted, true);
  const ka = report.modes.keepalive;
  assert.ok(ka.requests >= 20, `${ka.requests}`);
  // Both workers' connections (two each) carried requests.
  assert.deepEqual(ka.perConnection.map((c: { id: number }) => c.id).sort(), [1, 2, 3, 4]);
  for (const c of ka.perConnection) assert.ok(c.requests > 0);
});

test('--workers 2: a worker that crashes is a one-line error, exit 2, and the others\' results are still printed', { timeout: 30_000 }, async () => {
  const w = await startWhoami({ host: '127.0.44.32', port: 0, name: 'solo' });
  stoppers.push(() => w.close());
  const r = await runLbdiag(['probe', `127.0.44.32:${w.addresses[0].port}`, '--mode', 'keepalive', '-c', '4', '--workers', '2', '--duration', '20s', '--interval', '10ms', '--json'], {
    env: { ...process.env, LBDIAG_TEST_WORKER_CRASH: '1:10' },
  });
  assert.equal(r.code, 2, r.stderr);
  const lines = r.stderr.trim().split('\n').filter((l) => l.startsWith('lbdiag:'));
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], /^lbdiag: worker 2 of 2 crashed: injected crash/);
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  const report = JSON.parse(r.stdout);
  assert.equal(report.interrupted, false);
  assert.ok(report.modes.keepalive.requests > 0, 'the other worker\'s requests are reported');
  assert.ok(report.durationMs < 15_000, `stopped at the crash, not at the deadline: ${report.durationMs} ms`);
});

test('--workers 2: an unreachable target is the usual one-line error', { timeout: 30_000 }, async () => {
  const port = await freePort('127.0.44.33');
  const r = await runLbdiag(['probe', `127.0.44.33:${port}`, '-c', '4', '--workers', '2']);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /^lbdiag: cannot reach 127\.0\.44\.33:\d+: connection refused/m);
  assert.equal(r.stdout, '');
});
