/**
 * single-backend through a real nginx `ip_hash` (which keys on the first three octets of an IPv4
 * client address): ten --source addresses in one /24 are one client to it, so the finding must say
 * so and point at addresses in different /24 networks instead of calling it "one backend in
 * service"; ten addresses in ten /24s then prove source-affinity. A capture of the first run read
 * by `lbdiag pcap` words the same finding for the capture's ten clients.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { findBinary } from '../src/lab/tools.js';
import { freePort, hasCommand, isRoot, runLbdiag, start, waitForPort } from './support/processes.js';
import { nginxHttpConf } from './support/nginx-conf.js';
import { startWhoamiProcess, until } from './support/whoami-process.js';

const HOST = '127.0.81.1';
const nginx = findBinary('nginx');

interface Finding {
  id: string;
  evidence: string[];
  explanation: string;
  remedy: string;
}

async function probe(port: number, sources: string, n: number): Promise<Finding[]> {
  const r = await runLbdiag(['probe', `${HOST}:${port}`, '--mode', 'short', '-n', String(n), '-c', '4', '--source', sources, '--json', '--fail-on', 'none'], { timeoutMs: 60_000 });
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { findings: Finding[] }).findings;
}

test('nginx ip_hash: ten sources in one /24 read as one client (single-backend says so); ten /24s prove source-affinity', { skip: nginx === null ? 'nginx not installed' : false, timeout: 120_000 }, async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lbdiag-iphash-'));
  const backends = await Promise.all(['be1', 'be2', 'be3'].map((name) => startWhoamiProcess(HOST, ['--name', name])));
  const port = await freePort(HOST);
  const conf = path.join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    nginxHttpConf(dir, [
      `upstream hashed { ip_hash; ${backends.map((b) => `server ${HOST}:${b.port};`).join(' ')} }`,
      `server { listen ${HOST}:${port}; location / { proxy_pass http://hashed; } }`,
    ]),
  );
  const lb = start(nginx!, ['-c', conf, '-p', dir]);
  try {
    await waitForPort(HOST, port);
    // One /24: nginx sees one client, every connection goes to one backend. Captured on lo (client side of nginx) when tcpdump can run.
    const capture = hasCommand('tcpdump') && isRoot() ? path.join(dir, 'client-side.pcap') : null;
    const dump = capture === null ? null : start('tcpdump', ['-i', 'lo', '--immediate-mode', '-U', '-w', capture, `host ${HOST} and tcp port ${port}`]);
    if (dump !== null) await until('tcpdump listening', () => /listening on/.test(dump.stderr()) || dump.child.exitCode !== null, 10_000);
    const one = await probe(port, '127.0.82.20-127.0.82.29', 100);
    await dump?.stop('SIGINT');
    const sb = one.find((f) => f.id === 'single-backend');
    assert.ok(sb, `single-backend expected: ${one.map((f) => f.id)}`);
    assert.ok(!one.some((f) => f.id === 'source-affinity'));
    assert.ok(sb.evidence.some((e) => e === 'the connections came from 10 source addresses, all in 127.0.82.0/24'), sb.evidence.join('\n'));
    assert.match(sb.explanation, /`ip_hash` keys on the first three octets .* every address in 127\.0\.82\.0\/24 is the same client/);
    assert.doesNotMatch(sb.explanation, /all probe connections came from one address/);
    assert.match(sb.remedy, /different \/24 networks .*`lbdiag probe VIP --mode short -n 300 --source 127\.0\.1\.1,127\.0\.2\.1,/);
    if (capture !== null) {
      const r = await runLbdiag(['pcap', capture, '--json', '--fail-on', 'none'], { timeoutMs: 60_000 });
      assert.equal(r.code, 0, r.stderr);
      const doc = JSON.parse(r.stdout) as { findings: Finding[] };
      const f = doc.findings.find((x) => x.id === 'single-backend');
      assert.ok(f, `pcap: single-backend expected: ${doc.findings.map((x) => x.id)}`);
      assert.ok(f.evidence.includes('the requests came from 10 client addresses, all in 127.0.82.0/24'), f.evidence.join('\n'));
      assert.match(f.explanation, /`ip_hash` keys on the first three octets .* every address in 127\.0\.82\.0\/24 is the same client/);
      assert.doesNotMatch(f.remedy, /--expect/); // a pcap option it does not have
    }
    // Ten /24s (200 connections: source-affinity needs 5 per source and backend): the hash shows (each address stays on one backend, different addresses reach different ones).
    const ten = await probe(port, Array.from({ length: 10 }, (_, k) => `127.0.${83 + k}.1`).join(','), 200);
    assert.ok(ten.some((f) => f.id === 'source-affinity'), `source-affinity expected: ${ten.map((f) => f.id)}`);
    assert.ok(!ten.some((f) => f.id === 'single-backend'));
  } finally {
    await lb.stop();
    await Promise.all(backends.map((b) => b.p.stop()));
    rmSync(dir, { recursive: true, force: true });
  }
});
