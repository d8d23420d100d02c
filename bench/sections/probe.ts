/**
 * 2. probe throughput and memory: lbdiag probe (keep-alive and short) against autocannon, hey, wrk
 * and ab, all driving the same nginx `return 200` target, same concurrency and duration, in two
 * passes: pinned (nginx on one CPU, each client on the other: per-core efficiency) and unpinned
 * (nothing pinned, each tool on every core it uses by default or with its worker option: the probe
 * with --workers auto, autocannon with -w <cores>), with requests per CPU-second of each tool beside
 * its requests per second. Then probe runs of `--requests`/10 and `--requests` requests (records
 * streamed to a file) to show its memory does not grow with requests.
 */
import { rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Ctx, best, bestPerCpu } from '../context.js';
import { ab } from '../load/ab.js';
import { autocannon, autocannonTool } from '../load/autocannon.js';
import { hey } from '../load/hey.js';
import { netShort, undiciPool } from '../load/node-floor.js';
import { probeTool } from '../load/probe.js';
import { type LoadResult, runLoad } from '../load/run.js';
import type { LoadTool } from '../load/tool.js';
import { wrk } from '../load/wrk.js';
import { mib } from '../memory.js';
import { compare } from '../results.js';
import { startTarget, type Target } from '../servers/targets.js';

/** nginx for the pinned pass (server on its CPU, clients on the other) and for the unpinned one. */
const NGINX = { pinned: '127.0.60.11', unpinned: '127.0.60.12' } as const;

type PassName = keyof typeof NGINX;

interface PassResult {
  pass: PassName;
  byKey: Map<string, LoadResult[]>;
  target: Target;
}

const key = (tool: string, keepAlive: boolean) => `${tool}/${keepAlive ? 'keepalive' : 'short'}`;

/** Runs every usable tool in both modes against one nginx, interleaved over the rounds; the best round per tool and mode goes into `measured`. */
async function measurePass(ctx: Ctx, pass: PassName, tools: LoadTool[], measured: (LoadResult & { pass: PassName })[]): Promise<PassResult> {
  const { settings, pinning } = ctx;
  const pinned = pass === 'pinned';
  const loadCpu = pinned ? pinning.loadCpu : undefined;
  const target = await startTarget('nginx', NGINX[pass], pinned ? pinning.serverCpu : undefined);
  const spec = (keepAlive: boolean, durationS: number) => ({ url: target.url, host: target.host, port: target.port, keepAlive, concurrency: settings.concurrency, durationS });
  const byKey = new Map<string, LoadResult[]>();
  try {
    for (const keepAlive of [true, false]) {
      const usable = tools.filter((t) => {
        const why = t.unavailable({ keepAlive });
        if (why && !(t === undiciPool || t === netShort || t.name.startsWith('autocannon'))) ctx.skip(`${t.name} ${keepAlive ? 'keep-alive' : 'short'} (${pass})`, why);
        return !why;
      });
      for (let round = 0; round < settings.rounds; round++) {
        for (const t of usable) {
          try {
            if (round === 0 && settings.warmupS > 0) await runLoad(t, spec(keepAlive, settings.warmupS), loadCpu).catch(() => undefined);
            const r = await runLoad(t, spec(keepAlive, settings.durationS), loadCpu);
            ctx.log(`  ${pass}: ${t.name} ${keepAlive ? 'keep-alive' : 'short'} → nginx: ${r.rps} req/s, ${r.perCpuS ?? '?'} req per CPU-s, peak RSS ${mib(r.maxRssKb)} MiB${r.errors ? ` (${r.errors} errors)` : ''}`);
            byKey.set(key(t.name, keepAlive), [...(byKey.get(key(t.name, keepAlive)) ?? []), r]);
          } catch (e) {
            ctx.skip(`${t.name} ${keepAlive ? 'keep-alive' : 'short'} (${pass})`, (e as Error).message);
          }
        }
      }
    }
  } catch (e) {
    await target.stop();
    throw e;
  }
  for (const runs of byKey.values()) {
    const b = best(runs);
    if (b) measured.push({ ...b, pass });
  }
  return { pass, byKey, target };
}

export async function benchProbe(ctx: Ctx): Promise<void> {
  const { settings, pinning } = ctx;
  const cores = os.availableParallelism();
  const probe = probeTool();
  const probeAll = probeTool(undefined, 'auto');
  const autocannonAll = autocannonTool(cores);
  const measured: (LoadResult & { pass: PassName })[] = [];
  ctx.results.measurements.probe = measured;
  const c = `same concurrency (${settings.concurrency}) and duration`;
  const targets: Target[] = [];
  try {
    // Pinned: server on one CPU, the client on the other: per-core efficiency, one thread each
    // (hey's Go runtime and wrk are held to that core too). Not run when pinning is off.
    let first: PassResult | undefined;
    const passes: PassResult[] = [];
    if (pinning.enabled) {
      const tools = settings.smoke ? [probe] : [probe, autocannon, undiciPool, netShort, hey, wrk, ab];
      const p = await measurePass(ctx, 'pinned', tools, measured);
      targets.push(p.target);
      passes.push(p);
      first = p;
      const rps = (tool: string, ka: boolean) => best(p.byKey.get(key(tool, ka)) ?? [])?.rps;
      const perCpu = (tool: string, ka: boolean) => bestPerCpu(p.byKey.get(key(tool, ka)) ?? []);
      const side = (name: string, tool: string, ka: boolean) => ({ name, value: rps(tool, ka), perCpu: perCpu(tool, ka) });
      const pk = side('lbdiag probe --mode keepalive', probe.name, true);
      const ps = side('lbdiag probe --mode short', probe.name, false);
      ctx.results.comparisons.push(
        compare('probe', 'probe.keepalive.vs-autocannon', pk, side('autocannon (Node)', 'autocannon', true), 'req/s', { op: '>=', value: 1 }, c),
        compare('probe', 'probe.keepalive.vs-undici-pool', pk, side('undici Pool (Node floor)', undiciPool.name, true), 'req/s'),
        compare('probe', 'probe.keepalive.vs-hey', pk, side('hey (Go)', 'hey', true), 'req/s'),
        compare('probe', 'probe.keepalive.vs-wrk', pk, side('wrk (C)', 'wrk', true), 'req/s'),
        compare('probe', 'probe.keepalive.vs-ab-k', pk, side('ab -k (C)', 'ab', true), 'req/s'),
        compare('probe', 'probe.short.vs-hey', ps, side('hey -disable-keepalive (Go)', 'hey', false), 'req/s', { op: '>=', value: 1 }),
        compare('probe', 'probe.short.vs-net-socket', ps, side('raw net socket per request (Node floor)', netShort.name, false), 'req/s'),
        compare('probe', 'probe.short.vs-wrk', ps, side("wrk -H 'Connection: close'", 'wrk', false), 'req/s'),
        compare('probe', 'probe.short.vs-ab', ps, side('ab without -k (C)', 'ab', false), 'req/s'),
      );
    }

    // Unpinned: nothing pinned, every tool may use every core (hey and wrk do by default; the probe
    // with --workers auto, autocannon with -w <cores>), as on a client pod. The goals of issue 15.
    {
      const tools = settings.smoke ? [probeAll, autocannon, hey] : [probe, probeAll, autocannon, autocannonAll, hey, wrk, ab];
      const p = await measurePass(ctx, 'unpinned', cores > 1 || settings.smoke ? tools : [probe, autocannon, hey, wrk, ab], measured);
      targets.push(p.target);
      passes.push(p);
      first ??= p;
      const rps = (tool: string, ka: boolean) => best(p.byKey.get(key(tool, ka)) ?? [])?.rps;
      const perCpu = (tool: string, ka: boolean) => bestPerCpu(p.byKey.get(key(tool, ka)) ?? []);
      const side = (name: string, tool: string, ka: boolean) => ({ name, value: rps(tool, ka), perCpu: perCpu(tool, ka) });
      const wk = side('lbdiag probe --mode keepalive -w auto', probeAll.name, true);
      const ws = side('lbdiag probe --mode short -w auto', probeAll.name, false);
      const u = `unpinned, ${cores} cores shared by client and nginx; ${c}`;
      ctx.results.comparisons.push(
        compare('probe', 'probe.short.vs-hey.unpinned', ws, side('hey -disable-keepalive (Go, every core)', 'hey', false), 'req/s', { op: '>=', value: 1 }, u),
        compare('probe', 'probe.short.one-thread.vs-hey.unpinned', side('lbdiag probe --mode short (one thread)', probe.name, false), side('hey -disable-keepalive (Go, every core)', 'hey', false), 'req/s', undefined, 'the probe without --workers: one core against hey\'s all'),
        compare('probe', 'probe.short.vs-wrk.unpinned', ws, side("wrk -t1 -H 'Connection: close'", 'wrk', false), 'req/s'),
        compare('probe', 'probe.short.vs-ab.unpinned', ws, side('ab without -k (C, one thread)', 'ab', false), 'req/s'),
        compare('probe', 'probe.short.workers.vs-one-thread.unpinned', ws, side('lbdiag probe --mode short (one thread)', probe.name, false), 'req/s', undefined, 'what --workers auto adds'),
        compare('probe', 'probe.keepalive.vs-autocannon.unpinned', wk, side(`autocannon -w ${cores} (Node, every core)`, autocannonAll.name, true), 'req/s', { op: '>=', value: 1.2 }, `both on every core; ${u}`),
        compare('probe', 'probe.keepalive.vs-autocannon-one-thread.unpinned', wk, side('autocannon (Node, one thread: its default)', 'autocannon', true), 'req/s'),
        compare('probe', 'probe.keepalive.one-thread.vs-autocannon.unpinned', side('lbdiag probe --mode keepalive (one thread)', probe.name, true), side('autocannon (Node, one thread: its default)', 'autocannon', true), 'req/s', undefined, 'both in one thread'),
        compare('probe', 'probe.keepalive.vs-hey.unpinned', wk, side('hey (Go, every core)', 'hey', true), 'req/s'),
        compare('probe', 'probe.keepalive.vs-wrk.unpinned', wk, side('wrk -t1 (C)', 'wrk', true), 'req/s'),
        compare('probe', 'probe.keepalive.workers.vs-one-thread.unpinned', wk, side('lbdiag probe --mode keepalive (one thread)', probe.name, true), 'req/s', undefined, 'what --workers auto adds'),
      );
    }
    const nginx = first!.target;
    const byKey = first!.byKey;
    const spec = (keepAlive: boolean, durationS: number) => ({ url: nginx.url, host: nginx.host, port: nginx.port, keepAlive, concurrency: settings.concurrency, durationS });
    const memCpu = first!.pass === 'pinned' ? pinning.loadCpu : undefined;

    // Memory: keep-alive runs of --requests/10 and --requests requests, records streamed to disk.
    const records = path.join(settings.workDir, 'probe-records.ndjson');
    const memoryRun = async (requests: number): Promise<LoadResult & { recordsMiB?: number }> => {
      rmSync(records, { force: true });
      ctx.log(`probe memory: -n ${requests} keep-alive, --records ${path.relative(process.cwd(), records)}`);
      try {
        const r = await runLoad(probeTool(records), { ...spec(true, 0), requests }, memCpu);
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
      measured.push({ ...small, pass: first!.pass }, { ...large, pass: first!.pass });
      const ac = best(byKey.get(key('autocannon', true)) ?? passes.find((x) => x.byKey.has(key('autocannon', true)))?.byKey.get(key('autocannon', true)) ?? []);
      const pr = best(byKey.get(key(probe.name, true)) ?? byKey.get(key(probeAll.name, true)) ?? []);
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
    for (const t of targets) await t.stop();
  }
}
