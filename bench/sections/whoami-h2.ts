/**
 * whoami over h2c against the bare node:http2 floor (bench/servers/bare-h2.ts, core stream API),
 * both loaded by h2load (nghttp2-client) at the same connections × concurrent streams, interleaved
 * rounds, best kept. Goal: whoami ≥ 0.85× the bare server (issue 12). Run: npm run bench -- --only whoami-h2
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, LBDIAG, start, waitForPort, type Started } from '../../test/support/processes.js';
import { type Ctx, best, bestPerCpu } from '../context.js';
import { execMeasured } from '../exec.js';
import { ensureCommand, onCpu } from '../host.js';
import { cpuSeconds } from '../memory.js';
import { compare } from '../results.js';

const here = path.dirname(fileURLToPath(import.meta.url));
type Kind = 'whoami-h2c' | 'bare-node-h2';
const HOSTS: Record<Kind, string> = { 'whoami-h2c': '127.0.60.13', 'bare-node-h2': '127.0.60.12' };
/** Concurrent streams per connection (h2load -m); connections are the bench's --concurrency, capped. */
const STREAMS = 10;
const MAX_CONNECTIONS = 16;

export interface H2Run {
  target: Kind;
  connections: number;
  streams: number;
  requests: number;
  rps: number;
  errors: number;
  non2xx: number;
  elapsedS: number;
  serverCpuS?: number;
  serverPerCpuS?: number;
}

/** h2load's summary: `finished in 5.00s, 12345.60 req/s, ...` and `requests: N total, N started, N done, N succeeded, F failed, E errored, T timeout`. */
export function parseH2load(out: string): { requests: number; rps: number; elapsedS: number; errors: number; non2xx: number } {
  const fin = /finished in ([\d.]+)(ms|s), ([\d.]+) req\/s/.exec(out);
  const req = /requests: (\d+) total, \d+ started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(out);
  const codes = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(out);
  if (!fin || !req) throw new Error('no h2load summary');
  const elapsedS = Number(fin[1]) / (fin[2] === 'ms' ? 1000 : 1);
  const non2xx = codes ? Number(codes[2]) + Number(codes[3]) + Number(codes[4]) : 0;
  return { requests: Number(req[3]), rps: Number(fin[3]), elapsedS, errors: Number(req[4]) + Number(req[5]), non2xx };
}

async function startServer(kind: Kind, cpu: string | undefined): Promise<{ proc: Started; host: string; port: number }> {
  const host = HOSTS[kind];
  const port = await freePort(host);
  const [c, a] =
    kind === 'whoami-h2c'
      ? onCpu(cpu, process.execPath, [LBDIAG, 'whoami', '--host', host, '--port', String(port), '--name', 'bench', '--drain-delay', '0'])
      : onCpu(cpu, process.execPath, [path.join(here, '..', 'servers', 'bare-h2.js'), '--host', host, '--port', String(port)]);
  const proc = start(c, a);
  try {
    await waitForPort(host, port, 15_000);
  } catch (e) {
    await proc.stop('SIGKILL');
    throw e;
  }
  return { proc, host, port };
}

export async function benchWhoamiH2(ctx: Ctx): Promise<void> {
  const { settings, pinning } = ctx;
  const missing = ensureCommand('h2load', 'nghttp2-client');
  if (missing) {
    ctx.skip('whoami h2c vs bare node:http2', missing);
    return;
  }
  const connections = Math.min(settings.concurrency, MAX_CONNECTIONS);
  const servers = new Map<Kind, { proc: Started; host: string; port: number }>();
  const runs = new Map<Kind, H2Run[]>();
  try {
    for (const kind of ['whoami-h2c', 'bare-node-h2'] as Kind[]) {
      try {
        servers.set(kind, await startServer(kind, pinning.serverCpu));
      } catch (e) {
        ctx.skip(`whoami-h2 section: ${kind}`, (e as Error).message);
      }
    }
    const load = async (host: string, port: number, durationS: number): Promise<string> => {
      const args = ['-c', String(connections), '-m', String(STREAMS), '-D', String(durationS), '-t', '1', `http://${host}:${port}/`];
      const done = await execMeasured('h2load', args, { cpu: pinning.loadCpu, timeoutMs: (durationS + 30) * 1000 });
      if (done.timedOut) throw new Error(`h2load did not finish within ${durationS + 30} s`);
      return done.stdout + done.stderr;
    };
    for (const s of servers.values()) if (settings.warmupS > 0) await load(s.host, s.port, settings.warmupS).catch(() => '');
    for (let round = 0; round < settings.rounds; round++) {
      for (const [kind, s] of servers) {
        try {
          const cpu0 = cpuSeconds(s.proc.pid);
          const r = parseH2load(await load(s.host, s.port, settings.durationS));
          const cpu1 = cpuSeconds(s.proc.pid);
          const serverCpuS = cpu0 !== undefined && cpu1 !== undefined ? Number((cpu1 - cpu0).toFixed(2)) : undefined;
          const serverPerCpuS = serverCpuS ? Math.round(r.requests / serverCpuS) : undefined;
          ctx.log(`  h2load -c ${connections} -m ${STREAMS} → ${kind}: ${r.rps} req/s, ${serverPerCpuS ?? '?'} req per server CPU-s${r.errors ? ` (${r.errors} errors)` : ''}`);
          runs.set(kind, [...(runs.get(kind) ?? []), { target: kind, connections, streams: STREAMS, ...r, serverCpuS, serverPerCpuS }]);
        } catch (e) {
          ctx.skip(`h2load → ${kind}`, (e as Error).message);
        }
      }
    }
  } finally {
    for (const s of servers.values()) await s.proc.stop('SIGTERM', 3000);
  }
  const b = (k: Kind) => best(runs.get(k) ?? []);
  const pc = (k: Kind) => bestPerCpu((runs.get(k) ?? []).map((r) => ({ perCpuS: r.serverPerCpuS })));
  ctx.results.measurements.whoamiH2 = [...runs.values()].flat();
  ctx.results.comparisons.push(
    compare(
      'whoami',
      'whoami.h2c.vs-bare-node-h2',
      { name: `whoami h2c (h2load -c ${connections} -m ${STREAMS})`, value: b('whoami-h2c')?.rps, perCpu: pc('whoami-h2c') },
      { name: 'bare node:http2', value: b('bare-node-h2')?.rps, perCpu: pc('bare-node-h2') },
      'req/s',
      { op: '>=', value: 0.85 },
    ),
  );
}
