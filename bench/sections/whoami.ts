/**
 * 1. whoami throughput and memory: lbdiag whoami against the bare node:http floor and the nginx
 * `return 200` ceiling, same load tool (wrk), same concurrency, keep-alive and a new connection per
 * request; then peak and steady RSS over `--requests` requests (ab, alternating keep-alive and not).
 */
import { type Ctx, best, bestPerCpu } from '../context.js';
import { ab } from '../load/ab.js';
import { hey } from '../load/hey.js';
import { type LoadResult, runLoad } from '../load/run.js';
import type { LoadTool } from '../load/tool.js';
import { wrk } from '../load/wrk.js';
import { cpuSeconds, mib } from '../memory.js';
import { compare } from '../results.js';
import { startTarget, type Target, type TargetKind } from '../servers/targets.js';

const HOSTS: Record<TargetKind, string> = { nginx: '127.0.60.1', 'bare-node': '127.0.60.2', whoami: '127.0.60.3' };

interface Throughput extends LoadResult {
  target: TargetKind;
  /** CPU time the server used during the run, and requests per server CPU-second. */
  serverCpuS?: number;
  serverPerCpuS?: number;
}

interface MemoryRun {
  target: TargetKind;
  tool: string;
  /** RSS at the end of each step, and the highest RSS sampled (every 100 ms) during it. */
  steps: { afterRequests: number; keepAlive: boolean; rssMiB?: number; maxRssMiB?: number }[];
  peakMiB?: number;
  errors: number;
}

function pickTool(keepAlive: boolean, requests?: number): LoadTool | undefined {
  const order = requests !== undefined ? [ab, hey] : [wrk, hey, ab];
  return order.find((t) => t.unavailable({ keepAlive, requests }) === undefined);
}

async function memoryRun(ctx: Ctx, target: Target): Promise<MemoryRun> {
  const { settings, pinning } = ctx;
  const per = Math.max(1, Math.floor(settings.requests / 4));
  const run: MemoryRun = { target: target.kind, tool: '', steps: [], errors: 0 };
  let done = 0;
  for (let i = 0; i < 4; i++) {
    const keepAlive = i % 2 === 0;
    const tool = pickTool(keepAlive, per);
    if (!tool) throw new Error('neither ab nor hey is available for a fixed-count run');
    run.tool = tool.name;
    let maxKb = 0;
    const sample = () => {
      maxKb = Math.max(maxKb, target.rssKb() ?? 0);
    };
    const timer = setInterval(sample, 100);
    let r;
    try {
      r = await runLoad(tool, { url: target.url, host: target.host, port: target.port, keepAlive, concurrency: settings.concurrency, durationS: 0, requests: per }, pinning.loadCpu);
    } finally {
      clearInterval(timer);
    }
    sample();
    done += r.requests;
    run.errors += r.errors;
    run.steps.push({ afterRequests: done, keepAlive, rssMiB: mib(target.rssKb()), maxRssMiB: mib(maxKb) });
    ctx.log(`  ${target.kind}: ${done} requests, RSS ${mib(target.rssKb())} MiB (highest during the step ${mib(maxKb)} MiB)`);
  }
  run.peakMiB = mib(target.peakKb());
  return run;
}

export async function benchWhoami(ctx: Ctx): Promise<void> {
  const { settings, pinning } = ctx;
  const targets = new Map<TargetKind, Target>();
  const throughput: Throughput[] = [];
  const memory: MemoryRun[] = [];
  try {
    // --smoke: the nginx ceiling is left out (its comparisons say skipped), the code paths are the same.
    for (const kind of (settings.smoke ? ['whoami', 'bare-node'] : ['whoami', 'bare-node', 'nginx']) as TargetKind[]) {
      try {
        targets.set(kind, await startTarget(kind, HOSTS[kind], pinning.serverCpu));
      } catch (e) {
        ctx.skip(`whoami section: ${kind}`, (e as Error).message);
      }
    }
    for (const keepAlive of [true, false]) {
      const tool = pickTool(keepAlive);
      if (!tool) {
        ctx.skip(`whoami ${keepAlive ? 'keep-alive' : 'short'}`, 'no load tool available (wrk, hey, ab)');
        continue;
      }
      const runs = new Map<TargetKind, Throughput[]>();
      for (const t of targets.values()) {
        // Warm-up (JIT, connection setup), not counted.
        if (settings.warmupS > 0) await runLoad(tool, { url: t.url, host: t.host, port: t.port, keepAlive, concurrency: settings.concurrency, durationS: settings.warmupS }, pinning.loadCpu).catch(() => undefined);
      }
      for (let round = 0; round < settings.rounds; round++) {
        // Interleaved, so drift from other load on the machine hits every target alike.
        for (const t of targets.values()) {
          try {
            const cpu0 = cpuSeconds(t.pid);
            const r = await runLoad(tool, { url: t.url, host: t.host, port: t.port, keepAlive, concurrency: settings.concurrency, durationS: settings.durationS }, pinning.loadCpu);
            const cpu1 = cpuSeconds(t.pid);
            const serverCpuS = cpu0 !== undefined && cpu1 !== undefined ? Number((cpu1 - cpu0).toFixed(2)) : undefined;
            const serverPerCpuS = serverCpuS ? Math.round(r.requests / serverCpuS) : undefined;
            ctx.log(`  ${tool.name} ${keepAlive ? 'keep-alive' : 'short'} → ${t.kind}: ${r.rps} req/s, ${serverPerCpuS ?? '?'} req per server CPU-s${r.errors ? ` (${r.errors} errors)` : ''}`);
            runs.set(t.kind, [...(runs.get(t.kind) ?? []), { ...r, target: t.kind, serverCpuS, serverPerCpuS }]);
          } catch (e) {
            ctx.skip(`${tool.name} → ${t.kind}`, (e as Error).message);
          }
        }
      }
      const b = (k: TargetKind) => best(runs.get(k) ?? []);
      for (const k of targets.keys()) {
        const r = b(k);
        if (r) throughput.push(r);
      }
      const mode = keepAlive ? 'keepalive' : 'short';
      const label = `${tool.name} ${keepAlive ? 'keep-alive' : 'Connection: close'}`;
      const w = b('whoami');
      const pc = (k: TargetKind) => bestPerCpu((runs.get(k) ?? []).map((r) => ({ perCpuS: r.serverPerCpuS })));
      ctx.results.comparisons.push(
        compare('whoami', `whoami.${mode}.vs-bare-node`, { name: `whoami (${label})`, value: w?.rps, perCpu: pc('whoami') }, { name: 'bare node:http', value: b('bare-node')?.rps, perCpu: pc('bare-node') }, 'req/s', { op: '>=', value: 0.85 }),
        compare('whoami', `whoami.${mode}.vs-nginx`, { name: `whoami (${label})`, value: w?.rps, perCpu: pc('whoami') }, { name: 'nginx return 200', value: b('nginx')?.rps, perCpu: pc('nginx') }, 'req/s'),
      );
    }
    for (const kind of (settings.smoke ? ['whoami'] : ['whoami', 'bare-node']) as TargetKind[]) {
      const t = targets.get(kind);
      if (!t) continue;
      try {
        ctx.log(`memory: ${settings.requests} requests against ${kind}`);
        memory.push(await memoryRun(ctx, t));
      } catch (e) {
        ctx.skip(`memory run against ${kind}`, (e as Error).message);
      }
    }
    const mw = memory.find((m) => m.target === 'whoami');
    const mb = memory.find((m) => m.target === 'bare-node');
    // Highest RSS sampled in each half: robust to where the GC sawtooth happens to be at the end of a step.
    const highest = (m: MemoryRun | undefined, from: number, to: number): number | undefined => {
      const v = (m?.steps.slice(from, to) ?? []).map((x) => x.maxRssMiB).filter((x): x is number => x !== undefined);
      return v.length === to - from ? Math.max(...v) : undefined;
    };
    const half = (m?: MemoryRun) => highest(m, 0, 2);
    const end = (m?: MemoryRun) => highest(m, 2, 4);
    ctx.results.comparisons.push(
      compare('whoami', 'whoami.memory.peak.vs-bare-node', { name: `whoami peak RSS, ${settings.requests} req`, value: mw?.peakMiB }, { name: 'bare node:http peak RSS', value: mb?.peakMiB }, 'MiB'),
      compare(
        'whoami',
        'whoami.memory.growth',
        { name: `whoami highest RSS, 2nd half of ${settings.requests} req`, value: end(mw) },
        { name: '1st half', value: half(mw) },
        'MiB',
        { op: '<=', value: 1.1 },
        'the same workload twice (keep-alive then new connections), RSS sampled every 100 ms; > 1.1 would mean memory grows with requests',
      ),
    );
  } finally {
    for (const t of targets.values()) await t.stop();
  }
  ctx.results.measurements.whoami = [...throughput, ...memory];
}
