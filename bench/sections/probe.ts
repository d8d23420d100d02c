/**
 * 2. probe throughput and memory: lbdiag probe (keep-alive and short) against autocannon, hey, wrk
 * and ab, all driving the same nginx `return 200` target (pinned to its own CPU so the target is not
 * the bottleneck), same concurrency and duration. Then a long probe run (`--requests` requests at
 * the measured rate, records streamed to a file) to show its memory does not grow with requests.
 */
import { rmSync, statSync } from 'node:fs';
import path from 'node:path';
import { type Ctx, best, bestPerCpu } from '../context.js';
import { ab } from '../load/ab.js';
import { autocannon } from '../load/autocannon.js';
import { hey } from '../load/hey.js';
import { netShort, undiciPool } from '../load/node-floor.js';
import { probeTool } from '../load/probe.js';
import { type LoadResult, runLoad } from '../load/run.js';
import type { LoadTool } from '../load/tool.js';
import { wrk } from '../load/wrk.js';
import { mib } from '../memory.js';
import { compare } from '../results.js';
import { startTarget } from '../servers/targets.js';

const NGINX = '127.0.60.11';

export async function benchProbe(ctx: Ctx): Promise<void> {
  const { settings, pinning } = ctx;
  const probe = probeTool();
  const tools: LoadTool[] = [probe, autocannon, undiciPool, netShort, hey, wrk, ab];
  const measured: LoadResult[] = [];
  ctx.results.measurements.probe = measured;
  const nginx = await startTarget('nginx', NGINX, pinning.serverCpu);
  try {
    const spec = (keepAlive: boolean, durationS: number) => ({ url: nginx.url, host: nginx.host, port: nginx.port, keepAlive, concurrency: settings.concurrency, durationS });
    const byKey = new Map<string, LoadResult[]>();
    const key = (tool: string, keepAlive: boolean) => `${tool}/${keepAlive ? 'keepalive' : 'short'}`;
    for (const keepAlive of [true, false]) {
      const usable = tools.filter((t) => {
        const why = t.unavailable({ keepAlive });
        if (why && !(t === undiciPool || t === netShort)) ctx.skip(`${t.name} ${keepAlive ? 'keep-alive' : 'short'}`, why);
        return !why;
      });
      for (let round = 0; round < settings.rounds; round++) {
        for (const t of usable) {
          try {
            if (round === 0 && settings.warmupS > 0) await runLoad(t, spec(keepAlive, settings.warmupS), pinning.loadCpu).catch(() => undefined);
            const r = await runLoad(t, spec(keepAlive, settings.durationS), pinning.loadCpu);
            ctx.log(`  ${t.name} ${keepAlive ? 'keep-alive' : 'short'} → nginx: ${r.rps} req/s, peak RSS ${mib(r.maxRssKb)} MiB${r.errors ? ` (${r.errors} errors)` : ''}`);
            byKey.set(key(t.name, keepAlive), [...(byKey.get(key(t.name, keepAlive)) ?? []), r]);
          } catch (e) {
            ctx.skip(`${t.name} ${keepAlive ? 'keep-alive' : 'short'}`, (e as Error).message);
          }
        }
      }
    }
    for (const runs of byKey.values()) {
      const b = best(runs);
      if (b) measured.push(b);
    }
    const rps = (tool: string, ka: boolean) => best(byKey.get(key(tool, ka)) ?? [])?.rps;
    const perCpu = (tool: string, ka: boolean) => bestPerCpu(byKey.get(key(tool, ka)) ?? []);
    const c = `same concurrency (${settings.concurrency}) and duration`;
    ctx.results.comparisons.push(
      compare('probe', 'probe.keepalive.vs-autocannon', { name: 'lbdiag probe --mode keepalive', value: rps(probe.name, true), perCpu: perCpu(probe.name, true) }, { name: 'autocannon (Node)', value: rps('autocannon', true), perCpu: perCpu('autocannon', true) }, 'req/s', { op: '>=', value: 1 }, c),
      compare('probe', 'probe.keepalive.vs-undici-pool', { name: 'lbdiag probe --mode keepalive', value: rps(probe.name, true), perCpu: perCpu(probe.name, true) }, { name: 'undici Pool (Node floor)', value: rps(undiciPool.name, true), perCpu: perCpu(undiciPool.name, true) }, 'req/s'),
      compare('probe', 'probe.keepalive.vs-hey', { name: 'lbdiag probe --mode keepalive', value: rps(probe.name, true), perCpu: perCpu(probe.name, true) }, { name: 'hey (Go)', value: rps('hey', true), perCpu: perCpu('hey', true) }, 'req/s'),
      compare('probe', 'probe.keepalive.vs-wrk', { name: 'lbdiag probe --mode keepalive', value: rps(probe.name, true), perCpu: perCpu(probe.name, true) }, { name: 'wrk (C)', value: rps('wrk', true), perCpu: perCpu('wrk', true) }, 'req/s'),
      compare('probe', 'probe.keepalive.vs-ab-k', { name: 'lbdiag probe --mode keepalive', value: rps(probe.name, true), perCpu: perCpu(probe.name, true) }, { name: 'ab -k (C)', value: rps('ab', true), perCpu: perCpu('ab', true) }, 'req/s'),
      compare('probe', 'probe.short.vs-hey', { name: 'lbdiag probe --mode short', value: rps(probe.name, false), perCpu: perCpu(probe.name, false) }, { name: 'hey -disable-keepalive (Go)', value: rps('hey', false), perCpu: perCpu('hey', false) }, 'req/s', { op: '>=', value: 1 }),
      compare('probe', 'probe.short.vs-net-socket', { name: 'lbdiag probe --mode short', value: rps(probe.name, false), perCpu: perCpu(probe.name, false) }, { name: 'raw net socket per request (Node floor)', value: rps(netShort.name, false), perCpu: perCpu(netShort.name, false) }, 'req/s'),
      compare('probe', 'probe.short.vs-wrk', { name: 'lbdiag probe --mode short', value: rps(probe.name, false), perCpu: perCpu(probe.name, false) }, { name: "wrk -H 'Connection: close'", value: rps('wrk', false), perCpu: perCpu('wrk', false) }, 'req/s'),
      compare('probe', 'probe.short.vs-ab', { name: 'lbdiag probe --mode short', value: rps(probe.name, false), perCpu: perCpu(probe.name, false) }, { name: 'ab without -k (C)', value: rps('ab', false), perCpu: perCpu('ab', false) }, 'req/s'),
    );

    // Memory: a long keep-alive run of --requests requests, records streamed to disk.
    const short = best(byKey.get(key(probe.name, true)) ?? []);
    if (!short) {
      ctx.skip('probe memory run', 'the keep-alive probe measurement failed');
      return;
    }
    const records = path.join(settings.workDir, 'probe-records.ndjson');
    rmSync(records, { force: true });
    ctx.log(`probe memory: -n ${settings.requests} keep-alive, --records ${path.relative(process.cwd(), records)}`);
    try {
      const long = await runLoad(probeTool(records), { ...spec(true, 0), requests: settings.requests }, pinning.loadCpu);
      let recordsBytes: number | undefined;
      try {
        recordsBytes = statSync(records).size;
      } catch { /* probe did not write it */ }
      measured.push({ ...long, note: `memory run${recordsBytes !== undefined ? `, records file ${(recordsBytes / 2 ** 20).toFixed(1)} MiB` : ''}` });
      ctx.log(`  ${long.requests} requests, peak RSS ${mib(long.maxRssKb)} MiB`);
      const ac = best(byKey.get(key('autocannon', true)) ?? []);
      ctx.results.comparisons.push(
        compare(
          'probe',
          'probe.memory.growth',
          { name: `probe peak RSS, ${long.requests} req`, value: mib(long.maxRssKb) },
          { name: `probe peak RSS, ${short.requests} req`, value: mib(short.maxRssKb) },
          'MiB',
          { op: '<=', value: 1.5 },
          'peak RSS of the long run over that of the short one: histograms and streamed records keep it flat',
        ),
        compare('probe', 'probe.memory.vs-autocannon', { name: `probe peak RSS, ${short.requests} req`, value: mib(short.maxRssKb) }, { name: `autocannon peak RSS, ${ac?.requests ?? '?'} req`, value: mib(ac?.maxRssKb) }, 'MiB'),
      );
    } catch (e) {
      ctx.skip('probe memory run', (e as Error).message);
    } finally {
      rmSync(records, { force: true });
    }
  } finally {
    await nginx.stop();
  }
}
