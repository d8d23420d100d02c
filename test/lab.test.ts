/**
 * `lbdiag lab` with the builtin balancers, as a user runs it (a child process, --json), on
 * 127.0.40.x: each scenario shows its expected finding, and leaves nothing listening behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runLbdiag } from './support/processes.js';
import { ADDR, assertNothingLeft, ids, lab } from './lab-support.js';

test('pinning (the default): keepalive-pinning through the builtin L4 forwarder, none through the L7 proxy; under 15 s', { timeout: 30_000 }, async () => {
  const { r, rep, ms } = await lab([]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(ms < 15_000, `took ${ms} ms`);
  assert.equal(rep.command, 'lab');
  assert.deepEqual(rep.scenarios.map((s) => [s.name, s.step, s.balancer]), [['pinning', 'l4', 'builtin-l4'], ['pinning', 'l7', 'builtin-l7']]);
  assert.ok(ids(rep, 'l4').includes('keepalive-pinning'), ids(rep, 'l4').join(','));
  assert.ok(!ids(rep, 'l7').includes('keepalive-pinning'), ids(rep, 'l7').join(','));
  assert.ok(ids(rep, 'l7').includes('l7-proxy'));
  const l4 = rep.scenarios[0].probe!;
  for (const c of l4.modes.keepalive!.perConnection) assert.equal(Object.keys(c.backends).length, 1, 'L4: one backend per keep-alive connection');
  assert.deepEqual(l4.modes.short!.backends.map((b) => b.name).sort(), ['alpha', 'bravo', 'charlie']);
  // Backends on distinct loopback addresses of the chosen /24.
  const hosts = new Set(rep.started.listeners.map((l) => l.host));
  for (const h of [`${ADDR}.1`, `${ADDR}.2`, `${ADDR}.3`, `${ADDR}.4`]) assert.ok(hosts.has(h), `${h} used`);
  assert.ok(rep.scenarios.every((s) => s.ok) && rep.ok);
  await assertNothingLeft(rep);
});

test('scale-up: the backend that joins under a keep-alive pool is starved, rotation by age reaches it', { timeout: 30_000 }, async () => {
  const { r, rep } = await lab(['--scenario', 'scale-up', '--balancer', 'builtin']);
  assert.equal(r.code, 0, `${r.stderr}\n${JSON.stringify(rep.summary)}`);
  const pool = rep.scenarios.find((s) => s.step === 'pool')!;
  const f = pool.probe!.findings.find((x) => x.id === 'late-backend-starved');
  assert.ok(f, pool.found.join(','));
  assert.equal(f.backend, 'delta');
  assert.equal(pool.probe!.modes.keepalive!.backends.find((b) => b.name === 'delta')?.count ?? 0, 0, 'the pool never reached delta');
  const rot = rep.scenarios.find((s) => s.step === 'rotate')!;
  const delta = rot.probe!.modes.rotate!.backends.find((b) => b.name === 'delta');
  assert.ok(delta && delta.share >= 0.125, `delta share under rotate: ${delta?.share}`);
  assert.ok(!rot.found.includes('late-backend-starved'));
  await assertNothingLeft(rep);
});

test('stale-listener (builtin pair): about half of the fresh connections get 503 → intermittent-errors', { timeout: 30_000 }, async () => {
  const { r, rep } = await lab(['--scenario', 'stale-listener', '--balancer', 'builtin', '-n', '120']);
  assert.equal(r.code, 0, r.stderr);
  const s = rep.scenarios[0];
  assert.equal(s.balancer, 'builtin-stale');
  const f = s.probe!.findings.find((x) => x.id === 'intermittent-errors' && x.mode === 'short');
  assert.ok(f, s.found.join(','));
  const rate = f.metrics!.rate as number;
  assert.ok(rate > 0.3 && rate < 0.7, `rate ${rate}`);
  assert.equal(s.probe!.modes.short!.statuses['503'], s.probe!.modes.short!.errors, 'every failure is the old generation\'s 503');
  assert.equal(s.probe!.config.requests, 120);
  await assertNothingLeft(rep);
});

test('human output: the story around the probe report, plain text when not a TTY', { timeout: 30_000 }, async () => {
  const r = await runLbdiag(['lab', '--addresses', ADDR, '-n', '60'], { timeoutMs: 20_000, env: { ...process.env, NO_COLOR: '1' } });
  assert.equal(r.code, 0, r.stderr);
  for (const s of ['lab: pinning', 'What was built', 'What a naive check shows', 'lbdiag probe http://127.0.40.1:', 'What lbdiag found', 'The fix', '✓ l4 (builtin-l4): expected keepalive-pinning: found'])
    assert.ok(r.stdout.includes(s), `missing "${s}"`);
  assert.ok(!/\x1b\[/.test(r.stdout), 'no colour codes');
  assert.equal(r.stderr, '', 'no progress line when stderr is not a TTY');
});

test('usage errors: one line, exit 2, nothing started', { timeout: 20_000 }, async () => {
  for (const args of [['--balancer', 'f5'], ['--addresses', '10.0.0'], ['--backends', '1'], ['--scenario', 'nope'], ['-n', '5']]) {
    const r = await runLbdiag(['lab', ...args], { timeoutMs: 10_000 });
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /^lbdiag: /);
    assert.equal(r.stdout, '');
  }
});
