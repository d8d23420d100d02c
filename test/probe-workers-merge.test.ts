/**
 * `probe --workers` merge (src/probe/workers-merge.ts): every ModeTally field has a merge rule, and
 * the records of a real run (lbdiag whoami backends behind the lab's HTTP proxy, one member dead:
 * 502s in a 1-in-3 pattern) tallied in two parts, sent through structuredClone as postMessage
 * sends them, and merged give the same summary and the same findings as one tally of them all.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startHttpProxy } from '../src/lab/balancers/index.js';
import { analyse } from '../src/probe/analyse.js';
import type { ProbeMode, ProbeRecord } from '../src/probe/record.js';
import { summarizeMode } from '../src/probe/summary.js';
import { ModeTally } from '../src/probe/tally.js';
import { MERGE_RULES, mergeTallies } from '../src/probe/workers-merge.js';
import { startWhoami } from '../src/whoami/server.js';
import { freePort, runLbdiag } from './support/processes.js';

const stoppers: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const s of stoppers.reverse()) await s().catch(() => undefined);
});

test('every ModeTally field has a merge rule (a new field must get one in workers-merge.ts)', () => {
  const fields = Object.keys(new ModeTally('keepalive'));
  const missing = fields.filter((f) => !MERGE_RULES.includes(f));
  assert.deepEqual(missing, [], `fields without a merge rule: ${missing.join(', ')}`);
});

/**
 * Two things may differ, and only in form: sums of milliseconds added in another order (floating
 * point: 690.155 vs 690.1550000000001, which can flip a mean rounded to 3 decimals by 0.001) and the
 * order of the per-connection rows (one thread lists them as their first answers completed, the
 * merge as those answers started). Integers (every count, every histogram bucket) must be equal.
 */
function normal(report: ReturnType<typeof summarizeMode>): unknown {
  const copy = JSON.parse(JSON.stringify(report));
  copy.perConnection.sort((a: { id: number }, b: { id: number }) => a.id - b.id);
  return copy;
}

function sameUpToFloatSums(a: unknown, b: unknown, where: string): void {
  if (typeof a === 'number' && typeof b === 'number') {
    if (Number.isInteger(a) && Number.isInteger(b)) assert.equal(a, b, where);
    else assert.ok(Math.abs(a - b) <= 1.5e-3 + 1e-9 * Math.abs(b), `${where}: ${a} vs ${b}`);
    return;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    assert.equal(a.length, b.length, `${where}: length`);
    a.forEach((x, i) => sameUpToFloatSums(x, b[i], `${where}[${i}]`));
    return;
  }
  if (a && b && typeof a === 'object' && typeof b === 'object') {
    assert.deepEqual(Object.keys(a).sort(), Object.keys(b).sort(), `${where}: keys`);
    for (const k of Object.keys(a)) sameUpToFloatSums((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${where}.${k}`);
    return;
  }
  assert.deepEqual(a, b, where);
}

test('two halves of a real run, merged through structuredClone, summarise and diagnose like the whole', { timeout: 60_000 }, async () => {
  const backends = [];
  for (const [i, name] of ['a', 'b'].entries()) {
    const w = await startWhoami({ host: `127.0.44.${40 + i}`, port: 0, name });
    stoppers.push(() => w.close());
    backends.push({ host: `127.0.44.${40 + i}`, port: w.addresses[0].port, name });
  }
  const dead = { host: '127.0.44.42', port: await freePort('127.0.44.42'), name: 'dead' };
  const lb = await startHttpProxy({ listen: { host: '127.0.44.43', port: 0 }, backends: [...backends, dead] });
  stoppers.push(() => lb.stop());
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lbdiag-merge-'));
  stoppers.push(async () => fs.rmSync(dir, { recursive: true, force: true }));
  const file = path.join(dir, 'r.ndjson');
  const r = await runLbdiag(['probe', `127.0.44.43:${lb.address.port}`, '-c', '5', '-n', '240', '--records', file, '--json', '--fail-on', 'none']);
  assert.equal(r.code, 0, r.stderr);
  const recs: ProbeRecord[] = fs.readFileSync(file, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  for (const mode of ['keepalive', 'short'] as ProbeMode[]) {
    const of = recs.filter((x) => x.mode === mode);
    assert.ok(of.some((x) => x.status === 502), `${mode}: the dead member gives 502s`);
    const whole = new ModeTally(mode, 10);
    whole.startT = 0;
    const parts = [new ModeTally(mode, 10), new ModeTally(mode, 10)];
    for (const p of parts) p.startT = 0;
    // Split by connection, as workers split: each connection lives in one worker.
    for (const x of of) {
      whole.add(x);
      parts[x.conn % 2].add(x);
    }
    const merged = new ModeTally(mode, 10);
    merged.startT = 0;
    mergeTallies(merged, parts.map((p) => structuredClone(p)));
    for (const t of [whole, merged]) {
      t.lanes = 5;
      t.connectionsOpened = new Set(of.map((x) => x.conn)).size;
      t.durationMs = 1000;
    }
    sameUpToFloatSums(normal(summarizeMode(merged)), normal(summarizeMode(whole)), `${mode}: summary`);
    assert.deepEqual(merged.failOrders, [...whole.failOrders].sort((a, b) => a - b), `${mode}: dispatch orders of failures`);
    const f = (t: ModeTally) => analyse([t], {}).map((x) => `${x.id}:${x.title}`);
    assert.deepEqual(f(merged), f(whole), `${mode}: findings`);
  }
});
