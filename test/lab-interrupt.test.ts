/**
 * Ctrl-C during `lbdiag lab`: it stops, prints the partial report, and leaves no process, port or
 * namespace behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { haproxyInstalled } from '../src/lab/balancers/index.js';
import type { LabReport } from '../src/lab/run.js';
import { startLbdiag } from './support/processes.js';
import { untilHasChild } from './support/idle.js';
import { ADDR, assertNothingLeft } from './lab-support.js';

test('SIGINT in the middle of scale-up: partial JSON report, exit 130, nothing left behind', { timeout: 30_000 }, async () => {
  // Real haproxy when installed, so there are processes whose survival the test can check.
  const balancer = haproxyInstalled() ? 'haproxy' : 'builtin';
  const p = startLbdiag(['lab', '--scenario', 'scale-up', '--balancer', balancer, '--addresses', ADDR, '--json']);
  // haproxy started means the lab is running (and listens for Ctrl-C): a fixed sleep alone loses to a
  // loaded machine's start-up. The builtin balancer starts no process: then the sleep alone.
  if (balancer === 'haproxy') await untilHasChild(p.pid);
  await new Promise((r) => setTimeout(r, 1500)); // well inside the keep-alive pool phase
  const t0 = Date.now();
  p.child.kill('SIGINT');
  const code = await Promise.race([p.exited, new Promise((r) => setTimeout(() => r('timeout'), 15_000))]);
  if (code === 'timeout') await p.stop('SIGKILL');
  assert.equal(code, 130, p.stderr());
  assert.ok(Date.now() - t0 < 10_000, 'stopped promptly');
  assert.match(p.stderr(), /SIGINT, stopping and reporting what was gathered/);
  const rep = JSON.parse(p.stdout()) as LabReport;
  assert.equal(rep.interrupted, true);
  assert.equal(rep.ok, false);
  assert.ok(rep.scenarios.length >= 1, 'the partial report has the step that ran');
  assert.ok(rep.scenarios[0].probe, 'with its probe report');
  assert.ok(rep.started.listeners.length >= 4);
  if (balancer === 'haproxy') assert.ok(rep.started.pids.length >= 1);
  await assertNothingLeft(rep);
});
