/**
 * A gateway's pool of long-lived connections to a Kubernetes-style Service, made real in a
 * network namespace of its own: nginx (`proxy_pass` to one upstream address with `keepalive`)
 * in front of a VIP that iptables DNAT spreads per connection (`-m statistic`, kube-proxy's
 * iptables form) over `lbdiag whoami` backends. A fourth backend joins the VIP after nginx has
 * filled its pool ("the autoscaler added a pod"). The probe must not say "keep-alive pinning
 * cannot happen through it, nothing to fix" nor "run --mode short so every member gets a chance"
 * (short mode rides the same pool): it names the proxy's pooled upstream connections, proved by
 * the backends counting each short-mode request as a later one on their connection.
 * Controls: the VIP probed directly (layer 4, no proxy) and nginx without upstream keepalive
 * show no pool. Everything lives in a namespace named with this test's pid, deleted in `after`.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { canUseNetns } from '../src/lab/netns.js';
import { findBinary, runSync } from '../src/lab/tools.js';
import { LBDIAG, start, type Started } from './support/processes.js';
import { inNamespace, mustRun as must } from './support/must-run.js';
import { nginxHttpConf } from './support/nginx-conf.js';
import { until } from './support/whoami-process.js';

const check = canUseNetns();
const nginx = findBinary('nginx');
const skip = !check.ok ? check.reason ?? 'no network namespaces' : nginx === null ? 'nginx not installed' : false;
const NS = `lbpool${process.pid}`;
const VIP = '10.96.0.10';
const PODS = [1, 2, 3, 4].map((i) => ({ addr: `127.0.0.${10 + i}`, name: `pod${i}` }));
const POOLED = 8000;
const UNPOOLED = 8001;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lbdiag-upstream-pool-'));
const procs: Started[] = [];

const inNs = (cmd: string, ...args: string[]): string => inNamespace(NS, cmd, ...args);
const dnat = (i: number, probability?: number): string[] => ['-p', 'tcp', ...(probability === undefined ? [] : ['-m', 'statistic', '--mode', 'random', '--probability', String(probability)]), '-j', 'DNAT', '--to-destination', `${PODS[i].addr}:8080`];

interface Finding {
  id: string;
  evidence: string[];
  explanation: string;
  remedy: string;
}

async function probe(target: string, ...args: string[]): Promise<Finding[]> {
  const p = start('ip', ['netns', 'exec', NS, process.execPath, LBDIAG, 'probe', target, '--json', '--fail-on', 'none', ...args]);
  procs.push(p);
  const code = await p.exited;
  assert.equal(code, 0, p.stderr());
  return (JSON.parse(p.stdout()) as { findings: Finding[] }).findings;
}

before(async () => {
  if (skip) return;
  const iptables = findBinary('iptables')!;
  must(findBinary('ip')!, ['netns', 'add', NS]);
  inNs('ip', 'link', 'set', 'lo', 'up');
  inNs('ip', 'addr', 'add', `${VIP}/32`, 'dev', 'lo');
  // The "Service": locally made connections to VIP:80 are DNAT-ed per connection, 1/3, 1/2 of the rest, the rest.
  inNs(iptables, '-w', '-t', 'nat', '-N', 'SVC');
  inNs(iptables, '-w', '-t', 'nat', '-A', 'OUTPUT', '-d', VIP, '-p', 'tcp', '--dport', '80', '-j', 'SVC');
  inNs(iptables, '-w', '-t', 'nat', '-A', 'SVC', ...dnat(0, 0.33333));
  inNs(iptables, '-w', '-t', 'nat', '-A', 'SVC', ...dnat(1, 0.5));
  inNs(iptables, '-w', '-t', 'nat', '-A', 'SVC', ...dnat(2));
  for (const pod of PODS) procs.push(start('ip', ['netns', 'exec', NS, process.execPath, LBDIAG, 'whoami', '-H', pod.addr, '--port', '8080', '--name', pod.name, '--idle-timeout', '0']));
  const conf = path.join(dir, 'nginx.conf');
  fs.writeFileSync(
    conf,
    nginxHttpConf(dir, [
      `upstream pooled { server ${VIP}:80; keepalive 16; keepalive_timeout 600s; keepalive_requests 100000; }`,
      `upstream unpooled { server ${VIP}:80; }`,
      `server { listen 127.0.0.1:${POOLED}; location / { proxy_pass http://pooled; proxy_http_version 1.1; proxy_set_header Connection ""; } }`,
      `server { listen 127.0.0.1:${UNPOOLED}; location / { proxy_pass http://unpooled; } }`,
    ]),
  );
  procs.push(start('ip', ['netns', 'exec', NS, nginx!, '-c', conf, '-p', dir]));
  await until('backends and nginx listening', () => {
    const ss = runSync(findBinary('ip')!, ['netns', 'exec', NS, 'ss', '-Hltn']).stdout;
    return PODS.every((p) => ss.includes(`${p.addr}:8080`)) && ss.includes(`127.0.0.1:${POOLED}`);
  }, 30_000);
});

after(async () => {
  for (const p of procs.reverse()) await p.stop();
  if (!skip) runSync(findBinary('ip')!, ['netns', 'del', NS]);
  fs.rmSync(dir, { recursive: true, force: true });
});

test('nginx pooling connections to a DNAT-ed Service VIP: the pool is named, neither short mode nor an L7 balancer is offered as the cure', { skip, timeout: 120_000 }, async () => {
  // Fill nginx's pool, then "scale up": pod4 joins the VIP ahead of the others.
  await probe(`127.0.0.1:${POOLED}`, '--mode', 'keepalive', '-n', '200', '-c', '4');
  inNs(findBinary('iptables')!, '-w', '-t', 'nat', '-I', 'SVC', '1', ...dnat(3, 0.25));
  const found = await probe(`127.0.0.1:${POOLED}`, '-n', '300', '-c', '4', '--expect', '4');
  const l7 = found.find((f) => f.id === 'l7-proxy');
  assert.ok(l7, `l7-proxy expected: ${found.map((f) => f.id)}`);
  assert.ok(l7.evidence.some((e) => /^short: \d+ of \d+ requests, each the first on a new client connection, arrived on a backend connection that had already carried earlier requests/.test(e)), l7.evidence.join('\n'));
  assert.doesNotMatch(l7.explanation, /Keep-alive pinning cannot happen through it/);
  assert.match(l7.explanation, /the proxy's pooled upstream connections can: /);
  assert.doesNotMatch(l7.remedy, /^Nothing to fix\.$|^Nothing to fix\. If/);
  // pod4 joined after the pool was full: when it got nothing, the missing-backend error names the pool, not "--mode short".
  const missing = found.find((f) => f.id === 'backend-missing');
  if (missing) {
    assert.doesNotMatch(missing.remedy, /--mode short/);
    assert.match(missing.explanation, /rode the proxy's pooled upstream connections/);
    assert.match(missing.remedy, /keepalive_requests/);
  }
  // Pinned connections or a starved pod through the proxy: the pinned ones are the proxy's, so "use an L7 balancer" is not the fix.
  for (const f of found.filter((x) => x.id === 'keepalive-pinning' || x.id === 'late-backend-starved')) {
    assert.match(f.explanation, /Here (an HTTP proxy is in the path|the pool is an HTTP proxy's)/, `${f.id}: ${f.explanation}`);
    assert.doesNotMatch(f.remedy, /an HTTP-aware \(L7\)|use an L7 balancer/, `${f.id}: ${f.remedy}`);
    assert.match(f.remedy, /keepalive_requests/);
  }
  // Controls: the VIP itself (layer 4: every short-mode request is the first on its backend connection) and nginx without upstream keepalive.
  for (const target of [`${VIP}:80`, `127.0.0.1:${UNPOOLED}`]) {
    const f = await probe(target, '--mode', 'short', '-n', '100', '-c', '4');
    const text = JSON.stringify(f);
    assert.doesNotMatch(text, /pooled upstream connections|reuses a pool of upstream connections/, `${target}: ${text}`);
  }
});
