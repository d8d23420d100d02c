/**
 * Keep-alive pinning and client-address hashing, over real sockets: with `--source` over ten
 * addresses in ten /24 networks, a real nginx `proxy_pass` (layer 7) with `hash $remote_addr
 * consistent` keeps every connection of an address on that address's backend, exactly as a
 * layer-4 balancer would. The probe must not call that keep-alive pinning ("per-request balancing
 * ruled out", "balance per request: nginx proxy_pass"): the backend follows the client address
 * per request too. source-affinity names the hash and says why keep-alive cannot be judged from
 * these addresses. nginx routing by a map of client addresses (7/2/1 of the ten per backend): the
 * uneven shares are those of how the ten addresses map, explained by source-affinity (imbalance
 * info, no weights guessed). Control: haproxy `mode tcp` round robin with the same sources (no affinity)
 * still raises keepalive-pinning.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findBinary } from '../src/lab/tools.js';
import { startHaproxy, haproxyInstalled } from '../src/lab/balancers/index.js';
import { freePort, runLbdiag, start, waitForPort } from './support/processes.js';
import { nginxHttpConf } from './support/nginx-conf.js';
import { startWhoamiProcess } from './support/whoami-process.js';

const HOST = '127.0.131.1';
/** Ten client addresses in ten /24 networks (nginx's hash sees ten clients). */
const SOURCES = Array.from({ length: 10 }, (_, k) => `127.0.${132 + k}.1`).join(',');
const nginx = findBinary('nginx');

interface Finding {
  id: string;
  severity: string;
  evidence: string[];
  explanation: string;
  remedy: string;
}

let backends: Awaited<ReturnType<typeof startWhoamiProcess>>[] = [];
before(async () => {
  backends = await Promise.all(['be1', 'be2', 'be3'].map((name) => startWhoamiProcess(HOST, ['--name', name])));
});
after(async () => {
  await Promise.all(backends.map((b) => b.p.stop()));
});

/** Keep-alive (-c 10: one connection per source) then short mode, 600 requests each (60 connections per source: the source x backend table stays thick enough for the test however the hash spreads the ten addresses), from the ten sources. */
async function probe(port: number): Promise<Finding[]> {
  const r = await runLbdiag(['probe', `${HOST}:${port}`, '-n', '600', '-c', '10', '--source', SOURCES, '--json', '--fail-on', 'none'], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { findings: Finding[] }).findings;
}

test('nginx proxy_pass with hash $remote_addr, ten sources: source-affinity, no keepalive-pinning (per connection and per request look alike)', { skip: nginx === null ? 'nginx not installed' : false, timeout: 120_000 }, async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lbdiag-srchash-'));
  const port = await freePort(HOST);
  const conf = path.join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    nginxHttpConf(dir, [
      `upstream hashed { hash $remote_addr consistent; ${backends.map((b) => `server ${HOST}:${b.port};`).join(' ')} }`,
      `server { listen ${HOST}:${port}; location / { proxy_pass http://hashed; } }`,
    ]),
  );
  const lb = start(nginx!, ['-c', conf, '-p', dir]);
  try {
    await waitForPort(HOST, port);
    const findings = await probe(port);
    const ids = findings.map((f) => f.id);
    // The hash spread ten addresses over the three backends (else this setup proves nothing).
    const sa = findings.find((f) => f.id === 'source-affinity');
    assert.ok(sa, `source-affinity expected: ${ids}`);
    assert.ok(ids.includes('l7-proxy'), `l7-proxy expected: ${ids}`);
    assert.ok(!ids.includes('keepalive-pinning'), `keepalive-pinning must not be claimed through a per-request proxy that hashes the client address: ${JSON.stringify(findings.find((f) => f.id === 'keepalive-pinning'), null, 1)}`);
    assert.match(sa.explanation, /The 10 keep-alive connections whose address reached one backend in the whole run stayed on it too, .*cannot tell the two apart/);
  } finally {
    await lb.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('nginx proxy_pass routing by client address (7 of the ten to be1, 2 to be2, 1 to be3): the uneven shares are explained by source-affinity (info), no weights guessed', { skip: nginx === null ? 'nginx not installed' : false, timeout: 120_000 }, async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lbdiag-srcmap-'));
  const port = await freePort(HOST);
  const conf = path.join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    nginxHttpConf(dir, [
      'map $remote_addr $up { 127.0.132.1 u2; 127.0.133.1 u2; 127.0.134.1 u3; default u1; }',
      ...backends.map((b, i) => `upstream u${i + 1} { server ${HOST}:${b.port}; }`),
      `server { listen ${HOST}:${port}; location / { proxy_pass http://$up; } }`,
    ]),
  );
  const lb = start(nginx!, ['-c', conf, '-p', dir]);
  try {
    await waitForPort(HOST, port);
    const findings = await probe(port);
    const ids = findings.map((f) => f.id);
    assert.ok(ids.includes('source-affinity'), `source-affinity expected: ${ids}`);
    assert.ok(!ids.includes('keepalive-pinning'), `no keepalive-pinning: ${ids}`);
    const im = findings.filter((f) => f.id === 'imbalance');
    assert.equal(im.length, 2, `imbalance in both modes expected: ${ids}`);
    for (const f of im) {
      assert.equal(f.severity, 'info', JSON.stringify(f, null, 1));
      assert.ok(f.evidence.includes('the 10 source addresses each reached one backend (see source-affinity): be1 ← 7, be2 ← 2, be3 ← 1 sources'), f.evidence.join('\n'));
      assert.ok(!f.evidence.some((e) => /fit weights/.test(e)), f.evidence.join('\n'));
    }
  } finally {
    await lb.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('control: haproxy mode tcp round robin, the same ten sources: keepalive-pinning still raised', async (t) => {
  if (!haproxyInstalled()) return t.skip('haproxy not installed');
  const port = await freePort(HOST);
  const lb = await startHaproxy({ mode: 'tcp', listen: { host: HOST, port }, backends: backends.map((b, i) => ({ host: HOST, port: b.port, name: `be${i + 1}` })), balance: 'roundrobin' });
  try {
    const findings = await probe(port);
    const ids = findings.map((f) => f.id);
    assert.ok(ids.includes('keepalive-pinning'), `keepalive-pinning expected: ${ids}`);
    assert.ok(!ids.includes('source-affinity'), `no source-affinity through round robin: ${ids}`);
  } finally {
    await lb.stop();
  }
});
