/**
 * Mutated captures against `lbdiag pcap` (test/fuzz/pcap-mutations.ts): a few hundred in-process
 * and a few real processes by default (seconds); the large run on demand:
 *   LBDIAG_FUZZ_COUNT=100000 LBDIAG_FUZZ_PROCESSES=200 node --test dist/test/pcap-fuzz.test.js
 * (LBDIAG_FUZZ_SEED picks another set of inputs). Counts go to the test's diagnostics.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LBDIAG, ROOT, corpusDir } from './support/processes.js';
import { runPcapFuzz } from './fuzz/pcap-mutations.js';

const COUNT = Number(process.env.LBDIAG_FUZZ_COUNT ?? 200);
const PROCESSES = Number(process.env.LBDIAG_FUZZ_PROCESSES ?? 3);
const SEED = Number(process.env.LBDIAG_FUZZ_SEED ?? 20261201);
const PER_INPUT_MS = 5000;

/** The fixtures, and every 12th corpus capture under 256 KiB (about 65 of 830, every format). */
function inputs(): string[] {
  const fix = path.join(ROOT, 'fixtures');
  const out = fs.readdirSync(fix).filter((f) => /\.pcap(ng)?$/.test(f)).map((f) => path.join(fix, f));
  const corpus = corpusDir();
  if (fs.existsSync(corpus)) {
    const files = fs.readdirSync(corpus).sort().map((f) => path.join(corpus, f)).filter((f) => fs.statSync(f).size < 256 * 1024);
    for (let i = 0; i < files.length; i += 12) out.push(files[i]);
  }
  return out;
}

test(`${COUNT} mutated captures: each ends with a report or a one-line error, none crashes or hangs`, async (t) => {
  const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'lbdiag-fuzz-'));
  const started = Date.now();
  const files = inputs();
  const stats = await runPcapFuzz({
    count: COUNT,
    processes: PROCESSES,
    seed: SEED,
    inputs: files,
    tmpDir,
    lbdiag: LBDIAG,
    perInputMs: PER_INPUT_MS,
    onProgress: COUNT >= 10_000 ? (n) => process.stderr.write(`fuzz: ${n} of ${COUNT}\n`) : undefined,
  });
  const outcomes = Object.entries(stats.outcomes).sort((a, b) => b[1] - a[1]);
  t.diagnostic(`${stats.inputs} inputs from ${files.length} captures, seed ${SEED}, ${((Date.now() - started) / 1000).toFixed(1)} s; crashes ${stats.crashes.length}, hangs (> ${PER_INPUT_MS} ms) ${stats.hangs.length}, slowest ${stats.maxMs} ms, max RSS ${stats.maxRssMB} MB`);
  t.diagnostic(`mutations: ${JSON.stringify(stats.byMutation)}`);
  t.diagnostic(`processes: ${stats.processes.runs}, exit codes ${JSON.stringify(stats.processes.exitCodes)}, failures ${stats.processes.failures.length}`);
  for (const [k, v] of outcomes.slice(0, 40)) t.diagnostic(`${String(v).padStart(7)}  ${k}`);
  if (outcomes.length > 40) t.diagnostic(`… ${outcomes.length - 40} more kinds`);
  assert.deepEqual(stats.crashes, []);
  assert.deepEqual(stats.hangs, []);
  assert.deepEqual(stats.processes.failures, []);
  assert.equal(stats.inputs, COUNT);
  fs.rmSync(tmpDir, { recursive: true, force: true });
});
