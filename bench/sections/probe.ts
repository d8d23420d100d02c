/**
 * 2. probe throughput and memory: lbdiag probe (keep-alive and short) against autocannon, hey, wrk
 * and ab, all driving the same nginx `return 200` target (pinned to its own CPU so the target is not
 * the bottleneck), same concurrency and duration. Then probe runs of `--requests`/10 and `--requests`
 * requests (records streamed to a file) to show its memory does not grow with requests.
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

    // Memory: keep-alive runs of --requests/10 and --requests requests, records streamed to disk.
    const records = path.join(settings.workDir, 'probe-records.ndjson');
    const memoryRun = async (requests: number): Promise<LoadResult & { recordsMiB?: number }> => {
      rmSync(records, { force: true });
      ctx.log(`probe memory: -n ${requests} keep-alive, --records ${path.relative(process.cwd(), records)}`);
      try {
        const r = await runLoad(probeTool(records), { ...spec(true, 0), requests }, pinning.loadCpu);
        let recordsMiB: number | undefined;
        try {
          recordsMiB = Number((statSync(records).size / 2 ** 20).toFixed(1));
        } catch { /* probe did not write it */ }
        ctx.log(`  ${r.requests} requests, peak RSS ${mib(r.maxRssKb)} MiB, records ${recordsMiB ?? '?'} MiB`);
        return { ...r, recordsMiB, note: `memory run, -n ${requests} --records` };
      } finally {
        rmSync(records, { force: true });
      }
    };
    try {
      const small = await memoryRun(Math.max(1, Math.round(settings.requests / 10)));
      const large = await memoryRun(settings.requests);
      measured.push(small, large);
      const ac = best(byKey.get(key('autocannon', true)) ?? []);
      const pr = best(byKey.get(key(probe.name, true)) ?? []);
      ctx.results.comparisons.push(
        compare(
          'probe',
          'probe.memory.growth',
          { name: `probe -n ${large.requests} peak RSS`, value: mib(large.maxRssKb) },
          { name: `probe -n ${small.requests} peak RSS`, value: mib(small.maxRssKb) },
          'MiB',
          { op: '<=', value: 1.5 },
          '10x the requests, records streamed to a file: histograms, not arrays of samples, keep the peak flat',
        ),
        compare('probe', 'probe.memory.vs-autocannon', { name: `probe peak RSS, ${settings.durationS} s (${pr?.requests ?? '?'} req)`, value: mib(pr?.maxRssKb) }, { name: `autocannon, same (${ac?.requests ?? '?'} req)`, value: mib(ac?.maxRssKb) }, 'MiB'),
      );
    } catch (e) {
      ctx.skip('probe memory run', (e as Error).message);
    }
  } finally {
    await nginx.stop();
  }
}
