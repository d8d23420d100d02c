/**
 * whoami --tls over real sockets: HTTP/1.1 and h2 chosen by ALPN on one port, the self-signed
 * certificate (names, fingerprint) verified by clients that trust exactly it, --cert/--key files,
 * gRPC over TLS with @grpc/grpc-js, and bad input. Addresses 127.0.14.x.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { startWhoami } from '../src/whoami/server.js';
import { UsageError } from '../src/core/errors.js';
import { decodeGetResponse, encodeGetRequest, WHOAMI_GET_PATH } from '../src/wire/grpc.js';
import type { WhoamiAnswer } from '../src/wire/identity-headers.js';

function h1(host: string, port: number, opts: https.RequestOptions): Promise<{ headers: Record<string, unknown>; body: string }> {
  return new Promise((resolve, reject) => {
    https
      .get({ host, port, path: '/api', agent: false, ...opts }, (res) => {
        let b = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => (b += d));
        res.on('end', () => resolve({ headers: res.headers, body: b }));
      })
      .on('error', reject);
  });
}

function h2(url: string, opts: http2.SecureClientSessionOptions, p = '/api'): Promise<{ headers: http2.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const s = http2.connect(url, opts);
    s.on('error', reject);
    const r = s.request({ ':path': p });
    let headers: http2.IncomingHttpHeaders = {};
    let b = '';
    r.on('response', (h) => (headers = h));
    r.setEncoding('utf8');
    r.on('data', (d: string) => (b += d));
    r.on('end', () => {
      s.close();
      resolve({ headers, body: b });
    });
    r.on('error', reject);
  });
}

test('--tls: self-signed certificate for the names and addresses served; h2 and HTTP/1.1 by ALPN on one port; TLS details in /api', async () => {
  const host = '127.0.14.1';
  const h = await startWhoami({ port: 0, host, name: 'tls-test', tls: true });
  try {
    const port = h.addresses[0].port;
    assert.ok(h.tls);
    const x = new X509Certificate(h.tls.cert);
    assert.equal(x.fingerprint256, h.tls.fingerprint256);
    assert.match(h.tls.fingerprint256, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    assert.ok(x.checkHost('localhost'), 'names localhost');
    assert.ok(x.checkIP(host), `names the listen address ${host}`);
    assert.ok(x.checkIP('127.0.0.1'));
    // A client that trusts exactly this certificate verifies it (no -k).
    const a2 = await h2(`https://${host}:${port}`, { ca: h.tls.cert, servername: 'localhost' });
    const j2 = JSON.parse(a2.body) as WhoamiAnswer;
    assert.equal(j2.protocol, 'h2');
    assert.equal(j2.stream, 1);
    assert.deepEqual({ ...j2.tls, cipher: undefined }, { servername: 'localhost', alpn: 'h2', version: j2.tls?.version, cipher: undefined });
    assert.match(String(j2.tls?.version), /^TLSv1\.[23]$/);
    assert.ok(j2.tls?.cipher);
    assert.equal(a2.headers['x-lbdiag-backend'], 'tls-test');
    assert.match(String(a2.headers['x-lbdiag-conn']), /^\d+;seq=1$/);
    // HTTP/1.1 over TLS (node:https offers no ALPN), connecting to the IP: no SNI.
    const a1 = await h1(host, port, { ca: h.tls.cert, servername: '' });
    const j1 = JSON.parse(a1.body) as WhoamiAnswer;
    assert.equal(j1.protocol, 'http/1.1');
    assert.equal(j1.tls?.alpn, null);
    assert.equal(j1.tls?.servername, null);
    // A client offering only http/1.1 by ALPN.
    const alpn11 = await new Promise<{ alpn: string | false; answer: string }>((resolve, reject) => {
      let answer = '';
      const s = tls.connect({ host, port, ca: h.tls!.cert, servername: 'localhost', ALPNProtocols: ['http/1.1'] }, () => {
        s.end('GET /api HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n');
      });
      s.setEncoding('utf8');
      s.on('data', (d: string) => (answer += d));
      s.on('close', () => resolve({ alpn: s.alpnProtocol ?? false, answer }));
      s.on('error', reject);
    });
    assert.equal(alpn11.alpn, 'http/1.1');
    assert.match(alpn11.answer, /"alpn": "http\/1\.1"/);
    // A verifying client that does not trust it fails (self-signed), and plain HTTP on the TLS port is a failed handshake.
    await assert.rejects(h1(host, port, { servername: 'localhost' }), /self-signed|self signed/);
    await new Promise<void>((resolve) => {
      const s = net.connect({ host, port }, () => s.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
      s.on('error', () => {});
      s.on('close', () => resolve());
      s.resume();
    });
    const deadline = Date.now() + 3000;
    while (h.stats().tlsHandshakeFailures < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    assert.equal(h.stats().tlsHandshakeFailures, 2, 'the untrusting client and the plain-HTTP client');
    assert.equal(h.stats().connectionsByProtocol.h2, 1);
    assert.equal(h.stats().connectionsByProtocol['http/1.1'], 2);
  } finally {
    await h.close();
  }
});

test('--cert/--key from files; gRPC over TLS with @grpc/grpc-js trusting that certificate; bad files are usage errors', async () => {
  const host = '127.0.14.2';
  const dir = mkdtempSync(path.join(tmpdir(), 'lbdiag-tls-'));
  const gen = await startWhoami({ port: 0, host, tls: true });
  const material = gen.tls!;
  await gen.close();
  const cert = path.join(dir, 'tls.crt');
  const key = path.join(dir, 'tls.key');
  writeFileSync(cert, material.cert);
  writeFileSync(key, material.key);
  writeFileSync(path.join(dir, 'junk.pem'), 'not a certificate\n');
  try {
    await assert.rejects(startWhoami({ port: 0, host, certFile: path.join(dir, 'missing.crt'), keyFile: key }), (e: Error) => e instanceof UsageError && /cannot read --cert .*no such file/.test(e.message));
    await assert.rejects(startWhoami({ port: 0, host, certFile: path.join(dir, 'junk.pem'), keyFile: key }), (e: Error) => e instanceof UsageError && /not a PEM certificate/.test(e.message));
    await assert.rejects(startWhoami({ port: 0, host, certFile: cert }), (e: Error) => e instanceof UsageError && /--cert and --key go together/.test(e.message));
    const h = await startWhoami({ port: 0, host, name: 'tls-files', certFile: cert, keyFile: key });
    try {
      assert.equal(h.tls?.fingerprint256, material.fingerprint256);
      assert.equal(h.tls?.selfSigned, false);
      const port = h.addresses[0].port;
      const client = new grpc.Client(`${host}:${port}`, grpc.credentials.createSsl(Buffer.from(material.cert)), { 'grpc.ssl_target_name_override': 'localhost' });
      try {
        const reply = await new Promise<Buffer>((resolve, reject) =>
          client.makeUnaryRequest(
            WHOAMI_GET_PATH,
            (x: Uint8Array) => Buffer.from(x),
            (b: Buffer) => b,
            encodeGetRequest(),
            { deadline: Date.now() + 5000 },
            (err, res) => (err ? reject(err) : resolve(res!)),
          ),
        );
        const r = decodeGetResponse(reply);
        assert.equal(r.backend, 'tls-files');
        assert.equal(r.protocol, 'h2');
      } finally {
        client.close();
      }
    } finally {
      await h.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
