/**
 * probe over real sockets on 127.0.20.x: lbdiag whoami backends in this process, real haproxy and
 * nginx as balancers, a network namespace that drops first SYNs. Each test asserts the finding
 * the scenario must raise and the tallies behind it.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { startWhoami, type WhoamiHandle } from '../src/whoami/server.js';
import { startHaproxy, startNginx, startStaleListenerPair, startTcpForwarder, haproxyInstalled, nginxInstalled, type Balancer } from '../src/lab/balancers/index.js';
import { canUseNetns, createStallTopology } from '../src/lab/netns.js';
import { runProbe } from '../src/probe/run.js';
import type { ProbeReport } from '../src/probe/summary.js';
import { freePort, runLbdiag } from './support/processes.js';

const NAMES = ['alpha', 'bravo', 'charlie'];
const backends: WhoamiHandle[] = [];
let port = 0;
const stoppers: (() => Promise<unknown>)[] = [];

before(async () => {
  port = await freePort('127.0.20.2');
  for (let i = 0; i < 3; i++) backends.push(await startWhoami({ host: `127.0.20.${2 + i}`, port, name: NAMES[i], idleTimeoutMs: 60_000 }));
});

after(async () => {
  for (const s of stoppers.reverse()) await s().catch(() => undefined);
  for (const b of backends) await b.close();
});

const targets = (n = 3) => NAMES.slice(0, n).map((name, i) => ({ host: `127.0.20.${2 + i}`, port, name }));

async function balancer(start: () => Promise<Balancer>): Promise<Balancer> {
  const b = await start();
  stoppers.push(() => b.stop());
  return b;
}

const ids = (r: ProbeReport) => r.findings.map((f) => f.id);
const shares = (r: ProbeReport, mode: 'keepalive' | 'short' | 'rotate') => Object.fromEntries((r.modes[mode]?.backends ?? []).map((b) => [b.name, b.share]));

test('haproxy mode tcp: keep-alive pins (keepalive-pinning), short-lived spreads evenly; CLI --json and --records', { timeout: 30_000 }, async (t) => {
  if (!haproxyInstalled()) return t.skip('haproxy not installed');
  const lbPort = await freePort('127.0.20.10');
  await balancer(() => startHaproxy({ mode: 'tcp', listen: { host: '127.0.20.10', port: lbPort }, backends: targets() }));
  const records = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'lbdiag-probe-')), 'r.ndjson');
  const r = await runLbdiag(['probe', `127.0.20.10:${lbPort}`, '-n', '150', '-c', '4', '--json', '--records', records, '--fail-on', 'warn'], { timeoutMs: 20_000 });
  assert.equal(r.code, 1, r.stderr); // keepalive-pinning is a warning
  const rep = JSON.parse(r.stdout) as ProbeReport;
  assert.equal(rep.command, 'probe');
  assert.ok(ids(rep).includes('keepalive-pinning'), ids(rep).join(','));
  assert.ok(!ids(rep).includes('l7-proxy'));
  for (const c of rep.modes.keepalive!.perConnection) assert.equal(Object.keys(c.backends).length, 1, 'each keep-alive connection reaches one backend');
  const s = shares(rep, 'short');
  assert.deepEqual(Object.keys(s).sort(), NAMES);
  for (const n of NAMES) assert.ok(Math.abs(s[n] - 1 / 3) < 0.1, `short share of ${n} = ${s[n]}`);
  assert.equal(rep.modes.short!.connections, 150);
  const lines = fs.readFileSync(records, 'utf8').trim().split('\n');
  assert.equal(lines.length, 300);
  const first = JSON.parse(lines[0]);
  for (const k of ['mode', 'conn', 'port', 'reused', 'totalMs', 'status', 'backend', 'serverConn']) assert.ok(k in first, `record has ${k}`);
});

test('nginx reverse proxy: no pinning, l7-proxy, all 3 backends in both modes', { timeout: 30_000 }, async (t) => {
  if (!nginxInstalled()) return t.skip('nginx not installed');
  const lbPort = await freePort('127.0.20.11');
  await balancer(() => startNginx({ mode: 'http', listen: { host: '127.0.20.11', port: lbPort }, backends: targets() }));
  const rep = await runProbe({ target: `http://127.0.20.11:${lbPort}/`, requests: 150, concurrency: 4 });
  assert.ok(!ids(rep).includes('keepalive-pinning'), ids(rep).join(','));
  const l7 = rep.findings.find((f) => f.id === 'l7-proxy');
  assert.ok(l7, ids(rep).join(','));
  assert.equal(l7.severity, 'info');
  for (const mode of ['keepalive', 'short'] as const) assert.deepEqual(Object.keys(shares(rep, mode)).sort(), NAMES, mode);
  assert.ok(rep.modes.keepalive!.perConnection.every((c) => Object.keys(c.backends).length > 1));
});

test('scale-up: a backend added under a keep-alive pool is starved (late-backend-starved); rotate --max-conn-age reaches it', { timeout: 30_000 }, async () => {
  const lbPort = await freePort('127.0.20.12');
  const lb = await balancer(async () =>
    haproxyInstalled()
      ? startHaproxy({ mode: 'tcp', listen: { host: '127.0.20.12', port: lbPort }, backends: targets(2) })
      : startTcpForwarder({ listen: { host: '127.0.20.12', port: lbPort }, backends: targets(2) }),
  );
  const probe = runProbe({ target: `127.0.20.12:${lbPort}`, mode: 'both', requests: 240, concurrency: 8, intervalMs: 40 });
  await new Promise((r) => setTimeout(r, 400));
  await lb.setBackends(targets(3)); // the autoscaler adds charlie
  const rep = await probe;
  assert.equal(rep.modes.keepalive!.backends.find((b) => b.name === 'charlie')?.count ?? 0, 0, 'the pool never reaches charlie');
  assert.ok((shares(rep, 'short').charlie ?? 0) > 0.2, JSON.stringify(shares(rep, 'short')));
  const late = rep.findings.find((f) => f.id === 'late-backend-starved');
  assert.ok(late, ids(rep).join(','));
  assert.equal(late.backend, 'charlie');
  const rot = await runProbe({ target: `127.0.20.12:${lbPort}`, mode: 'rotate', maxConnAgeMs: 150, durationMs: 1200, concurrency: 4, intervalMs: 20 });
  const s = shares(rot, 'rotate');
  assert.deepEqual(Object.keys(s).sort(), NAMES);
  assert.ok(s.charlie > 0.2, JSON.stringify(s));
  assert.ok(rot.modes.rotate!.connections > 8, 'connections were retired and reopened');
});

test('two haproxy processes on one port, one answering 503: intermittent-errors near 1/2 on fresh connections', { timeout: 30_000 }, async (t) => {
  if (!haproxyInstalled()) return t.skip('haproxy not installed');
  const lbPort = await freePort('127.0.20.13');
  await balancer(() => startStaleListenerPair({ listen: { host: '127.0.20.13', port: lbPort }, backends: targets() }));
  const rep = await runProbe({ target: `127.0.20.13:${lbPort}`, mode: 'short', requests: 200, concurrency: 4 });
  const f = rep.findings.find((x) => x.id === 'intermittent-errors');
  assert.ok(f, ids(rep).join(','));
  assert.equal(f.mode, 'short');
  const rate = f.metrics!.rate as number;
  assert.ok(rate > 0.3 && rate < 0.7, `rate ${rate}`);
  assert.equal(rep.modes.short!.statuses['503'], rep.modes.short!.errors);
  assert.equal(f.severity, 'error');
});

test('a first SYN dropped in a network namespace: stall-1s', { timeout: 30_000 }, async (t) => {
  const ok = canUseNetns();
  if (!ok.ok) return t.skip(ok.reason);
  const topo = await createStallTopology({ backendName: 'stalled' });
  stoppers.push(() => topo.teardown());
  const rep = await runProbe({ target: `${topo.backend.host}:${topo.backend.port}`, mode: 'short', requests: 4, concurrency: 4 });
  const f = rep.findings.find((x) => x.id === 'stall-1s');
  assert.ok(f, `${ids(rep).join(',')} connect p50 ${rep.modes.short!.latency.connect.p50}`);
  assert.ok((f.metrics!.near1s as number) >= 3);
  assert.deepEqual(Object.keys(shares(rep, 'short')), ['stalled']);
  await topo.teardown();
});

test('nothing listening: exit 2 with one line, no stack trace', { timeout: 15_000 }, async () => {
  const p = await freePort('127.0.20.14');
  const r = await runLbdiag(['probe', `127.0.20.14:${p}`, '-n', '20'], { timeoutMs: 10_000 });
  assert.equal(r.code, 2);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, /^lbdiag: cannot reach 127\.0\.20\.14:\d+: connection refused/);
  assert.equal(r.stdout, '');
});

test('a backend that resets every third connection: errors tallied by kind, the run completes', { timeout: 15_000 }, async () => {
  let n = 0;
  const server = net.createServer((sock) => {
    const mine = ++n;
    sock.on('error', () => undefined);
    sock.once('data', () => {
      if (mine % 3 === 0) sock.resetAndDestroy();
      else sock.end('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nreset');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.20.15', r));
  stoppers.push(() => new Promise((r) => server.close(r)));
  const p = (server.address() as net.AddressInfo).port;
  const rep = await runProbe({ target: `127.0.20.15:${p}`, requests: 60, concurrency: 2 });
  for (const mode of ['keepalive', 'short'] as const) {
    const m = rep.modes[mode]!;
    assert.equal(m.requests, 60, mode);
    assert.ok(m.errorKinds.reset?.count > 0, `${mode}: ${JSON.stringify(m.errorKinds)}`);
    assert.equal(m.ok + m.errors, 60);
  }
  assert.ok(Math.abs(rep.modes.short!.errors - 20) <= 2, `short errors ${rep.modes.short!.errors}`);
  assert.ok(ids(rep).includes('intermittent-errors'));
});
