/**
 * `lbdiag lab` with real haproxy and nginx (skipped with the reason when not installed) and the
 * stall scenario in a network namespace (skipped unless root with ip netns): expected findings,
 * and every process, port and namespace gone afterwards.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { haproxyInstalled, nginxInstalled } from '../src/lab/balancers/index.js';
import { canUseNetns } from '../src/lab/netns.js';
import { assertNothingLeft, ids, lab } from './lab-support.js';

test('pinning with --balancer haproxy: mode tcp pins, mode http does not', { timeout: 40_000 }, async (t) => {
  if (!haproxyInstalled()) return t.skip('haproxy not installed');
  const { r, rep } = await lab(['--balancer', 'haproxy']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(rep.scenarios.map((s) => s.balancer), ['haproxy-tcp', 'haproxy-http']);
  assert.ok(ids(rep, 'l4').includes('keepalive-pinning'), ids(rep, 'l4').join(','));
  assert.ok(!ids(rep, 'l7').includes('keepalive-pinning'), ids(rep, 'l7').join(','));
  assert.ok(rep.started.pids.length >= 2, 'two haproxy processes were started');
  await assertNothingLeft(rep);
});

test('pinning with --balancer nginx: stream pins, proxy_pass does not', { timeout: 40_000 }, async (t) => {
  if (!nginxInstalled()) return t.skip('nginx not installed');
  const { r, rep } = await lab(['--balancer', 'nginx']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(rep.scenarios[1].balancer, 'nginx-http');
  assert.ok(ids(rep, 'l4').includes('keepalive-pinning'), ids(rep, 'l4').join(','));
  assert.ok(!ids(rep, 'l7').includes('keepalive-pinning'), ids(rep, 'l7').join(','));
  assert.ok(rep.started.pids.length >= 1);
  await assertNothingLeft(rep);
});

test('stale-listener with --balancer haproxy: two real processes on one port (SO_REUSEPORT), ~1 in 2 fail', { timeout: 40_000 }, async (t) => {
  if (!haproxyInstalled()) return t.skip('haproxy not installed');
  const { r, rep } = await lab(['--scenario', 'stale-listener', '--balancer', 'haproxy', '-n', '120']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(rep.scenarios[0].balancer, 'haproxy-stale');
  assert.ok(rep.scenarios[0].found.includes('intermittent-errors'));
  assert.equal(rep.started.pids.length, 2);
  await assertNothingLeft(rep);
});

test('stall: ~1 s connects in a namespace (stall-1s); the capture analysed; namespace removed', { timeout: 40_000 }, async (t) => {
  const ok = canUseNetns();
  if (!ok.ok) {
    // Not root: the scenario says why and still exits 0 (skipped is not failed).
    const { r, rep } = await lab(['--scenario', 'stall']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(rep.scenarios[0].skipped ?? '', /root|ip|iptables/);
    return t.skip(ok.reason);
  }
  const { r, rep } = await lab(['--scenario', 'stall']);
  const s = rep.scenarios[0];
  try {
    assert.equal(r.code, 0, `${r.stderr}\n${JSON.stringify(rep.summary)}`);
    assert.ok(s.found.includes('stall-1s'), s.found.join(','));
    const f = s.probe!.findings.find((x) => x.id === 'stall-1s')!;
    assert.ok((f.metrics!.near1s as number) >= 2, JSON.stringify(f.metrics));
    assert.ok(s.pcap, 'a capture outcome');
    if (!s.pcap.skipped) assert.ok(s.found.includes('syn-port-reuse-drop'), s.found.join(','));
    else t.diagnostic(`capture not analysed: ${s.pcap.skipped}`);
    const netns = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout;
    for (const name of rep.started.namespaces) assert.ok(!netns.includes(name), `namespace ${name} left behind`);
    await assertNothingLeft(rep);
  } finally {
    if (s?.pcap?.file) fs.rmSync(path.dirname(s.pcap.file), { recursive: true, force: true });
  }
});
