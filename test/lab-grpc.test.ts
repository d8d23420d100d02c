/**
 * `lbdiag lab --scenario grpc` as a user runs it (a child process, --json), on 127.0.41.x: gRPC over
 * h2c through L4 pins each connection (keepalive-pinning), through the HTTP/2 L7 balancer the calls
 * spread; a backend added under a long-lived pool is starved (late-backend-starved) until the
 * backends send GOAWAY at --max-conn-age. With the builtin balancers, then with real haproxy
 * (mode tcp / mode http + proto h2) when installed.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { assertNothingLeft, ids } from './lab-support.js';
import { runLbdiag } from './support/processes.js';
import { haproxyInstalled, nginxInstalled } from '../src/lab/balancers/index.js';
import { shareAfter } from '../src/lab/scenarios/grpc.js';
import type { LabReport } from '../src/lab/run.js';
import type { ModeReport } from '../src/probe/summary.js';

/** A /24 of its own per run, so the builtin and haproxy runs go side by side. */
const ADDR = { builtin: '127.0.41', haproxy: '127.0.43', nginx: '127.0.47' } as const;
async function grpcLab(balancer: keyof typeof ADDR): Promise<{ code: number | null; stderr: string; rep: LabReport; ms: number }> {
  const t0 = Date.now();
  const r = await runLbdiag(['lab', '--scenario', 'grpc', '--balancer', balancer, '-n', '40', '--addresses', ADDR[balancer], '--json'], { timeoutMs: 100_000 });
  const ms = Date.now() - t0;
  let rep: LabReport;
  try {
    rep = JSON.parse(r.stdout) as LabReport;
  } catch {
    assert.fail(`no JSON (exit ${r.code}): ${r.stderr}\n${r.stdout.slice(0, 500)}`);
  }
  return { code: r.code, stderr: r.stderr, rep, ms };
}

function checkGrpcRun(rep: LabReport, l4Kind: string, l7Kind: string): void {
  const step = (name: string) => {
    const s = rep.scenarios.find((x) => x.step === name);
    assert.ok(s, `step ${name} ran: ${rep.scenarios.map((x) => x.step).join(',')}`);
    return s;
  };
  assert.deepEqual(rep.scenarios.map((s) => [s.step, s.balancer]), [['l4', l4Kind], ['l7', l7Kind], ['pool', l4Kind], ['goaway', l4Kind]]);
  for (const s of rep.scenarios) assert.equal((s.probe!.config as Record<string, unknown>).protocol, 'grpc', `${s.step}: the probe spoke gRPC`);

  // L4: each HTTP/2 connection on one backend, several calls in flight on it.
  const l4 = step('l4');
  assert.ok(ids(rep, 'l4').includes('keepalive-pinning'), ids(rep, 'l4').join(','));
  const ka4 = l4.probe!.modes.keepalive!;
  assert.ok(ka4.perConnection.length >= 2);
  for (const c of ka4.perConnection) assert.equal(Object.keys(c.backends).length, 1, `L4: one backend per connection: ${JSON.stringify(c.backends)}`);
  assert.deepEqual(l4.probe!.modes.short!.backends.map((b) => b.name).sort(), ['alpha', 'bravo', 'charlie'], 'a new connection per call reaches every backend');

  // L7: the streams of each connection spread.
  const l7 = step('l7');
  assert.ok(!ids(rep, 'l7').includes('keepalive-pinning'), ids(rep, 'l7').join(','));
  const ka7 = l7.probe!.modes.keepalive!;
  for (const c of ka7.perConnection) assert.ok(Object.keys(c.backends).length >= 2, `L7: a connection reaches several backends: ${JSON.stringify(c.backends)}`);
  assert.deepEqual(ka7.backends.map((b) => b.name).sort(), ['alpha', 'bravo', 'charlie']);

  // The autoscaler: delta never reached by the pool, reached by new connections.
  const pool = step('pool');
  const starved = pool.probe!.findings.find((f) => f.id === 'late-backend-starved');
  assert.ok(starved, pool.found.join(','));
  assert.equal(starved.backend, 'delta');
  assert.equal(pool.probe!.modes.keepalive!.backends.find((b) => b.name === 'delta')?.count ?? 0, 0, 'the pool never reached delta');

  // GOAWAY at --max-conn-age: the same kind of pool reaches delta.
  const goaway = step('goaway');
  assert.ok(!goaway.found.includes('late-backend-starved'), goaway.found.join(','));
  const rot = goaway.probe!.modes.rotate!;
  assert.ok((rot.http2?.goaways ?? 0) > 0, `GOAWAY frames received: ${JSON.stringify(rot.http2)}`);
  assert.ok(rot.connections > 8, `connections reopened after GOAWAY: ${rot.connections}`);
  assert.ok(goaway.checks.every((c) => c.ok), JSON.stringify(goaway.checks));
  assert.ok(rep.scenarios.every((s) => s.ok) && rep.ok, JSON.stringify(rep.summary));
}

test('shareAfter: a backend\'s share of the calls in the buckets from a time on', () => {
  const m = {
    startMs: 100,
    timeline: {
      bucketMs: 100,
      buckets: [
        { t: 0, requests: 10, errors: 0, backends: { a: 10 } },
        { t: 100, requests: 10, errors: 0, backends: { a: 5, b: 5 } },
        { t: 200, requests: 8, errors: 0, backends: { a: 6, b: 2 } },
      ],
    },
  } as unknown as ModeReport;
  assert.deepEqual(shareAfter(m, 'b', 200), { share: 7 / 18, calls: 18 });
  assert.deepEqual(shareAfter(m, 'b', 300), { share: 2 / 8, calls: 8 });
  assert.equal(shareAfter(m, 'b', 10_000), null);
  assert.equal(shareAfter(m, 'b', null), null);
});

describe('lab --scenario grpc (builtin, haproxy and nginx side by side)', { concurrency: 2 }, () => {
  test('lab --scenario grpc, builtin balancers: L4 pins each HTTP/2 connection, builtin-h2 spreads the calls, GOAWAY reaches the late backend', { timeout: 120_000 }, async (t) => {
    const { code, stderr, rep, ms } = await grpcLab('builtin');
    assert.equal(rep.summary[0]?.skipped, undefined, 'the scenario ran');
    assert.equal(code, 0, `${stderr}\n${JSON.stringify(rep.summary)}`);
    checkGrpcRun(rep, 'builtin-l4', 'builtin-h2');
    t.diagnostic(`builtin run: ${ms} ms`);
    await assertNothingLeft(rep);
  });

  test('lab --scenario grpc --balancer haproxy: mode tcp pins, mode http + proto h2 spreads, GOAWAY reaches the late backend', { timeout: 120_000 }, async (t) => {
    if (!haproxyInstalled()) return t.skip('haproxy not installed');
    const { code, stderr, rep, ms } = await grpcLab('haproxy');
    assert.equal(rep.summary[0]?.skipped, undefined, 'the scenario ran');
    assert.equal(code, 0, `${stderr}\n${JSON.stringify(rep.summary)}`);
    checkGrpcRun(rep, 'haproxy-tcp', 'haproxy-h2');
    t.diagnostic(`haproxy run: ${ms} ms`);
    await assertNothingLeft(rep);
  });

  test('lab --scenario grpc --balancer nginx: stream pins, grpc_pass spreads the calls, GOAWAY reaches the late backend', { timeout: 120_000 }, async (t) => {
    if (!nginxInstalled()) return t.skip('nginx not installed');
    const { code, stderr, rep, ms } = await grpcLab('nginx');
    assert.equal(rep.summary[0]?.skipped, undefined, 'the scenario ran');
    assert.equal(code, 0, `${stderr}\n${JSON.stringify(rep.summary)}`);
    checkGrpcRun(rep, 'nginx-stream', 'nginx-grpc');
    t.diagnostic(`nginx run: ${ms} ms`);
    await assertNothingLeft(rep);
  });
});
