/**
 * probe --http2 throughput against h2load (nghttp2) on the same target, at equal connections x
 * streams: nginx `return 200` serving h2c (prior knowledge, `listen ... http2`), pinned to its own
 * CPU; h2load `-c C -m S -D N`, `lbdiag probe --http2 -c C --streams S -d N --mode keepalive`, and a
 * bare node:http2 client loop (C sessions, S streams each refilled at once: the floor any Node HTTP/2
 * client pays) as the Node anchor. Goal (issue 12): probe >= 0.8x h2load requests/s.
 * `npm run bench -- --only probe-h2` (not in the default sections: needs h2load, Debian nghttp2-client).
 */
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { type Ctx } from '../context.js';
import { execMeasured } from '../exec.js';
import { findBinary } from '../../src/lab/tools.js';
import { spawnProcess } from '../../src/lab/supervisor.js';
import { waitForPort } from '../../src/lab/port-wait.js';
import { onCpu } from '../host.js';
import { LBDIAG } from '../../test/support/processes.js';
import { compare } from '../results.js';

const HOST = '127.0.60.31';
const PORT = 18091;
const CONNECTIONS = 4;
const STREAMS = 10;

/** A bare node:http2 client: C sessions, S streams each, every stream replaced as soon as it ends. */
const BARE_CLIENT = `
const http2 = require('node:http2');
const [url, c, s, ms] = process.argv.slice(1);
let done = 0; const t0 = performance.now();
for (let i = 0; i < +c; i++) {
  const sess = http2.connect(url);
  const go = () => { if (performance.now() - t0 > +ms) return; const st = sess.request({ ':path': '/' }); st.on('data', () => {}); st.on('end', () => { done++; go(); }); st.on('error', () => {}); };
  for (let j = 0; j < +s; j++) go();
}
setTimeout(() => { console.log(JSON.stringify({ rps: Math.round(done * 1000 / +ms) })); process.exit(0); }, +ms);
`;

export async function benchProbeH2(ctx: Ctx): Promise<void> {
  const { settings, pinning } = ctx;
  const nginx = findBinary('nginx');
  const h2load = findBinary('h2load');
  if (!nginx) return ctx.skip('probe --http2 vs h2load', 'nginx not installed');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lbdiag-bench-h2-'));
  writeFileSync(
    path.join(dir, 'nginx.conf'),
    `worker_processes 1;\ndaemon off;\npid ${dir}/nginx.pid;\nerror_log ${dir}/error.log;\nevents { worker_connections 4096; }\nhttp {\n  access_log off;\n  server {\n    listen ${HOST}:${PORT} http2;\n    http2_max_requests 10000000;\n    keepalive_requests 10000000;\n    location / { return 200 "ok\\n"; }\n  }\n}\n`,
  );
  const [cmd, args] = onCpu(pinning.serverCpu, nginx, ['-c', path.join(dir, 'nginx.conf'), '-p', dir]);
  const server = spawnProcess(cmd, args, { name: 'nginx h2c (bench)', graceMs: 2000 });
  const url = `http://${HOST}:${PORT}/`;
  const measured: { tool: string; rps: number; perCpuS?: number }[] = [];
  ctx.results.measurements['probe-h2'] = measured;
  try {
    await waitForPort(HOST, PORT, { process: server, timeoutMs: 10_000 });
    const d = settings.durationS;
    const runs: Record<string, number[]> = { probe: [], h2load: [], bare: [] };
    /** Requests per CPU-second of the client (user + sys, GNU time): robust to a loaded machine. */
    const cpu: Record<string, number[]> = { probe: [], h2load: [], bare: [] };
    const perCpu = (tool: string, rps: number, r: { userS?: number; sysS?: number }) => {
      const used = (r.userS ?? 0) + (r.sysS ?? 0);
      if (used > 0) cpu[tool].push(Math.round((rps * d) / used));
    };
    for (let round = 0; round < settings.rounds; round++) {
      if (h2load) {
        const r = await execMeasured(h2load, ['-c', String(CONNECTIONS), '-m', String(STREAMS), '-D', String(d), url], { cpu: pinning.loadCpu, timeoutMs: (d + 30) * 1000 });
        const m = /finished in [\d.]+s, ([\d.]+) req\/s/.exec(r.stdout);
        if (m) {
          runs.h2load.push(Number(m[1]));
          perCpu('h2load', Number(m[1]), r);
        }
      } else if (round === 0) ctx.skip('h2load', 'not installed (Debian package nghttp2-client)');
      const p = await execMeasured(process.execPath, [LBDIAG, 'probe', url, '--http2', '-c', String(CONNECTIONS), '--streams', String(STREAMS), '-d', `${d}s`, '--mode', 'keepalive', '--json', '--fail-on', 'none'], { cpu: pinning.loadCpu, timeoutMs: (d + 60) * 1000 });
      try {
        const rate = (JSON.parse(p.stdout) as { modes: { keepalive: { rate: number } } }).modes.keepalive.rate;
        runs.probe.push(rate);
        perCpu('probe', rate, p);
      } catch {
        ctx.skip('probe --http2 round', p.stderr.slice(0, 200));
      }
      const b = await execMeasured(process.execPath, ['-e', BARE_CLIENT, url, String(CONNECTIONS), String(STREAMS), String(d * 1000)], { cpu: pinning.loadCpu, timeoutMs: (d + 30) * 1000 });
      try {
        const rate = (JSON.parse(b.stdout) as { rps: number }).rps;
        runs.bare.push(rate);
        perCpu('bare', rate, b);
      } catch {
        ctx.skip('bare node:http2 round', b.stderr.slice(0, 200));
      }
      ctx.log(`  round ${round + 1}: probe --http2 ${runs.probe.at(-1)} req/s (${cpu.probe.at(-1)}/CPU-s), h2load ${runs.h2load.at(-1) ?? '-'} (${cpu.h2load.at(-1)}/CPU-s), bare node:http2 ${runs.bare.at(-1)} (${cpu.bare.at(-1)}/CPU-s)`);
    }
    const best = (xs: number[]) => (xs.length ? Math.max(...xs) : undefined);
    for (const [tool, xs] of Object.entries(runs)) if (xs.length) measured.push({ tool, rps: best(xs)!, perCpuS: best(cpu[tool]) });
    const note = `${CONNECTIONS} connections x ${STREAMS} streams, ${d} s, nginx h2c return 200`;
    ctx.results.comparisons.push(
      compare('probe', 'probe.http2.vs-h2load', { name: 'lbdiag probe --http2 --mode keepalive', value: best(runs.probe), perCpu: best(cpu.probe) }, { name: 'h2load (C, nghttp2)', value: best(runs.h2load), perCpu: best(cpu.h2load) }, 'req/s', { op: '>=', value: 0.8 }, note),
      compare('probe', 'probe.http2.vs-bare-node-http2', { name: 'lbdiag probe --http2 --mode keepalive', value: best(runs.probe), perCpu: best(cpu.probe) }, { name: 'bare node:http2 client (Node floor)', value: best(runs.bare), perCpu: best(cpu.bare) }, 'req/s', undefined, note),
    );
  } finally {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
