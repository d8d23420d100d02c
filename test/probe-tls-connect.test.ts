/**
 * connectTls (src/probe/tls-connect.ts) as an `http2.connect` `createConnection`: the path an
 * HTTP/2 (ALPN h2) probe takes. Against a real node:http2 secure server on loopback: SNI and
 * --cacert verification, ALPN h2 reported, TCP and TLS handshakes timed apart; a self-signed
 * certificate fails the session with code tls-self-signed before any stream is sent.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { connectTls, TlsConnectError, type TlsHandshake } from '../src/probe/tls-connect.js';
import { tlsSettings } from '../src/probe/tls-options.js';
import { runProbe } from '../src/probe/run.js';
import { makeCa, makeLeaf, type Pem } from './support/tls-backends.js';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

let ca: Pem;
let server: http2.Http2SecureServer;
let port = 0;
let streams = 0;
const caFile = path.join(os.tmpdir(), `lbdiag-tls-connect-ca-${process.pid}.pem`);

before(async () => {
  ca = await makeCa();
  fs.writeFileSync(caFile, ca.cert);
  const leaf = await makeLeaf({ names: ['h2.test'], ca });
  server = http2.createSecureServer({ cert: leaf.cert, key: leaf.key });
  server.on('stream', (stream) => {
    streams++;
    stream.respond({ ':status': 200, 'x-lbdiag-backend': 'h2-one' });
    stream.end('ok');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});

after(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  fs.rmSync(caFile, { force: true });
});

function get(session: http2.ClientHttp2Session): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const req = session.request({ ':path': '/' });
    req.on('response', (h) => resolve(h['x-lbdiag-backend'] as string | undefined));
    req.on('error', reject);
    req.resume();
  });
}

test('http2.connect over connectTls: SNI, --cacert, ALPN h2, handshake timing', async () => {
  const settings = tlsSettings({ scheme: 'https', host: '127.0.0.1' }, { sni: 'h2.test', cacert: caFile })!;
  let hs: TlsHandshake | undefined;
  const session = http2.connect(`https://127.0.0.1:${port}`, { createConnection: () => connectTls(settings, { address: '127.0.0.1', port, alpn: ['h2'], onHandshake: (h) => (hs = h) }) });
  try {
    assert.equal(await get(session), 'h2-one');
    assert.ok(hs);
    assert.equal(hs.info.alpn, 'h2');
    assert.equal(hs.info.sni, 'h2.test');
    assert.deepEqual(hs.info.verify, []);
    assert.ok(hs.connectMs > 0 && hs.tlsMs > 0, JSON.stringify(hs));
  } finally {
    session.close();
  }
});

test('a certificate that does not verify fails the session with the tls-* kind before any stream', async () => {
  const before = streams;
  const settings = tlsSettings({ scheme: 'https', host: '127.0.0.1' }, { sni: 'other.test', cacert: caFile })!;
  const session = http2.connect(`https://127.0.0.1:${port}`, { createConnection: () => connectTls(settings, { address: '127.0.0.1', port, alpn: ['h2'] }) });
  const err = await new Promise<Error>((resolve) => {
    session.on('error', resolve);
    session.request({ ':path': '/' }).on('error', () => undefined);
  });
  session.destroy();
  assert.ok(err instanceof TlsConnectError, String(err));
  assert.equal(err.code, 'tls-name-mismatch');
  assert.equal(err.message, 'the certificate holds h2.test, not "other.test" (the SNI sent)');
  assert.equal(streams, before);
});

test('probe --http2 over TLS: --sni and --cacert verify, ALPN h2 and the TLS handshake reported apart; self-signed without -k is tls-error', async () => {
  const ok = await runProbe({ target: `https://127.0.0.1:${port}/`, http2: true, sni: 'h2.test', cacert: caFile, mode: 'short', requests: 4, concurrency: 2, timeoutMs: 4000 });
  const m = ok.modes.short!;
  assert.equal(m.ok, 4, JSON.stringify(m.errorKinds));
  assert.deepEqual(m.backends.map((b) => b.name), ['h2-one']);
  assert.equal(m.latency.tls?.count, m.connections);
  assert.deepEqual(m.tls!.backends.map((b) => [b.name, b.alpn, b.sni]), [['h2-one', { h2: m.connections }, { 'h2.test': m.connections }]]);
  const bad = await runProbe({ target: `https://127.0.0.1:${port}/`, http2: true, sni: 'h2.test', mode: 'short', requests: 4, concurrency: 2, timeoutMs: 4000 });
  const f = bad.findings.find((x) => x.id === 'tls-error');
  assert.ok(f, bad.findings.map((x) => x.id).join(', '));
  assert.match(f.title, /every one of 4 requests failed in the TLS handshake: the certificate's issuer "CN=lbdiag test CA" is not among this machine's trusted CAs/);
  assert.match(f.remedy, /--cacert FILE/);
});
