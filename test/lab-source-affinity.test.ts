/** lab scenario source-affinity: one address looks like single-backend, ten prove source-affinity, two runs merged too. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runLbdiag } from './support/processes.js';

test('lab --scenario source-affinity (builtin source-hashing balancer): every step shows what it should', async () => {
  const r = await runLbdiag(['lab', '--scenario', 'source-affinity', '--json', '--addresses', '127.0.78'], { timeoutMs: 90_000 });
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  // `scenarios` lists the steps of every scenario run.
  const steps = doc.scenarios.filter((s: { name: string }) => s.name === 'source-affinity') as { step: string; ok: boolean; found: string[]; probe: { modes: { short: { sources?: { source: string; connectionBackends: Record<string, number> }[] } } } }[];
  assert.deepEqual(steps.map((s) => s.step), ['one-source', 'ten-sources', 'merged']);
  for (const s of steps) assert.ok(s.ok, `${s.step}: ${s.found.join(',')}`);
  assert.ok(steps[0].found.includes('single-backend'));
  const matrix = steps[1].probe.modes.short.sources!;
  assert.equal(matrix.length, 10);
  assert.ok(new Set(matrix.map((m) => Object.keys(m.connectionBackends)[0])).size >= 2, 'the ten sources hash to several backends');
});
