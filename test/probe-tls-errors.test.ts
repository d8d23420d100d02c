/**
 * TLS failures against real servers on loopback become `tls-error` naming the exact problem and
 * the flag that fixes it, with `all-failing` under it and no pool advice: self-signed (-k),
 * expired (the dates), name mismatch (the certificate's names against the SNI), unknown CA
 * (--cacert), a TLS alert, a plain-text port; -k turns them into an info finding; a connection
 * closed inside the handshake with no alert stays `closed` and all-failing names both readings.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import net from 'node:net';
import tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import type { Finding } from '../src/core/finding.js';
import { renderProbeReport } from '../src/probe/report.js';
import { runProbe, type ProbeOptions } from '../src/probe/run.js';
import type { ProbeReport } from '../src/probe/summary.js';
import { makeChalk } from '../src/core/style.js';
import { makeCa, makeLeaf, startTlsBackend, type Pem, type TlsBackend } from './support/tls-backends.js';

let ca: Pem;
const backends: TlsBackend[] = [];
const servers: net.Server[] = [];
let selfSigned: TlsBackend;
let expired: TlsBackend;
let signed: TlsBackend;
let plain: number;
let closer: number;
/** TLS servers that abort the handshake with an alert: no common cipher, TLS 1.1 at most, ALPN h2 only. */
let alerting: { handshake: number; version: number; alpn: number };
const DAY = 86_400_000;

async function listen(s: net.Server): Promise<number> {
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return (s.address() as AddressInfo).port;
}

before(async () => {
  ca = await makeCa();
  fs.writeFileSync(caPath, ca.cert);
  backends.push((selfSigned = await startTlsBackend('self', await makeLeaf({ names: ['self.test'] }))));
  backends.push((expired = await startTlsBackend('old', await makeLeaf({ names: ['a.test'], ca, notBefore: new Date(Date.now() - 40 * DAY), notAfter: new Date(Date.now() - 10 * DAY) }))));
  backends.push((signed = await startTlsBackend('alpha', await makeLeaf({ names: ['a.test', 'www.a.test'], ca }))));
  plain = await listen(http.createServer((_q, r) => r.end('plain\n')));
  // Accepts TCP, reads the ClientHello, closes without a TLS alert (an SNI router with no route, a balancer with no backend).
  closer = await listen(net.createServer((s) => s.once('data', () => s.destroy())));
  const leaf = await makeLeaf({ names: ['a.test'], ca });
  const alertServer = async (o: tls.TlsOptions): Promise<number> => {
    const srv = tls.createServer({ cert: leaf.cert, key: leaf.key, ...o }, (s) => s.end());
    srv.on('tlsClientError', () => undefined);
    return listen(srv);
  };
  alerting = {
    handshake: await alertServer({ maxVersion: 'TLSv1.2', ciphers: 'ECDHE-RSA-AES128-SHA' }), // an EC key with RSA-only ciphers: no cipher in common
    version: await alertServer({ minVersion: 'TLSv1', maxVersion: 'TLSv1.1' }),
    alpn: await alertServer({ ALPNProtocols: ['h2'] }),
  };
});

after(async () => {
  for (const b of backends) await b.close();
  for (const s of servers) await new Promise<void>((r) => s.close(() => r()));
  fs.rmSync(caPath, { force: true });
});

const caPath = path.join(os.tmpdir(), `lbdiag-tls-errors-ca-${process.pid}.pem`);
const caFile = (): string => caPath;

async function probe(port: number, extra: Partial<ProbeOptions> = {}): Promise<ProbeReport> {
  return runProbe({ target: `https://127.0.0.1:${port}/`, mode: 'short', requests: 6, concurrency: 2, timeoutMs: 3000, ...extra });
}

function only(report: ProbeReport, id: string): Finding {
  const f = report.findings.filter((x) => x.id === id);
  assert.equal(f.length, 1, `${id}: ${report.findings.map((x) => `${x.id} ${x.title}`).join(' | ')}`);
  return f[0];
}

function text(f: Finding): string {
  return [f.title, ...f.evidence, f.explanation, f.remedy].join('\n');
}

function human(report: ProbeReport): string {
  return renderProbeReport(report, { chalk: makeChalk({ isTTY: false } as NodeJS.WriteStream), width: 120, verbosity: 'quiet' });
}

test('self-signed without -k: tls-error names -k and --cacert, all-failing sits under it without pool advice', async () => {
  const r = await probe(selfSigned.port, { sni: 'self.test' });
  const f = only(r, 'tls-error');
  assert.equal(f.severity, 'error');
  assert.match(f.title, /^short: every one of 6 requests failed in the TLS handshake: the certificate is self-signed/);
  assert.match(f.remedy, /-k skips verification/);
  assert.match(f.remedy, /--cacert FILE/);
  assert.match(text(f), /SHA-256 ([0-9A-F]{2}:){31}[0-9A-F]{2}/);
  const all = only(r, 'all-failing');
  assert.doesNotMatch(all.remedy, /pool/);
  assert.match(all.explanation, /TLS handshake .* the pool is not the cause/);
  assert.equal(r.modes.short!.errorKinds['tls-self-signed'].inTls, 6);
  const out = human(r);
  assert.match(out, /^1 problem: tls-error short \(ERROR\)/, out);
  assert.match(out, /→ ERROR all-failing/);
  assert.equal(selfSigned.requests, 0, 'no request was sent over an unverified connection');
  // Keep-alive: every connection fails its handshake and the probe closes it; that is not the other
  // side ending keep-alive connections (no connection-churn).
  const ka = await probe(selfSigned.port, { sni: 'self.test', mode: 'keepalive', requests: 12 });
  assert.equal(ka.modes.keepalive!.connections, 12);
  assert.deepEqual(ka.findings.map((x) => x.id).sort(), ['all-failing', 'tls-error']);
});

test('expired: the dates; name mismatch: the certificate\'s names against the SNI sent (both found, both fixes named)', async () => {
  const r = await probe(expired.port, { sni: 'b.test', cacert: caFile() });
  const f = only(r, 'tls-error');
  const notAfter = new Date(Date.now() - 10 * DAY).toISOString().slice(0, 10);
  assert.match(f.title, new RegExp(`the certificate expired on ${notAfter}T`));
  assert.match(text(f), /the certificate holds a\.test, not "b\.test" \(the SNI sent\)/);
  assert.match(f.remedy, /renew the certificate/);
  assert.match(f.remedy, /--sni NAME/);
  assert.deepEqual(f.metrics?.kinds, ['tls-expired', 'tls-name-mismatch']);
});

test('name mismatch alone (trusted CA): names every SAN; an IP target without --sni says no SNI was sent', async () => {
  const r = await probe(signed.port, { sni: 'b.test', cacert: caFile() });
  const f = only(r, 'tls-error');
  assert.match(f.title, /the certificate holds a\.test, www\.a\.test, not "b\.test" \(the SNI sent\)/);
  assert.match(f.remedy, /^--sni NAME/);
  const ip = await probe(signed.port, { cacert: caFile() });
  assert.match(only(ip, 'tls-error').title, /holds a\.test, www\.a\.test, not 127\.0\.0\.1 \(the target's IP address; no SNI was sent\)/);
  // With the right SNI and the CA: no TLS finding at all.
  const ok = await probe(signed.port, { sni: 'www.a.test', cacert: caFile() });
  assert.equal(ok.modes.short!.ok, 6);
  assert.equal(ok.findings.filter((x) => x.id.startsWith('tls-')).length, 0);
});

test('unknown CA: --cacert named; -k makes it an info finding that still names the problem', async () => {
  const r = await probe(signed.port, { sni: 'a.test' });
  const f = only(r, 'tls-error');
  assert.match(f.title, /issuer "CN=lbdiag test CA" is not among this machine's trusted CAs/);
  assert.match(f.remedy, /^--cacert FILE with the issuing CA/);
  const k = await probe(signed.port, { sni: 'a.test', insecure: true });
  assert.equal(k.modes.short!.ok, 6);
  const info = only(k, 'tls-error');
  assert.equal(info.severity, 'info');
  assert.match(info.title, /6 of 6 TLS handshakes presented a certificate that does not verify \(tls-unknown-ca\); -k let them through/);
});

test('a TLS alert, a plain-text port: classified; a close inside the handshake without alert stays closed and all-failing names both readings', async () => {
  const a = await probe(alerting.handshake, { sni: 'a.test', cacert: caFile() });
  assert.deepEqual(Object.keys(a.modes.short!.errorKinds), ['tls-handshake']);
  assert.match(only(a, 'tls-error').title, /the server aborted the handshake with the alert handshake_failure/);
  const v = await probe(alerting.version, { sni: 'a.test', cacert: caFile() });
  assert.deepEqual(Object.keys(v.modes.short!.errorKinds), ['tls-protocol-version']);
  assert.match(only(v, 'tls-error').remedy, /enable TLS 1\.2 or 1\.3 on the server/);
  const h2 = await probe(alerting.alpn, { sni: 'a.test', cacert: caFile() });
  assert.deepEqual(Object.keys(h2.modes.short!.errorKinds), ['tls-alpn']);
  assert.match(only(h2, 'tls-error').remedy, /--http2 for an h2-only server/);
  const p = await probe(plain);
  assert.deepEqual(Object.keys(p.modes.short!.errorKinds), ['tls-not-tls']);
  assert.match(only(p, 'tls-error').remedy, /use http:\/\//);
  const c = await probe(closer);
  const kinds = c.modes.short!.errorKinds;
  assert.deepEqual(Object.keys(kinds).sort(), Object.keys(kinds).filter((k) => k === 'closed' || k === 'reset').sort(), JSON.stringify(kinds));
  assert.equal(Object.values(kinds).reduce((s, v) => s + (v.inTls ?? 0), 0), 6);
  assert.equal(c.findings.filter((x) => x.id === 'tls-error').length, 0, 'no TLS alert: not claimed as a TLS error');
  const all = only(c, 'all-failing');
  assert.match(all.explanation, /SNI router .* no route for the name sent/);
  assert.match(all.explanation, /no healthy backend/);
  assert.match(all.remedy, /--sni/);
});
