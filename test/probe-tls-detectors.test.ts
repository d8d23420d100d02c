/**
 * The TLS detectors on tallies built from records (no network): tls-cert-mismatch claims "one
 * certificate per backend" only beyond chance, never for a TLS terminator whose certificates are
 * unrelated to the backend (a layer-7 balancer with two nodes), nor with too few handshakes, nor
 * when a backend showed two certificates; tls-error stays silent on a clean run.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyse } from '../src/probe/analyse.js';
import type { ProbeRecord } from '../src/probe/record.js';
import { ModeTally } from '../src/probe/tally.js';
import type { TlsInfo } from '../src/probe/tls-info.js';
import { tlsCertMismatch } from '../src/probe/detectors/tls-cert-mismatch.js';
import { probeContext } from '../src/probe/detectors/context.js';
import type { Finding } from '../src/core/finding.js';

const fp = (c: string): string => Array.from({ length: 32 }, () => c + c).join(':');

function info(cert: string): TlsInfo {
  return {
    version: 'TLSv1.3',
    cipher: 'TLS_AES_256_GCM_SHA384',
    alpn: 'http/1.1',
    sni: 'pool.test',
    cert: { subject: `CN=${cert}.test`, issuer: 'CN=ca', sans: [`DNS:${cert}.test`], notBefore: '2026-01-01T00:00:00.000Z', notAfter: '2027-01-01T00:00:00.000Z', fingerprint256: fp(cert === 'a' ? 'A' : cert === 'b' ? 'B' : 'C'), selfSigned: false },
    verify: [],
  };
}

/** Short-mode records: one handshake each, `pairs` of [backend, certificate]. */
function tally(pairs: [string, string][]): ModeTally {
  const t = new ModeTally('short');
  pairs.forEach(([backend, cert], i) => {
    const r: ProbeRecord = { mode: 'short', t: i, order: i, conn: i + 1, port: 40000 + i, addr: '127.0.0.1', reused: false, seq: 1, totalMs: 2, connectMs: 0.2, tlsMs: 1, status: 200, backend, tls: info(cert) };
    t.add(r);
  });
  return t;
}

const mismatch = (t: ModeTally) => tlsCertMismatch([t], probeContext([t], {}));

test('passthrough: each backend its own certificate, 20 handshakes: raised, naming backends and fingerprints', () => {
  const pairs: [string, string][] = Array.from({ length: 20 }, (_, i) => (i % 2 ? ['bravo', 'b'] : ['alpha', 'a']));
  const found = mismatch(tally(pairs));
  assert.ok(found && !Array.isArray(found));
  const f = found as Finding;
  assert.equal(f.id, 'tls-cert-mismatch');
  assert.deepEqual(f.metrics?.backends, ['alpha', 'bravo']);
  assert.deepEqual(f.metrics?.fingerprints, [fp('A'), fp('B')]);
  assert.ok((f.metrics?.chance as number) < 1e-3);
});

test('too few handshakes to tell from chance (4): nothing claimed', () => {
  assert.equal(mismatch(tally([['alpha', 'a'], ['bravo', 'b'], ['alpha', 'a'], ['bravo', 'b']])), null);
});

test('a TLS terminator with two nodes and certificates, unrelated to the backend: not raised', () => {
  // Every backend is reached through both certificates (a layer-7 balancer pair in front).
  const pairs: [string, string][] = Array.from({ length: 40 }, (_, i) => [i % 2 ? 'bravo' : 'alpha', i % 4 < 2 ? 'a' : 'b']);
  assert.equal(mismatch(tally(pairs)), null);
});

test('one certificate for every backend, or a backend with two certificates (a renewal): not raised', () => {
  assert.equal(mismatch(tally(Array.from({ length: 30 }, (_, i) => [i % 3 ? 'bravo' : 'alpha', 'a'] as [string, string]))), null);
  const renewal: [string, string][] = [...Array.from({ length: 20 }, (_, i) => [i % 2 ? 'bravo' : 'alpha', i % 2 ? 'b' : 'a'] as [string, string]), ['alpha', 'c']];
  assert.equal(mismatch(tally(renewal)), null);
});

test('a clean https run: no TLS finding from analyse', () => {
  const t = tally(Array.from({ length: 30 }, (_, i) => [['alpha', 'bravo', 'charlie'][i % 3], 'a'] as [string, string]));
  const ids = analyse([t], {}).map((f) => f.id);
  assert.equal(ids.filter((id) => id.startsWith('tls-')).length, 0, ids.join(', '));
});
