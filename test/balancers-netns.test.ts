import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { canUseNetns, createStallTopology } from '../src/lab/netns.js';
import { pidAlive } from '../src/lab/supervisor.js';
import { runSync } from '../src/lab/tools.js';

function connectMs(host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const s = net.connect({ host, port });
    s.setTimeout(5000, () => {
      s.destroy();
      reject(new Error('connect timeout'));
    });
    s.once('connect', () => {
      s.destroy();
      resolve(performance.now() - t0);
    });
    s.once('error', reject);
  });
}

test('netns stall: every connect to the namespace backend waits for the SYN retransmission (~1 s)', async (t) => {
  const can = canUseNetns();
  if (!can.ok) return t.skip(can.reason);
  const topo = await createStallTopology({ backendName: 'stalled' });
  const { name, rootIface } = topo.ns;
  try {
    assert.match(name, /^lbd-\d+-\d+$/);
    assert.match(topo.ns.subnet, /^10\.213\.\d+\.\d+\/30$/);
    // Two stalled connects, in parallel (each ~1 s): the drop is per connection, not a global toggle.
    const stalled = await Promise.all([connectMs(topo.backend.host, topo.backend.port), connectMs(topo.backend.host, topo.backend.port)]);
    for (const ms of stalled) assert.ok(ms >= 900 && ms < 2500, `connect took ${ms.toFixed(0)} ms, expected ~1000`);
    // The HTTP backend answers once connected.
    const r = await fetch(`http://${topo.backend.host}:${topo.backend.port}/`);
    assert.equal((await r.text()).trim(), 'stalled');
    // Without the rule the same connect is immediate: the stall is the rule, not the link.
    topo.setStall(false);
    // A dropped SYN costs at least the 1 s initial RTO: under 900 ms means the first SYN got through (a
    // busy machine can add a few hundred ms of its own to the measurement).
    const fast = await connectMs(topo.backend.host, topo.backend.port);
    assert.ok(fast < 900, `unstalled connect took ${fast.toFixed(0)} ms: the SYN was resent`);
    // The rule lives inside the namespace only.
    assert.doesNotMatch(runSync('iptables', ['-S', 'INPUT']).stdout, /lbdiag lab/);
  } finally {
    await topo.teardown();
  }
  assert.doesNotMatch(runSync('ip', ['netns', 'list']).stdout, new RegExp(`^${name}\\b`, 'm'));
  assert.notEqual(runSync('ip', ['link', 'show', rootIface]).status, 0, 'the veth is gone');
  assert.equal(pidAlive(topo.backendPid), false, 'the backend is gone');
});

/** One HTTP request with Connection: close from a fixed local port; the server closes first. */
function requestFrom(host: string, port: number, localAddress: string, localPort: number): Promise<{ connectMs: number; body: string }> {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    let connectMs = 0;
    let buf = '';
    const s = net.connect({ host, port, localAddress, localPort });
    s.setTimeout(5000, () => {
      s.destroy();
      reject(new Error('timeout'));
    });
    s.once('connect', () => {
      connectMs = performance.now() - t0;
      s.write('GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n');
    });
    s.setEncoding('utf8').on('data', (d: string) => (buf += d));
    s.once('close', () => resolve({ connectMs, body: buf }));
    s.once('error', reject);
  });
}

test('netns stall, reused-port mode: only the first SYN of a reused source port is dropped', async (t) => {
  const can = canUseNetns();
  if (!can.ok) return t.skip(can.reason);
  const topo = await createStallTopology({ drop: 'reused-port', backendName: 'ipvs-like' });
  try {
    assert.equal(topo.rules.length, 2);
    const { host, port } = topo.backend;
    const localPort = 20000 + (process.pid % 20000);
    const first = await requestFrom(host, port, topo.ns.rootAddress, localPort);
    assert.match(first.body, /ipvs-like/);
    assert.ok(first.connectMs < 200, `first use of the port: ${first.connectMs.toFixed(0)} ms`);
    const reused = await requestFrom(host, port, topo.ns.rootAddress, localPort);
    assert.match(reused.body, /ipvs-like/);
    assert.ok(reused.connectMs >= 900 && reused.connectMs < 2500, `reused port: ${reused.connectMs.toFixed(0)} ms, expected ~1000`);
  } finally {
    await topo.teardown();
  }
});

test('netns unavailable: canUseNetns gives a reason instead of throwing', (t) => {
  const can = canUseNetns();
  if (can.ok) return t.skip('netns available here; the reason path is for non-root machines');
  assert.ok(can.reason.length > 0);
});
