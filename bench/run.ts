/**
 * `npm run bench`: lbdiag against the tools users would otherwise pick, in one run, as ratios.
 * Prints the comparison table on stdout (progress on stderr) and writes bench/results.json.
 * Never fails on a goal: exit 0 unless the bench itself breaks (bad flag: exit 2).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ROOT } from '../test/support/processes.js';
import { makeChalk } from '../src/core/style.js';
import type { Ctx, Settings } from './context.js';
import { describeMachine, detectPinning } from './host.js';
import { renderComparisons, renderMarkdown } from './print.js';
import type { Results } from './results.js';
import { benchPcap } from './sections/pcap.js';
import { benchProbe } from './sections/probe.js';
import { benchProbeH2 } from './sections/probe-h2.js';
import { benchWhoami } from './sections/whoami.js';
import { renderSoak, soakWhoami } from './soak/whoami-soak.js';

let soakMinutes = 10;
/** Not in the default run (it takes --soak-minutes): `--only soak`. */
async function benchSoak(ctx: Ctx): Promise<void> {
  ctx.log(`whoami soak for ${soakMinutes} min (mixed load, RSS sampled every second)`);
  const r = await soakWhoami(soakMinutes, ctx.log);
  ctx.results.measurements.whoamiSoak = [r];
  process.stdout.write(`${renderSoak(r)}\n`);
}

const SECTIONS = { whoami: benchWhoami, probe: benchProbe, pcap: benchPcap, soak: benchSoak, 'whoami-h2': async (ctx: Ctx) => (await import('./sections/whoami-h2.js')).benchWhoamiH2(ctx), 'probe-h2': benchProbeH2 } as const;
const DEFAULT_SECTIONS = ['whoami', 'probe', 'pcap'];

const USAGE = `usage: npm run bench -- [options]
  --only LIST        sections to run: whoami,probe,pcap (default), soak (whoami soak, not in the default),
                     probe-h2 (probe --http2 vs h2load, not in the default)
  --soak-minutes M   length of the whoami soak (default 10)
  --duration S       seconds per throughput measurement (default 5)
  --warmup S         seconds of unmeasured warm-up per target and mode (default 1)
  --concurrency N    connections for every tool (default 50)
  --rounds N         measurements per cell, interleaved, best kept (default 3)
  --requests N       requests in the memory runs of whoami and probe (default 200000; 1000000 for the full check)
  --packets N        packets in the capture for pcap (default 1000000)
  --scale N          size factor of the big capture for the flat-memory check (default 10)
  --copy-gap S       seconds of silence between the copies in the big capture (default 0: back to back)
  --fresh-capture    remake the captures under bench/work even when they exist
  --no-pin           do not pin servers and clients to different CPUs
  --out FILE         results JSON (default bench/results.json)
  --markdown         also print the table as Markdown (for bench/README.md)
  --smoke            a few seconds per section (1 s runs, 1 round, no warm-up, few tools, small
                     counts unless given): checks the bench works (test/bench-smoke.test.ts)
  --work-dir DIR     captures and scratch files (default bench/work)`;

function fail(msg: string): never {
  process.stderr.write(`bench: ${msg}\n${USAGE}\n`);
  process.exit(2);
}

function positive(v: string | undefined, name: string, dflt: number, allowZero = false): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0 || (!allowZero && n === 0)) fail(`--${name} must be a ${allowZero ? 'non-negative' : 'positive'} number, got "${v}"`);
  return n;
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        only: { type: 'string' },
        'soak-minutes': { type: 'string' },
        duration: { type: 'string' },
        warmup: { type: 'string' },
        concurrency: { type: 'string' },
        rounds: { type: 'string' },
        requests: { type: 'string' },
        packets: { type: 'string' },
        scale: { type: 'string' },
        'copy-gap': { type: 'string' },
        'fresh-capture': { type: 'boolean', default: false },
        'no-pin': { type: 'boolean', default: false },
        out: { type: 'string' },
        markdown: { type: 'boolean', default: false },
        smoke: { type: 'boolean', default: false },
        'work-dir': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (e) {
    fail((e as Error).message);
  }
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const sections = values.only ? values.only.split(',').map((s) => s.trim()) : DEFAULT_SECTIONS;
  for (const s of sections) if (!(s in SECTIONS)) fail(`unknown section "${s}" (whoami, probe, pcap, soak)`);
  soakMinutes = positive(values['soak-minutes'], 'soak-minutes', 10);
  const smoke = values.smoke ?? false;
  const settings: Settings = {
    sections,
    durationS: positive(values.duration, 'duration', smoke ? 1 : 5),
    warmupS: positive(values.warmup, 'warmup', smoke ? 0 : 1, true),
    concurrency: Math.round(positive(values.concurrency, 'concurrency', smoke ? 20 : 50)),
    rounds: Math.round(positive(values.rounds, 'rounds', smoke ? 1 : 3)),
    requests: Math.round(positive(values.requests, 'requests', smoke ? 2000 : 200_000)),
    packets: Math.round(positive(values.packets, 'packets', smoke ? 5000 : 1_000_000)),
    scale: Math.round(positive(values.scale, 'scale', smoke ? 2 : 10)),
    copyGapS: positive(values['copy-gap'], 'copy-gap', 0, true),
    freshCapture: values['fresh-capture'] ?? false,
    workDir: path.resolve(values['work-dir'] ?? path.join(ROOT, 'bench', 'work')),
    smoke,
  };
  const out = path.resolve(values.out ?? path.join(ROOT, 'bench', 'results.json'));
  const pinning = detectPinning(values['no-pin'] ?? false);
  const results: Results = {
    generatedAt: new Date().toISOString(),
    settings: { ...settings, workDir: undefined },
    machine: describeMachine(),
    pinning: pinning.note,
    measurements: {},
    comparisons: [],
    skipped: [],
  };
  const t0 = Date.now();
  const ctx: Ctx = {
    settings,
    pinning,
    results,
    log: (msg) => process.stderr.write(`[${((Date.now() - t0) / 1000).toFixed(0).padStart(4)}s] ${msg}\n`),
    skip: (what, reason) => {
      results.skipped.push({ what, reason });
      process.stderr.write(`bench: skipped ${what}: ${reason}\n`);
    },
  };
  mkdirSync(settings.workDir, { recursive: true });
  ctx.log(`pinning: ${pinning.note}; concurrency ${settings.concurrency}, ${settings.durationS} s per measurement, best of ${settings.rounds}`);
  for (const s of sections) {
    ctx.log(`== ${s} (load average ${os.loadavg()[0].toFixed(1)} on ${os.availableParallelism()} CPUs)`);
    try {
      await SECTIONS[s as keyof typeof SECTIONS](ctx);
    } catch (e) {
      ctx.skip(`${s} section`, (e as Error).message);
    }
    writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
  }
  results.settings.elapsedS = Math.round((Date.now() - t0) / 1000);
  results.machine.loadAverageAtEnd = os.loadavg().map((l) => Number(l.toFixed(2)));
  writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
  const chalk = makeChalk(process.stdout);
  process.stdout.write(`\nlbdiag bench (${pinning.note}; concurrency ${settings.concurrency}; ${settings.durationS} s per measurement, best of ${settings.rounds})\n`);
  process.stdout.write(renderComparisons(results, chalk));
  if (values.markdown) process.stdout.write(`\n${renderMarkdown(results)}`);
  process.stdout.write(`results: ${path.relative(process.cwd(), out)} (${results.settings.elapsedS} s)\n`);
}

// Ctrl-C / SIGTERM: exit through process.exit so the exit hook of test/support/processes.ts kills
// every server and load generator started so far (by pid).
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    process.stderr.write(`bench: ${sig}, stopping what it started\n`);
    process.exit(130);
  });
}

main().catch((e: unknown) => {
  process.stderr.write(`bench: ${(e as Error).stack ?? String(e)}\n`);
  process.exit(1);
});
