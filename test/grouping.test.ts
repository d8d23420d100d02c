/** groupFindings and the probe's cause rules on hand-made findings (pure functions). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Finding } from '../src/core/finding.js';
import { groupFindings } from '../src/core/grouping.js';
import { probeCauseRules } from '../src/probe/causes.js';

const f = (id: string, severity: Finding['severity'], extra: Partial<Finding> = {}): Finding => ({ id, severity, title: id, evidence: [], explanation: '', remedy: '', ...extra });
const missing = (n: string) => f('backend-missing', 'error', { backend: n, metrics: { expected: ['a', 'b', 'c', 'd'], seen: ['a', 'b', 'c'] } });
const imbalance = (mode: string, observed: number[]) => f('imbalance', 'warn', { mode, metrics: { backends: ['a', 'b', 'c', 'd'], observed } });

test('backend-missing explains an imbalance only when the other backends pass the same test', () => {
  const even = imbalance('short', [100, 101, 99, 0]);
  const uneven = imbalance('short', [200, 60, 40, 0]);
  const g1 = groupFindings([even, missing('d')], probeCauseRules());
  assert.equal(g1.length, 1);
  assert.deepEqual(g1[0].consequences, [even]);
  const g2 = groupFindings([uneven, missing('d')], probeCauseRules());
  assert.equal(g2.length, 2, 'a real imbalance among a, b, c stays a finding of its own');
  // Unequal weights the run asked for: a=2 makes 200/100/100 even.
  const weighted = imbalance('short', [200, 100, 100, 0]);
  assert.equal(groupFindings([weighted, missing('d')], probeCauseRules({ a: 2 })).length, 1);
  assert.equal(groupFindings([weighted, missing('d')], probeCauseRules()).length, 2);
  // Too few answers to show the rest is even: not grouped.
  assert.equal(groupFindings([imbalance('short', [3, 2, 3, 0]), missing('d')], probeCauseRules()).length, 2);
});

test('pinning explains the imbalance of its own mode only; every finding appears once; cycles stay apart', () => {
  const pin = f('keepalive-pinning', 'warn', { mode: 'keepalive' });
  const ka = imbalance('keepalive', [60, 20, 20, 0]);
  const sh = imbalance('short', [60, 20, 20, 0]);
  const groups = groupFindings([ka, sh, pin], probeCauseRules());
  const all = groups.flatMap((g) => [g.cause, ...g.consequences]);
  assert.equal(all.length, 3);
  assert.deepEqual(groups.find((g) => g.cause === pin)?.consequences, [ka]);
  assert.ok(groups.some((g) => g.cause === sh));
  const x = f('x', 'warn');
  const y = f('y', 'warn');
  const cyc = groupFindings([x, y], [
    { cause: 'x', effect: 'y', explains: () => true },
    { cause: 'y', effect: 'x', explains: () => true },
  ]);
  assert.equal(cyc.length, 2);
});

test('protocol-mismatch explains a mode\'s all-failing and churn only when its mismatched requests cover them', () => {
  const pm = f('protocol-mismatch', 'error', { metrics: { modes: ['keepalive', 'short'], mismatched: [50, 30] } });
  const ka = f('all-failing', 'error', { mode: 'keepalive', metrics: { requests: 50, errors: 50 } });
  const sh = f('all-failing', 'error', { mode: 'short', metrics: { requests: 50, errors: 50 } });
  const churn = f('connection-churn', 'info', { mode: 'keepalive', metrics: { connections: 50 } });
  const groups = groupFindings([ka, sh, churn, pm], probeCauseRules());
  assert.deepEqual(groups.find((g) => g.cause === pm)?.consequences, [ka, churn]);
  assert.ok(groups.some((g) => g.cause === sh), '20 of short\'s 50 failures were something else: it stays a finding of its own');
});
