/**
 * Done-when for TLS: a real haproxy SNI router (`mode tcp`, `tcp-request inspect-delay`,
 * `req.ssl_sni`) in front of real TLS servers on loopback, each with its own certificate for its
 * name (a private CA signs a.test and b.test; c.test is self-signed). The probe reaches the
 * backend the SNI names, verifies with --cacert, fails a self-signed certificate without -k
 * (tls-error naming -k), names the certificate's names on a mismatch, times the TLS handshake
 * apart from the TCP connect, and flags a passthrough pool whose backends hold different
 * certificates (tls-cert-mismatch). Backends: node:https servers with whoami's identity headers
 * (test/support/tls-backends.ts); `lbdiag whoami --tls` can replace them once it exists.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runProbe, type ProbeOptions } from '../src/probe/run.js';
import type { ProbeReport } from '../src/probe/summary.js';
import { renderProbeReport } from '../src/probe/report.js';
import { makeChalk } from '../src/core/style.js';
import { freePort, hasCommand, start, waitForPort, type Started } from './support/processes.js';
import { makeCa, makeLeaf, startTlsBackend, type TlsBackend } from './support/tls-backends.js';

const HOST = '127.0.0.1';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lbdiag-tls-haproxy-'));
const caFile = path.join(tmp, 'ca.pem');
let haproxy: Started | undefined;
let port = 0;
/** A second frontend: no SNI routing, round robin over alpha (CA-signed a.test) and delta (a self-signed a.test). */
let mixedPort = 0;
const backends: Record<string, TlsBackend> = {};
const skip = !hasCommand('haproxy') && 'haproxy not installed';

before(async () => {
  if (skip) return;
  const ca = await makeCa();
  fs.writeFileSync(caFile, ca.cert);
  backends.a = await startTlsBackend('alpha', await makeLeaf({ names: ['a.test'], ca }));
  backends.b = await startTlsBackend('bravo', await makeLeaf({ names: ['b.test', 'www.b.test'], ca }));
  backends.c = await startTlsBackend('charlie', await makeLeaf({ names: ['c.test'] }));
  backends.d = await startTlsBackend('delta', await makeLeaf({ names: ['a.test'] }));
  port = await freePort(HOST);
  mixedPort = await freePort(HOST);
  const cfg = [
    'global',
    '    maxconn 512',
    'defaults',
    '    mode tcp',
    '    timeout connect 5s',
    '    timeout client 30s',
    '    timeout server 30s',
    'frontend sni_router',
    `    bind ${HOST}:${port}`,
    '    tcp-request inspect-delay 5s',
    '    tcp-request content accept if { req.ssl_hello_type 1 }',
    '    use_backend be_a if { req.ssl_sni -i a.test }',
    '    use_backend be_b if { req.ssl_sni -i b.test }',
    '    use_backend be_c if { req.ssl_sni -i c.test }',
    '    use_backend be_pool if { req.ssl_sni -i pool.test }',
    'frontend mixed',
    `    bind ${HOST}:${mixedPort}`,
    '    default_backend be_mixed',
    'backend be_mixed',
    '    balance roundrobin',
    `    server alpha ${HOST}:${backends.a.port}`,
    `    server delta ${HOST}:${backends.d.port}`,
    'backend be_a',
    `    server alpha ${HOST}:${backends.a.port}`,
    'backend be_b',
    `    server bravo ${HOST}:${backends.b.port}`,
    'backend be_c',
    `    server charlie ${HOST}:${backends.c.port}`,
    // TLS passed through to two backends that each hold their own certificate.
    'backend be_pool',
    '    balance roundrobin',
    `    server alpha ${HOST}:${backends.a.port}`,
    `    server bravo ${HOST}:${backends.b.port}`,
    '',
  ].join('\n');
  fs.writeFileSync(path.join(tmp, 'haproxy.cfg'), cfg);
  haproxy = start('haproxy', ['-f', path.join(tmp, 'haproxy.cfg'), '-db']);
  await waitForPort(HOST, port, 10_000);
});

after(async () => {
  await haproxy?.stop();
  for (const b of Object.values(backends)) await b.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

function probe(extra: Partial<ProbeOptions>): Promise<ProbeReport> {
  return runProbe({ target: `https://${HOST}:${port}/`, mode: 'short', requests: 10, concurrency: 2, timeoutMs: 4000, ...extra });
}

const names = (r: ProbeReport): string[] => r.modes.short!.backends.map((b) => b.name);
const ids = (r: ProbeReport): string[] => r.findings.map((f) => f.id);

test('--sni routes through the SNI router: a.test reaches alpha, b.test reaches bravo, verified with --cacert; TLS handshake timed apart', { skip }, async () => {
  const a = await probe({ sni: 'a.test', cacert: caFile });
  assert.deepEqual(names(a), ['alpha'], JSON.stringify(a.modes.short!.errorKinds));
  assert.equal(a.modes.short!.ok, 10);
  const b = await probe({ sni: 'b.test', cacert: caFile, mode: 'keepalive', requests: 12 });
  const m = b.modes.keepalive!;
  assert.deepEqual(m.backends.map((x) => x.name), ['bravo']);
  assert.equal(m.ok, 12);
  assert.equal(m.latency.tls?.count, m.connections, 'one TLS handshake per connection');
  assert.equal(m.latency.connect.count, m.connections);
  assert.deepEqual(m.tls!.certificates.map((c) => [c.subject, c.sans, c.verify]), [['CN=b.test', ['DNS:b.test', 'DNS:www.b.test'], []]]);
  assert.deepEqual(m.tls!.backends.map((x) => [x.name, x.sni]), [['bravo', { 'b.test': m.connections }]]);
  assert.equal(ids(b).filter((id) => id.startsWith('tls-')).length, 0);
});

test('a self-signed backend without -k: tls-error naming -k; with -k it answers', { skip }, async () => {
  const r = await probe({ sni: 'c.test' });
  const f = r.findings.find((x) => x.id === 'tls-error');
  assert.ok(f, ids(r).join(', '));
  assert.equal(f.severity, 'error');
  assert.match(f.title, /every one of 10 requests failed in the TLS handshake: the certificate is self-signed/);
  assert.match(f.remedy, /-k skips verification/);
  assert.ok(r.modes.short!.errorKinds['tls-self-signed'].count === 10);
  assert.equal(backends.c.requests, 0);
  const k = await probe({ sni: 'c.test', insecure: true });
  assert.deepEqual(names(k), ['charlie']);
});

test('name mismatch names the certificate\'s names; a passthrough pool with a certificate per backend is tls-cert-mismatch', { skip }, async () => {
  const r = await probe({ sni: 'pool.test', cacert: caFile, requests: 8 });
  const f = r.findings.find((x) => x.id === 'tls-error')!;
  assert.ok(f, ids(r).join(', '));
  const details = r.modes.short!.tls!.errors.flatMap((e) => Object.keys(e.details));
  assert.ok(details.includes('the certificate holds a.test, not "pool.test" (the SNI sent)'), details.join(' | '));
  assert.ok(details.includes('the certificate holds b.test, www.b.test, not "pool.test" (the SNI sent)'), details.join(' | '));
  // -k: both backends answer, each with its own certificate, every time.
  const k = await probe({ sni: 'pool.test', insecure: true, requests: 30 });
  assert.deepEqual(names(k).sort(), ['alpha', 'bravo']);
  const mm = k.findings.find((x) => x.id === 'tls-cert-mismatch');
  assert.ok(mm, ids(k).join(', '));
  assert.equal(mm.severity, 'warn');
  const fps = Object.fromEntries(k.modes.short!.tls!.backends.map((b) => [b.name, Object.keys(b.certificates)]));
  assert.equal(fps.alpha.length, 1);
  assert.equal(fps.bravo.length, 1);
  assert.notEqual(fps.alpha[0], fps.bravo[0]);
  assert.deepEqual(mm.metrics?.backends, ['alpha', 'bravo']);
  assert.deepEqual(mm.metrics?.fingerprints, [fps.alpha[0], fps.bravo[0]]);
  assert.ok(mm.evidence.some((e) => e.startsWith(`alpha: SHA-256 ${fps.alpha[0]}, CN=a.test`)), mm.evidence.join('\n'));
  // One backend behind one certificate (--sni a.test) is not a mismatch.
  const one = await probe({ sni: 'a.test', cacert: caFile, requests: 30 });
  assert.equal(ids(one).includes('tls-cert-mismatch'), false);
});

test('no SNI (an IP target): the router closes inside the handshake; all-failing names both readings, no tls-error claimed', { skip }, async () => {
  const r = await probe({ requests: 4 });
  const kinds = r.modes.short!.errorKinds;
  assert.ok(Object.keys(kinds).every((k) => k === 'closed' || k === 'reset'), JSON.stringify(kinds));
  assert.equal(ids(r).includes('tls-error'), false);
  const all = r.findings.find((x) => x.id === 'all-failing')!;
  assert.match(all.explanation, /SNI router/);
  assert.match(all.remedy, /--sni/);
});

test('one backend of a passthrough pool with a wrong certificate: tls-error names the share and the certificate to replace; single-backend and intermittent-errors under it', { skip }, async () => {
  const r = await runProbe({ target: `https://${HOST}:${mixedPort}/`, sni: 'a.test', cacert: caFile, mode: 'short', requests: 30, concurrency: 2, timeoutMs: 4000 });
  const m = r.modes.short!;
  assert.equal(m.ok, 15, JSON.stringify(m.errorKinds));
  assert.deepEqual(Object.keys(m.errorKinds), ['tls-self-signed']);
  const f = r.findings.find((x) => x.id === 'tls-error')!;
  assert.ok(f, ids(r).join(', '));
  assert.match(f.title, /^short: 15 of 30 requests \(50\.0%\) failed in the TLS handshake: the certificate is self-signed/);
  const bad = m.tls!.certificates.find((c) => c.verify.length > 0)!;
  assert.match(f.remedy, new RegExp(`^Find the backend that presents SHA-256 ${bad.fingerprint256.slice(0, 11)}`));
  assert.equal(f.metrics?.otherServers, 1);
  const out = renderProbeReport(r, { chalk: makeChalk({ isTTY: false } as NodeJS.WriteStream), width: 120, verbosity: 'quiet' });
  assert.match(out, /^1 problem: tls-error short \(ERROR\)/, out);
  assert.match(out, /→ ERROR intermittent-errors/);
  assert.match(out, /→ WARN single-backend/);
});
