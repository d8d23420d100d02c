/**
 * Issue 10.6, SYN black hole: a namespace whose firewall drops every SYN to the backend port (a
 * filtered VIP). The connects never complete: the probe must stop after the first round of
 * timeouts with one line (exit 2), not wait requests / concurrency x timeout.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { canUseNetns, createStallTopology } from '../src/lab/netns.js';
import { findBinary } from '../src/lab/tools.js';
import { runLbdiag } from './support/processes.js';

test('SYN black hole in a namespace: -n 200 -c 2 --timeout 1s ends after one timeout with exit 2', { timeout: 40_000 }, async (t) => {
  const ok = canUseNetns();
  if (!ok.ok) return t.skip(ok.reason);
  const topo = await createStallTopology({ stall: false });
  try {
    topo.ns.exec(findBinary('iptables')!, ['-A', 'INPUT', '-p', 'tcp', '--dport', String(topo.backend.port), '--syn', '-j', 'DROP']);
    const t0 = performance.now();
    const r = await runLbdiag(['probe', `${topo.backend.host}:${topo.backend.port}`, '-n', '200', '-c', '2', '--timeout', '1s'], { timeoutMs: 30_000 });
    const ms = performance.now() - t0;
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr.trim(), /^lbdiag: cannot reach [\d.]+:\d+: connect timed out \(filtered, or no route\?\)$/);
    // One round of 1 s timeouts plus process start-up (seconds on a loaded machine), far from 100 x 1 s.
    assert.ok(ms < 1000 * 2 + 1000 + 6000, `took ${ms.toFixed(0)} ms`);
  } finally {
    await topo.teardown();
  }
});
