/**
 * Issue 9.2, in a network namespace: the client's ephemeral range is narrowed to a port or two
 * (namespace-only sysctl) behind the reused-port SYN drop the lab builds (IPVS conn_reuse_mode=1).
 * - Default `--close server`: the server closes first and holds TIME_WAIT, so the client's one port
 *   is free again at once, is reused, and the middlebox drops the reused port's first SYN: the
 *   probe must say stall-1s, and nothing failed (no intermittent-errors).
 * - `--close client` at full speed from two ports: the client holds TIME_WAIT on both, connect()
 *   fails with EADDRNOTAVAIL: local-port-exhaustion, and still no intermittent-errors.
 * Also checks on the wire (ss in the namespace) which side ends in TIME_WAIT.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { canUseNetns, createStallTopology, type StallTopology } from '../src/lab/netns.js';
import { findBinary } from '../src/lab/tools.js';
import type { ProbeReport } from '../src/probe/summary.js';
import { LBDIAG } from './support/processes.js';

async function probeInside(topo: StallTopology, args: string[]): Promise<{ rep: ProbeReport; code: number | null; stderr: string }> {
  const p = topo.ns.spawn(process.execPath, [LBDIAG, 'probe', `${topo.backend.host}:${topo.backend.port}`, '--json', ...args], { name: 'lbdiag probe' });
  const exit = await p.exited;
  let rep: ProbeReport;
  try {
    rep = JSON.parse(p.stdout()) as ProbeReport;
  } catch {
    throw new Error(`probe inside the namespace: exit ${exit.code} ${p.stderr()}`);
  }
  return { rep, code: exit.code, stderr: p.stderr() };
}

/** TIME_WAIT sockets in the namespace: held by the server (local port = backend port) or by the client. */
function timeWait(topo: StallTopology): { server: number; client: number } {
  const out = topo.ns.exec(findBinary('ss')!, ['-Htan', 'state', 'time-wait']);
  let server = 0;
  let client = 0;
  for (const line of out.split('\n').filter(Boolean)) {
    const local = line.trim().split(/\s+/)[2] ?? '';
    if (local.endsWith(`:${topo.backend.port}`)) server++;
    else client++;
  }
  return { server, client };
}

const ids = (r: ProbeReport): string[] => r.findings.map((f) => f.id);

test('one client port behind a reused-port SYN drop: the server closes first, the port is reused, stall-1s (not intermittent-errors)', { timeout: 40_000 }, async (t) => {
  const ok = canUseNetns();
  if (!ok.ok) return t.skip(ok.reason);
  if (!findBinary('ss')) return t.skip('needs ss (iproute2)');
  const topo = await createStallTopology({ drop: 'reused-port' });
  try {
    topo.ns.exec('/bin/sh', ['-c', 'echo "40000 40000" > /proc/sys/net/ipv4/ip_local_port_range']);
    const { rep } = await probeInside(topo, ['--mode', 'short', '-n', '4', '-c', '1', '--fail-on', 'none']);
    const m = rep.modes.short!;
    assert.equal(m.errors, 0, JSON.stringify(m.errorKinds));
    assert.deepEqual(new Set(m.perConnection.map((c) => c.localPort).concat([40000])).size, 1);
    assert.ok(ids(rep).includes('stall-1s'), ids(rep).join(','));
    assert.ok(!ids(rep).includes('intermittent-errors'), ids(rep).join(','));
    assert.ok(!ids(rep).includes('local-port-exhaustion'), ids(rep).join(','));
    const tw = timeWait(topo);
    assert.equal(tw.client, 0, `the client holds no TIME_WAIT: ${JSON.stringify(tw)}`);
    assert.ok(tw.server >= 1, `the server holds it: ${JSON.stringify(tw)}`);
  } finally {
    await topo.teardown();
  }
});

test('--close client at full speed from two ports: local-port-exhaustion (EADDRNOTAVAIL), not intermittent-errors', { timeout: 40_000 }, async (t) => {
  const ok = canUseNetns();
  if (!ok.ok) return t.skip(ok.reason);
  if (!findBinary('ss')) return t.skip('needs ss (iproute2)');
  const topo = await createStallTopology({ drop: 'reused-port' });
  try {
    topo.ns.exec('/bin/sh', ['-c', 'echo "40000 40001" > /proc/sys/net/ipv4/ip_local_port_range']);
    const { rep, code } = await probeInside(topo, ['--mode', 'short', '-n', '40', '-c', '2', '--close', 'client']);
    const m = rep.modes.short!;
    assert.ok(m.ok >= 2, `the first connections succeed: ${m.ok}`);
    assert.ok((m.errorKinds['no-local-port']?.count ?? 0) >= 30, JSON.stringify(m.errorKinds));
    const f = rep.findings.find((x) => x.id === 'local-port-exhaustion');
    assert.ok(f, ids(rep).join(','));
    assert.deepEqual(f.metrics!.portRange, [40000, 40001]);
    // Both ports held by connections closed here: in TIME_WAIT, or still in FIN_WAIT when a loaded server sends its FIN late.
    assert.ok((f.metrics!.timeWaitToTarget as number) >= 1, JSON.stringify(f.metrics));
    assert.ok((f.metrics!.timeWaitToTarget as number) + (f.metrics!.closingToTarget as number) >= 2, JSON.stringify(f.metrics));
    assert.equal(f.metrics!.close, 'client');
    assert.ok(!ids(rep).includes('intermittent-errors'), ids(rep).join(','));
    assert.ok(!ids(rep).includes('all-failing'), ids(rep).join(','));
    assert.equal(code, 0, 'local-port-exhaustion is a warn: under --fail-on error');
    const tw = timeWait(topo);
    assert.ok(tw.client >= 2, `the client holds TIME_WAIT: ${JSON.stringify(tw)}`);
  } finally {
    await topo.teardown();
  }
});
