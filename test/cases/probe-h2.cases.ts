/**
 * The probe's HTTP/2 side over real sockets: h2c streams become records like HTTP/1.1 requests
 * (stream count per connection, backend identity, server seq = stream count); three HTTP/2
 * backends behind real haproxy `mode tcp` raise keepalive-pinning with the HTTP/2 wording, and
 * behind haproxy `mode http` with `proto h2` (per-stream balancing) they do not; GOAWAY from a
 * backend's maximum connection age makes rotate reach a backend started mid-run.
 * Backends on 127.0.43.x (test/support/h2-backends.ts); haproxy skipped with the reason when absent.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { haproxyInstalled } from '../../src/lab/balancers/index.js';
import { runProbe } from '../../src/probe/run.js';
import type { ProbeReport } from '../../src/probe/summary.js';
import { startH2Backend, type H2Backend } from '../support/h2-backends.js';
import { startH2Haproxy } from '../support/h2-haproxy.js';
import { freePort } from '../support/processes.js';

const stoppers: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const s of stoppers.reverse()) await s().catch(() => undefined);
});

async function backends(n: number, subnet: number, extra: { maxConnAgeMs?: number } = {}): Promise<H2Backend[]> {
  const out: H2Backend[] = [];
  for (let i = 0; i < n; i++) {
    const b = await startH2Backend({ name: `h2b${i + 1}`, host: `127.0.43.${subnet + i}`, ...extra });
    stoppers.push(() => b.close());
    out.push(b);
  }
  return out;
}

const ids = (r: ProbeReport) => r.findings.map((f) => f.id);

test('--http2 direct: every stream is a record with its connection, stream count and the server view (seq = stream count)', { timeout: 30_000 }, async () => {
  const [b] = await backends(1, 1);
  const rep = await runProbe({ target: `${b.host}:${b.port}`, http2: true, mode: 'keepalive', requests: 120, concurrency: 3, streams: 4 });
  const m = rep.modes.keepalive!;
  assert.equal(m.ok, 120);
  assert.equal(m.connections, 3, 'a fixed set of 3 HTTP/2 connections');
  assert.equal(b.sessions(), 3);
  assert.equal(m.perConnection.length, 3);
  assert.equal(m.perConnection.reduce((s, c) => s + c.requests, 0), 120, 'streams counted per connection');
  assert.deepEqual(m.backends.map((x) => x.name), ['h2b1']);
  assert.deepEqual(m.http2, { streamsPerConnection: 4, goaways: 0, retried: 0 });
  assert.equal(rep.config.protocol, 'h2');
  // Direct: the server counts the streams of each connection as the probe does (no L7 proxy in between).
  assert.ok(!ids(rep).includes('l7-proxy'), ids(rep).join(','));
  assert.ok(ids(rep).includes('single-backend'));
});

test('haproxy mode tcp in front of three h2c backends: keepalive-pinning, worded for HTTP/2; mode http + proto h2: spread per stream, no pinning', { timeout: 60_000 }, async (t) => {
  if (!haproxyInstalled()) return t.skip('haproxy not installed');
  const bs = await backends(3, 10);
  const host = '127.0.43.9';
  const tcp = await startH2Haproxy({ mode: 'tcp', host, port: await freePort(host), backends: bs });
  stoppers.push(() => tcp.stop());
  const rep = await runProbe({ target: `${host}:${tcp.port}`, http2: true, mode: 'both', requests: 240, concurrency: 3, streams: 8 });
  const m = rep.modes.keepalive!;
  const label = `${ids(rep).join(',')} ${m.perConnection.map((p) => `#${p.id}:${p.requests}:${JSON.stringify(p.backends)}`).join(' ')}`;
  assert.equal(m.ok, 240, label);
  assert.equal(m.perConnection.length, 3, label);
  for (const p of m.perConnection) assert.equal(Object.keys(p.backends).length, 1, `each HTTP/2 connection on one backend: ${label}`);
  const pin = rep.findings.find((f) => f.id === 'keepalive-pinning');
  assert.ok(pin, label);
  assert.match(pin.title, /HTTP\/2 connections/);
  assert.match(pin.explanation, /stream/);
  assert.match(pin.remedy, /proto h2/);
  assert.match(pin.remedy, /MAX_CONNECTION_AGE|GOAWAY/);
  assert.match(pin.evidence.join('\n'), /streams/);
  assert.equal(rep.modes.short!.backends.length, 3, 'a new connection per request reaches all three');
  // rotate: every connection retired after 10 streams; the new connections reach every backend.
  const rot = await runProbe({ target: `${host}:${tcp.port}`, http2: true, mode: 'rotate', requests: 120, concurrency: 3, streams: 4, maxConnRequests: 10 });
  const r = rot.modes.rotate!;
  const rlabel = `${ids(rot).join(',')} ${r.perConnection.map((p) => `#${p.id}:${p.requests}`).join(' ')}`;
  assert.equal(r.ok, 120, rlabel);
  assert.ok(r.connections >= 12, rlabel);
  for (const p of r.perConnection) assert.ok(p.requests <= 10, rlabel);
  assert.equal(r.backends.length, 3, rlabel);
  await tcp.stop();

  const httpHost = '127.0.43.8';
  const l7 = await startH2Haproxy({ mode: 'http', host: httpHost, port: await freePort(httpHost), backends: bs });
  stoppers.push(() => l7.stop());
  const rep7 = await runProbe({ target: `${httpHost}:${l7.port}`, http2: true, mode: 'keepalive', requests: 240, concurrency: 3, streams: 8 });
  const m7 = rep7.modes.keepalive!;
  const label7 = `${ids(rep7).join(',')} ${m7.perConnection.map((p) => `#${p.id}:${p.requests}:${JSON.stringify(p.backends)}`).join(' ')}`;
  assert.equal(m7.ok, 240, label7);
  assert.ok(!ids(rep7).includes('keepalive-pinning'), label7);
  assert.equal(m7.backends.length, 3, label7);
  for (const p of m7.perConnection) if (p.requests >= 20) assert.ok(Object.keys(p.backends).length > 1, `per-stream balancing spreads each connection: ${label7}`);
  await l7.stop();
});

test('rotate honours GOAWAY: backends with a maximum connection age make a long-lived HTTP/2 client reach a backend started mid-run; refused streams are retried, not failures', { timeout: 60_000 }, async (t) => {
  if (!haproxyInstalled()) return t.skip('haproxy not installed');
  const host = '127.0.43.20';
  const port = await freePort(host);
  const first = await backends(1, 21, { maxConnAgeMs: 300 });
  // haproxy mode tcp over two server slots; the second is started part-way through the run.
  const late = { name: 'h2b2', host: '127.0.43.22', port: await freePort('127.0.43.22') };
  const lb = await startH2Haproxy({ mode: 'tcp', host, port, backends: [first[0], late] });
  stoppers.push(() => lb.stop());
  const run = runProbe({ target: `${host}:${port}`, http2: true, mode: 'rotate', durationMs: 2500, concurrency: 2, streams: 2, rate: 200, maxConnRequests: 100_000 });
  await new Promise((r) => setTimeout(r, 700));
  const b2 = await startH2Backend({ name: 'h2b2', host: late.host, port: late.port, maxConnAgeMs: 300 });
  stoppers.push(() => b2.close());
  const rep = await run;
  const m = rep.modes.rotate!;
  const label = `${ids(rep).join(',')} ${JSON.stringify(m.http2)} ${JSON.stringify(m.errorKinds)} ${m.backends.map((b) => `${b.name}:${b.count}`).join(' ')}`;
  assert.ok(m.http2!.goaways >= 2, `GOAWAY received: ${label}`);
  assert.ok(m.connections >= 3, `new connections after GOAWAY: ${label}`);
  assert.ok(m.backends.some((b) => b.name === 'h2b2' && b.count > 0), `the late backend is reached: ${label}`);
  // Refused streams (never processed) are not errors of the backend; the ones before h2b2 started
  // (haproxy mode tcp had nothing to connect to on its slot) are.
  assert.equal(m.errorKinds['refused-stream'], undefined, label);
});
