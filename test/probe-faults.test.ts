/**
 * Issue 10.6: servers that trickle, stream forever, flood 1xx or never end a line must not hold a
 * probe past its deadlines. Real sockets on 127.0.21.1; each run must end within
 * --timeout x requests per connection + 1 s and name the error kind.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { runProbe } from '../src/probe/run.js';
import { FAULTS, startFaultServer, type FaultServer } from './support/fault-servers.js';
import { runLbdiag } from './support/processes.js';

const HOST = '127.0.21.1';
const servers: FaultServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

const TIMEOUT_MS = 1000;
const N = 4;
const C = 3;
/** Keep-alive mode keeps one of its -c connections idle (random choice, no lockstep): C - 1 in flight. */
const IN_FLIGHT = C - 1;
const BOUND_MS = TIMEOUT_MS * (N / IN_FLIGHT) + 1000;

// The fault runs wait on timers, not on the CPU: run them side by side (about 2 s in all, not 16).
test('fault servers (trickle, endless, 1xx, long lines): each run ends on time with its error kind', { concurrency: true }, async (t) => {
  await Promise.all(
    FAULTS.map((fault) =>
      t.test(`${fault.name}: -n ${N} -c ${C} --timeout 1s ends within ${BOUND_MS} ms with ${fault.kind}`, async () => {
        const srv = await startFaultServer(HOST, fault.behave);
        servers.push(srv);
        const t0 = performance.now();
        const report = await runProbe({ target: `${HOST}:${srv.port}`, mode: 'keepalive', requests: N, concurrency: C, timeoutMs: TIMEOUT_MS });
        const ms = performance.now() - t0;
        await srv.close();
        const m = report.modes.keepalive!;
        assert.ok(ms < BOUND_MS, `took ${ms.toFixed(0)} ms`);
        assert.equal(m.requests, N);
        assert.equal(m.ok, 0);
        assert.deepEqual(Object.keys(m.errorKinds), [fault.kind], JSON.stringify(m.errorKinds));
        assert.equal(m.errorKinds[fault.kind].count, N);
      }),
    ),
  );
});

test('black hole (accepts, never answers): exit 2 with one line after one timeout, not n/c x timeout', async () => {
  const srv = await startFaultServer(HOST, () => undefined);
  servers.push(srv);
  const t0 = performance.now();
  const r = await runLbdiag(['probe', `${HOST}:${srv.port}`, '-n', '200', '-c', '2', '--timeout', '1s'], { timeoutMs: 20_000 });
  const ms = performance.now() - t0;
  await srv.close();
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /^lbdiag: cannot reach 127\.0\.21\.1:\d+: connections are accepted but not one byte of an answer came back within --timeout/);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  // n/c x timeout would be 100 s; one timeout plus a process start-up on a loaded machine (5 s seen at load 17) stays far below 10 s.
  assert.ok(ms < 10 * TIMEOUT_MS, `took ${ms.toFixed(0)} ms`);
});

test('-d is a hard deadline: requests in flight at the deadline are cut off and counted apart, not as errors', async () => {
  const srv = await startFaultServer(HOST, FAULTS[0].behave); // trickle body, --timeout far away
  servers.push(srv);
  const t0 = performance.now();
  const report = await runProbe({ target: `${HOST}:${srv.port}`, mode: 'keepalive', durationMs: 1000, concurrency: C, timeoutMs: 30_000 });
  const ms = performance.now() - t0;
  await srv.close();
  const m = report.modes.keepalive!;
  assert.ok(ms < 2000, `took ${ms.toFixed(0)} ms`);
  assert.equal(m.requests, 0);
  assert.equal(m.errors, 0);
  assert.equal(m.inFlightAborted, IN_FLIGHT);
  assert.ok(!report.findings.some((f) => f.id === 'intermittent-errors' || f.id === 'all-failing'), JSON.stringify(report.findings.map((f) => f.id)));
});

test('CLI: -z 1s (hey/oha alias, bare numbers are seconds) stops a trickling server on time', async () => {
  const srv = await startFaultServer(HOST, FAULTS[0].behave);
  servers.push(srv);
  const t0 = performance.now();
  const r = await runLbdiag(['probe', `${HOST}:${srv.port}`, '--mode', 'keepalive', '-z', '1', '-c', String(C), '--timeout', '30', '--json'], { timeoutMs: 20_000 });
  const ms = performance.now() - t0;
  await srv.close();
  const rep = JSON.parse(r.stdout);
  assert.equal(rep.config.durationMs, 1000);
  assert.equal(rep.config.timeoutMs, 30_000);
  assert.equal(rep.modes.keepalive.inFlightAborted, IN_FLIGHT);
  assert.ok(ms < 4000, `took ${ms.toFixed(0)} ms`);
});
