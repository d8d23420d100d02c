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
