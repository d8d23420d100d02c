/**
 * single-backend through a real SNI router: haproxy `mode tcp` with `req.ssl_sni` sends a.test to
 * one backend, pool.test to a round robin over two, and handshakes without SNI (an IP target) to a
 * default backend of one. A name routed to one backend reaches one backend by design: the finding
 * must say which SNI the run sent (or that it sent none) and name the SNI router as a reading,
 * with the check (`--sni`, the router's name map), instead of only pool health and source
 * affinity. Control: pool.test reaches both backends (no single-backend); over keep-alive it pins, and
 * the fix says that balancing per request means terminating TLS on the balancer. Backends: node:https
 * servers with whoami's identity headers (test/support/tls-backends.ts), all with one certificate
 * for a.test and pool.test from a private CA (no per-backend certificate: not what this tests).
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runProbe, type ProbeOptions } from '../src/probe/run.js';
import type { ProbeReport } from '../src/probe/summary.js';
import { freePort, hasCommand, start, waitForPort, type Started } from './support/processes.js';
import { makeCa, makeLeaf, startTlsBackend, type TlsBackend } from './support/tls-backends.js';

const HOST = '127.0.0.1';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lbdiag-tls-sni-single-'));
const caFile = path.join(tmp, 'ca.pem');
let haproxy: Started | undefined;
let port = 0;
const backends: TlsBackend[] = [];
const skip = !hasCommand('haproxy') && 'haproxy not installed';

before(async () => {
  if (skip) return;
  const ca = await makeCa();
  fs.writeFileSync(caFile, ca.cert);
  const pem = await makeLeaf({ names: ['a.test', 'pool.test'], ca });
  for (const name of ['alpha', 'bravo']) backends.push(await startTlsBackend(name, pem));
  port = await freePort(HOST);
  const [a, b] = backends;
  const cfg = [
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
    '    use_backend be_pool if { req.ssl_sni -i pool.test }',
    '    default_backend be_a',
    'backend be_a',
    `    server alpha ${HOST}:${a.port}`,
    'backend be_pool',
    '    balance roundrobin',
    `    server alpha ${HOST}:${a.port}`,
    `    server bravo ${HOST}:${b.port}`,
    '',
  ].join('\n');
  fs.writeFileSync(path.join(tmp, 'haproxy.cfg'), cfg);
  haproxy = start('haproxy', ['-f', path.join(tmp, 'haproxy.cfg'), '-db']);
  await waitForPort(HOST, port, 10_000);
});

after(async () => {
  await haproxy?.stop();
  for (const b of backends) await b.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

function probe(extra: Partial<ProbeOptions>): Promise<ProbeReport> {
  return runProbe({ target: `https://${HOST}:${port}/`, mode: 'short', requests: 20, concurrency: 2, timeoutMs: 4000, ...extra });
}

const ids = (r: ProbeReport): string[] => r.findings.map((f) => f.id);

test('--sni a.test, routed to one backend: single-backend names the SNI sent and the SNI router, with the check', { skip }, async () => {
  const r = await probe({ sni: 'a.test', cacert: caFile });
  const f = r.findings.find((x) => x.id === 'single-backend');
  assert.ok(f, ids(r).join(', '));
  assert.ok(f.evidence.includes('over TLS with SNI "a.test" (an SNI router picks the backends by this name)'), f.evidence.join('\n'));
  assert.match(f.explanation!, /SNI router \(haproxy `mode tcp` with `req\.ssl_sni`.*a name routed to a single backend .* reaches one backend by design/);
  assert.match(f.remedy!, /check which backends the router maps "a\.test" to .* probe with `--sni` set to another name/);
});

test('no SNI (IP target), default backend of one: single-backend says no SNI was sent and points at --sni', { skip }, async () => {
  const r = await probe({ insecure: true });
  const f = r.findings.find((x) => x.id === 'single-backend');
  assert.ok(f, ids(r).join(', '));
  assert.ok(f.evidence.includes('over TLS with no SNI (the target is an IP address; an SNI router sends such handshakes to its default backend)'), f.evidence.join('\n'));
  assert.match(f.remedy!, /probe again with `--sni` set to the name your clients use/);
});

test('control: --sni pool.test reaches both backends (no single-backend)', { skip }, async () => {
  const r = await probe({ sni: 'pool.test', cacert: caFile });
  assert.deepEqual(r.modes.short!.backends.map((b) => b.name).sort(), ['alpha', 'bravo']);
  assert.ok(!ids(r).includes('single-backend'), ids(r).join(', '));
});

test('keep-alive through the TLS passthrough pool: keepalive-pinning\'s fix says an L7 balancer has to terminate TLS', { skip }, async () => {
  const r = await probe({ sni: 'pool.test', cacert: caFile, mode: 'keepalive', requests: 60, concurrency: 4 });
  const f = r.findings.find((x) => x.id === 'keepalive-pinning');
  assert.ok(f, ids(r).join(', '));
  assert.match(f.remedy!, /Over TLS, a balancer sees requests only if it terminates TLS: .*haproxy `bind \.\.\. ssl crt` with `mode http`/);
});
