/**
 * The issue's done-when with real lbdiag whoami backends (h2c, gRPC and TLS h2 on one port) behind
 * real haproxy: --http2 and --grpc through `mode tcp` raise keepalive-pinning with streams counted
 * per connection (h2c and TLS h2), through `mode http` + `proto h2` they do not; whoami
 * --max-conn-age sends GOAWAY, and a long-lived rotate run (client-side retirement off) reaches a
 * whoami started mid-run. Backends on 127.0.44.x, stopped by pid.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { haproxyInstalled } from '../src/lab/balancers/index.js';
import { runProbe } from '../src/probe/run.js';
import type { ProbeReport } from '../src/probe/summary.js';
import { startH2Haproxy } from './support/h2-haproxy.js';
import { freePort } from './support/processes.js';
import { startWhoamiProcess } from './support/whoami-process.js';

const stoppers: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const s of stoppers.reverse()) await s().catch(() => undefined);
});

async function whoamis(names: string[], subnet: number, args: string[] = []): Promise<{ name: string; host: string; port: number }[]> {
  return Promise.all(
    names.map(async (name, i) => {
      const host = `127.0.44.${subnet + i}`;
      const w = await startWhoamiProcess(host, ['--name', name, '--drain-delay', '0', ...args]);
      stoppers.push(() => w.p.stop());
      return { name, host, port: w.port };
    }),
  );
}

const ids = (r: ProbeReport) => r.findings.map((f) => f.id);
const conns = (r: ProbeReport) => r.modes.keepalive!.perConnection.map((p) => `#${p.id}:${p.requests}:${JSON.stringify(p.backends)}`).join(' ');

test('three whoami (h2c + gRPC) behind haproxy mode tcp: --http2 and --grpc raise keepalive-pinning; mode http + proto h2 spreads every connection', { timeout: 90_000 }, async (t) => {
  if (!haproxyInstalled()) return t.skip('haproxy not installed');
  const bs = await whoamis(['w1', 'w2', 'w3'], 10);
  const host = '127.0.44.9';
  const tcp = await startH2Haproxy({ mode: 'tcp', host, port: await freePort(host), backends: bs });
  stoppers.push(() => tcp.stop());
  for (const grpc of [false, true]) {
    const rep = await runProbe({ target: `${host}:${tcp.port}`, http2: true, grpc, grpcMethod: grpc ? 'lbdiag.v1.WhoAmI/Get' : undefined, mode: 'keepalive', requests: 180, concurrency: 3, streams: 6 });
    const m = rep.modes.keepalive!;
    const label = `grpc=${grpc} ${ids(rep).join(',')} ${conns(rep)}`;
    assert.equal(m.ok, 180, label);
    assert.equal(m.perConnection.length, 3, label);
    for (const p of m.perConnection) assert.equal(Object.keys(p.backends).length, 1, label);
    assert.ok(ids(rep).includes('keepalive-pinning'), label);
    // whoami counts the streams of each connection as the probe does: seq agrees (layer 4 passes them through).
    assert.ok(!ids(rep).includes('l7-proxy'), label);
  }
  const l7Host = '127.0.44.8';
  const l7 = await startH2Haproxy({ mode: 'http', host: l7Host, port: await freePort(l7Host), backends: bs });
  stoppers.push(() => l7.stop());
  for (const grpc of [false, true]) {
    const rep = await runProbe({ target: `${l7Host}:${l7.port}`, http2: true, grpc, grpcMethod: grpc ? 'lbdiag.v1.WhoAmI/Get' : undefined, mode: 'keepalive', requests: 180, concurrency: 3, streams: 6 });
    const m = rep.modes.keepalive!;
    const label = `grpc=${grpc} ${ids(rep).join(',')} ${conns(rep)}`;
    assert.equal(m.ok, 180, label);
    assert.ok(!ids(rep).includes('keepalive-pinning'), label);
    assert.equal(m.backends.length, 3, label);
    for (const p of m.perConnection) if (p.requests >= 20) assert.ok(Object.keys(p.backends).length > 1, label);
  }
});

test('three whoami --tls behind haproxy mode tcp: an https --http2 probe (ALPN h2, -k) raises keepalive-pinning', { timeout: 90_000 }, async (t) => {
  if (!haproxyInstalled()) return t.skip('haproxy not installed');
  const bs = await whoamis(['t1', 't2', 't3'], 20, ['--tls']);
  const host = '127.0.44.19';
  const tcp = await startH2Haproxy({ mode: 'tcp', host, port: await freePort(host), backends: bs });
  stoppers.push(() => tcp.stop());
  const rep = await runProbe({ target: `https://${host}:${tcp.port}/`, http2: true, insecure: true, mode: 'keepalive', requests: 120, concurrency: 3, streams: 4 });
  const m = rep.modes.keepalive!;
  const label = `${ids(rep).join(',')} ${JSON.stringify(m.errorKinds)} ${conns(rep)}`;
  assert.equal(m.ok, 120, label);
  assert.equal(m.perConnection.length, 3, label);
  assert.ok(ids(rep).includes('keepalive-pinning'), label);
});

test('whoami --max-conn-age: GOAWAY makes a long-lived HTTP/2 client (rotate, no client-side retirement) reach a whoami started mid-run', { timeout: 90_000 }, async (t) => {
  if (!haproxyInstalled()) return t.skip('haproxy not installed');
  const [first] = await whoamis(['g1'], 30, ['--max-conn-age', '400ms']);
  const lateHost = '127.0.44.31';
  const latePort = await freePort(lateHost);
  const host = '127.0.44.29';
  const lb = await startH2Haproxy({ mode: 'tcp', host, port: await freePort(host), backends: [first, { name: 'g2', host: lateHost, port: latePort }] });
  stoppers.push(() => lb.stop());
  // No client-side retirement (10 min age): only the server's GOAWAY can move a connection.
  const run = runProbe({ target: `${host}:${lb.port}`, http2: true, mode: 'rotate', durationMs: 4000, concurrency: 2, streams: 2, rate: 150, maxConnAgeMs: 600_000 });
  const { startLbdiag } = await import('./support/processes.js');
  await new Promise((r) => setTimeout(r, 800));
  const late = startLbdiag(['whoami', '-H', lateHost, '--port', String(latePort), '--name', 'g2', '--drain-delay', '0', '--max-conn-age', '400ms']);
  stoppers.push(() => late.stop());
  const rep = await run;
  const m = rep.modes.rotate!;
  const label = `${ids(rep).join(',')} ${JSON.stringify(m.http2)} ${JSON.stringify(m.errorKinds)} ${m.backends.map((b) => `${b.name}:${b.count}`).join(' ')}`;
  assert.ok(m.http2!.goaways >= 3, label);
  assert.ok(m.backends.some((b) => b.name === 'g2' && b.count > 0), label);
  assert.equal(m.errorKinds['refused-stream'], undefined, label);
});
