/**
 * tls-cert-mismatch when TLS is NOT passed through: a real haproxy `mode tcp` round robin (layer 4)
 * over two TLS-terminating haproxy `mode http` frontends (two "ingress nodes"), each with its own
 * certificate for the same name and each balancing per request over its own two `lbdiag whoami`
 * backends (plain HTTP behind the proxies). The certificate follows the group of backends, but it
 * is the terminating proxies' certificate, not the backends': the finding must not say "TLS passed
 * through to the backends" nor "give every backend the same certificate". Client connections that
 * reached several backends prove the terminator sits in front of several backends.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runProbe } from '../src/probe/run.js';
import { freePort, hasCommand, start, waitForPort, type Started } from './support/processes.js';
import { makeCa, makeLeaf } from './support/tls-backends.js';
import { startWhoamiProcess } from './support/whoami-process.js';

const HOST = '127.0.145.1';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lbdiag-tls-terminators-'));
const caFile = path.join(tmp, 'ca.pem');
let haproxy: Started | undefined;
let port = 0;
let backends: Awaited<ReturnType<typeof startWhoamiProcess>>[] = [];
const skip = !hasCommand('haproxy') && 'haproxy not installed';

before(async () => {
  if (skip) return;
  const ca = await makeCa();
  fs.writeFileSync(caFile, ca.cert);
  // Two nodes, two certificates for the same name (as two ingress replicas issued apart).
  for (const node of [1, 2]) {
    const pem = await makeLeaf({ names: ['app.test'], ca });
    fs.writeFileSync(path.join(tmp, `node${node}.pem`), `${pem.cert.trim()}\n${pem.key.trim()}\n`);
  }
  backends = await Promise.all(['g1a', 'g1b', 'g2a', 'g2b'].map((name) => startWhoamiProcess(HOST, ['--name', name])));
  port = await freePort(HOST);
  const n1 = await freePort(HOST);
  const n2 = await freePort(HOST);
  const cfg = [
    'defaults',
    '    timeout connect 5s',
    '    timeout client 30s',
    '    timeout server 30s',
    'frontend l4',
    '    mode tcp',
    `    bind ${HOST}:${port}`,
    '    default_backend nodes',
    'backend nodes',
    '    mode tcp',
    '    balance roundrobin',
    `    server node1 ${HOST}:${n1}`,
    `    server node2 ${HOST}:${n2}`,
    ...[1, 2].flatMap((node) => [
      `frontend node${node}`,
      '    mode http',
      `    bind ${HOST}:${node === 1 ? n1 : n2} ssl crt ${path.join(tmp, `node${node}.pem`)}`,
      `    default_backend group${node}`,
      `backend group${node}`,
      '    mode http',
      '    balance roundrobin',
      ...backends.slice(2 * (node - 1), 2 * node).map((b, i) => `    server s${i} ${HOST}:${b.port}`),
    ]),
    '',
  ].join('\n');
  fs.writeFileSync(path.join(tmp, 'haproxy.cfg'), cfg);
  haproxy = start('haproxy', ['-f', path.join(tmp, 'haproxy.cfg'), '-db']);
  await waitForPort(HOST, port, 10_000).catch((e: Error) => {
    throw new Error(`${e.message}: ${haproxy?.stderr()}`);
  });
});

after(async () => {
  await haproxy?.stop();
  await Promise.all(backends.map((b) => b.p.stop()));
  fs.rmSync(tmp, { recursive: true, force: true });
});

test('two TLS-terminating proxies, each with its own certificate and backends: tls-cert-mismatch names the proxies, not the backends', { skip, timeout: 60_000 }, async () => {
  const r = await runProbe({ target: `https://${HOST}:${port}/`, sni: 'app.test', cacert: caFile, mode: 'both', requests: 60, concurrency: 4, timeoutMs: 5000 });
  const f = r.findings.find((x) => x.id === 'tls-cert-mismatch');
  assert.ok(f, r.findings.map((x) => x.id).join(', '));
  assert.ok(r.findings.some((x) => x.id === 'l7-proxy'));
  assert.match(f.title, /^2 different TLS certificates, one per group of backends: g1a\+g1b \/ g2a\+g2b|^2 different TLS certificates, one per group of backends: g2a\+g2b \/ g1a\+g1b/);
  assert.match(f.title, /\(several TLS-terminating proxies, each with its own certificate\)$/);
  assert.doesNotMatch(f.title, /passed through/);
  assert.ok(f.evidence.some((e) => /^\d+ client connections? reached several backends \(see l7-proxy\): the certificate was presented by a TLS-terminating proxy/.test(e)), f.evidence.join('\n'));
  assert.match(f.remedy!, /^Give every TLS-terminating proxy node or listener the same certificate and key/);
  assert.doesNotMatch(f.remedy!, /Give every backend/);
});
