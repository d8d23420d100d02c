/**
 * The bench cannot rot: `npm run bench -- --smoke` runs each section (whoami, probe, pcap) for a
 * few seconds, in parallel (they use their own addresses, and the smoke's figures are not
 * measurements: only that each section still produces its figures). Each must give its key
 * comparisons with ratios above zero, or name why a tool was skipped (a missing external tool is a
 * skip with its reason, never a silent gap). Tools are never installed by the test
 * (LBDIAG_BENCH_NO_INSTALL). 45-100 s of wall time per section at load average 15-34 on 2 cores (not
 * measured on a quiet machine: each 1 s run plus process start-up), hence the generous bounds.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Comparison, Results } from '../bench/results.js';
import { ROOT, start } from './support/processes.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lbdiag-bench-smoke-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

const BENCH = path.join(ROOT, 'dist', 'bench', 'run.js');

/** Key comparisons of each section, with the external tool each needs (undefined: none but lbdiag and Node). */
const KEYS: Record<string, [id: string, tool?: string][]> = {
  whoami: [['whoami.keepalive.vs-bare-node', 'wrk'], ['whoami.short.vs-bare-node', 'wrk'], ['whoami.memory.growth', 'ab']],
  probe: [['probe.short.vs-hey.unpinned', 'hey'], ['probe.keepalive.vs-autocannon-one-thread.unpinned'], ['probe.memory.growth'], ['probe.memory.vs-autocannon']],
  pcap: [['pcap.throughput.vs-tshark', 'tshark'], ['pcap.throughput.vs-raw-walk'], ['pcap.memory.2x-vs-1x']],
};

async function runSection(section: string): Promise<{ code: number | string; results?: Results; stderr: string; seconds: number }> {
  const out = path.join(dir, `${section}.json`);
  const t0 = Date.now();
  // --no-pin: three sections at once would otherwise all put their servers on CPU 0 and clients on CPU 1
  // (the probe's pinned pass is then not run: its comparisons say skipped; the unpinned pass is the same code).
  const p = start(process.execPath, [BENCH, '--only', section, '--smoke', '--no-pin', '--work-dir', path.join(dir, section), '--out', out], { env: { ...process.env, LBDIAG_BENCH_NO_INSTALL: '1', NO_COLOR: '1' } });
  const timer = setTimeout(() => void p.stop('SIGINT'), 200_000);
  const code = await p.exited;
  clearTimeout(timer);
  const results = fs.existsSync(out) ? (JSON.parse(fs.readFileSync(out, 'utf8')) as Results) : undefined;
  return { code, results, stderr: p.stderr(), seconds: (Date.now() - t0) / 1000 };
}

test('npm run bench -- --smoke: every section produces its figures (whoami, probe, pcap)', { timeout: 240_000 }, async (t) => {
  const runs = await Promise.all(Object.keys(KEYS).map(async (s) => [s, await runSection(s)] as const));
  for (const [section, r] of runs) {
    t.diagnostic(`${section}: ${r.seconds.toFixed(1)} s`);
    assert.equal(r.code, 0, `${section}: bench exit ${r.code}: ${r.stderr.slice(-800)}`);
    assert.ok(r.results, `${section}: no results file`);
    const res = r.results;
    assert.ok(!res.skipped.some((s) => s.what === `${section} section`), `${section} section failed: ${JSON.stringify(res.skipped)}`);
    const mine = res.comparisons.filter((c) => c.section === section);
    for (const c of mine) {
      if (c.status === 'skipped') continue;
      assert.ok(Number.isFinite(c.ratio) && c.ratio! > 0, `${c.id}: ratio ${c.ratio}`);
      assert.ok(c.subjectValue! > 0 && c.anchorValue! > 0, `${c.id}: ${c.subjectValue} vs ${c.anchorValue}`);
      if (c.cpuRatio !== undefined) assert.ok(Number.isFinite(c.cpuRatio) && c.cpuRatio > 0, `${c.id}: per CPU-s ${c.cpuRatio}`);
    }
    for (const [id, tool] of KEYS[section]) {
      const c: Comparison | undefined = mine.find((x) => x.id === id);
      assert.ok(c, `${section}: no comparison ${id}`);
      if (c.status !== 'skipped') continue;
      const why = tool ? res.skipped.find((s) => s.what.startsWith(tool) || s.reason.startsWith(`${tool} `)) : undefined;
      assert.ok(why, `${id} produced no figure and no tool skip says why: ${JSON.stringify(res.skipped)}`);
      t.diagnostic(`${id} skipped: ${why.what}: ${why.reason}`);
    }
  }
  // The probe's figures carry requests per CPU-second (GNU time or /proc) beside requests per second.
  const probe = runs.find(([s]) => s === 'probe')![1].results!;
  const measured = (probe.measurements.probe ?? []) as { tool: string; pass?: string; rps: number; perCpuS?: number }[];
  assert.ok(measured.some((m) => m.pass === 'unpinned' && m.tool === 'lbdiag probe -w auto' && m.rps > 0), JSON.stringify(measured.map((m) => [m.tool, m.pass])));
  if (fs.existsSync('/usr/bin/time')) for (const m of measured.filter((x) => x.pass)) assert.ok(m.perCpuS! > 0, `${m.tool}: per CPU-s ${m.perCpuS}`);
});
