/**
 * whoami soak: one `lbdiag whoami` process under mixed load for a set time (default 10 minutes):
 * keep-alive GET / and /api, short connections (Connection: close), `?size=1m` read in full,
 * `?wait=100ms`, and malformed requests on raw sockets. RSS sampled every second; at the end it
 * says whether RSS stayed flat and compares `/metrics` (responses by status) with what the client
 * counted. Run: `npm run bench -- --only soak --soak-minutes 10`, or
 * `node dist/bench/soak/whoami-soak.js [minutes]`.
 */
import http from 'node:http';
import net from 'node:net';
import { pathToFileURL } from 'node:url';
import { freePort, startLbdiag } from '../../test/support/processes.js';
import { statusKb } from '../memory.js';

export interface SoakResult {
  minutes: number;
  requests: number;
  clientByStatus: Record<string, number>;
  clientErrors: Record<string, number>;
  serverByStatus: Record<string, number>;
  mismatches: string[];
  rss: { startMiB: number; firstWindowMiB: number; lastWindowMiB: number; firstHalfPeakMiB: number; secondHalfPeakMiB: number; maxMiB: number; slopeMiBPerMin: number; samples: number };
  flat: boolean;
  alive: boolean;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

export async function soakWhoami(minutes: number, log: (m: string) => void = (m) => process.stderr.write(`${m}\n`)): Promise<SoakResult> {
  const host = '127.0.60.9';
  const port = await freePort(host);
  const p = startLbdiag(['whoami', '-H', host, '--port', String(port), '--name', 'soak', '--drain-delay', '0', '--headers-timeout', '5s']);
  const deadlineStart = Date.now() + 15_000;
  while (!/keep-alive/.test(p.stdout())) {
    if (p.child.exitCode !== null || Date.now() > deadlineStart) throw new Error(`whoami did not start: ${p.stderr()}`);
    await new Promise((r) => setTimeout(r, 50));
  }
  const byStatus: Record<string, number> = {};
  const errors: Record<string, number> = {};
  const count = (st: number): void => void (byStatus[st] = (byStatus[st] ?? 0) + 1);
  const err = (k: string): void => void (errors[k] = (errors[k] ?? 0) + 1);
  const endAt = Date.now() + minutes * 60_000;
  const rss: { t: number; mib: number }[] = [];
  const t0 = Date.now();
  const sampler = setInterval(() => {
    const kb = statusKb(p.pid, 'VmRSS');
    if (kb !== undefined) rss.push({ t: (Date.now() - t0) / 60_000, mib: kb / 1024 });
  }, 1000);
  const progress = setInterval(() => {
    const n = Object.values(byStatus).reduce((a, b) => a + b, 0);
    log(`soak ${((Date.now() - t0) / 60_000).toFixed(1)} min: ${n} answers, RSS ${rss.at(-1)?.mib.toFixed(1) ?? '?'} MiB`);
  }, 30_000);

  const keepAlive = new http.Agent({ keepAlive: true, maxSockets: 16 });
  const request = (path: string, agent: http.Agent | false): Promise<void> =>
    new Promise((resolve) => {
      const req = http.get({ host, port, path, agent, timeout: 20_000 }, (res) => {
        res.resume();
        res.on('end', () => {
          count(res.statusCode ?? 0);
          resolve();
        });
        res.on('error', () => {
          err('body');
          resolve();
        });
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', (e: NodeJS.ErrnoException) => {
        err(e.code ?? e.message);
        resolve();
      });
    });
  const malformed = (): Promise<void> =>
    new Promise((resolve) => {
      const s = net.connect({ host, port }, () => s.write('GET /\x01bad HTTP/1.1\r\nHost: soak\r\n\r\n'));
      let got = '';
      s.setEncoding('latin1').on('data', (d: string) => (got += d));
      s.on('error', () => {});
      s.setTimeout(10_000, () => s.destroy());
      s.on('close', () => {
        const m = /^HTTP\/1\.1 (\d{3})/.exec(got);
        if (m) count(Number(m[1]));
        else err('malformed: no answer');
        resolve();
      });
    });
  const loop = async (fn: () => Promise<void>, pauseMs = 0): Promise<void> => {
    while (Date.now() < endAt) {
      await fn();
      if (pauseMs) await new Promise((r) => setTimeout(r, pauseMs));
    }
  };
  const loops: Promise<void>[] = [];
  for (let i = 0; i < 8; i++) loops.push(loop(() => request(i % 2 ? '/api' : '/', keepAlive)));
  for (let i = 0; i < 4; i++) loops.push(loop(() => request('/?close=1', false)));
  for (let i = 0; i < 2; i++) loops.push(loop(() => request('/?size=1m', keepAlive)));
  for (let i = 0; i < 4; i++) loops.push(loop(() => request('/?wait=100ms', keepAlive)));
  loops.push(loop(malformed, 20));
  await Promise.all(loops);
  clearInterval(progress);
  clearInterval(sampler);
  keepAlive.destroy();

  const metrics = await new Promise<string>((resolve, reject) => {
    http.get({ host, port, path: '/metrics', agent: false }, (res) => {
      let b = '';
      res.setEncoding('utf8').on('data', (d: string) => (b += d));
      res.on('end', () => resolve(b));
    }).on('error', reject);
  });
  const alive = p.child.exitCode === null;
  await p.stop('SIGTERM');
  const serverByStatus: Record<string, number> = {};
  for (const m of metrics.matchAll(/^lbdiag_whoami_requests_total\{status="(\d+)"\} (\d+)$/gm)) serverByStatus[m[1]] = Number(m[2]);
  const mismatches: string[] = [];
  const errorCount = Object.values(errors).reduce((a, b) => a + b, 0);
  for (const st of new Set([...Object.keys(byStatus), ...Object.keys(serverByStatus)])) {
    const c = byStatus[st] ?? 0;
    const s = serverByStatus[st] ?? 0;
    // A request that failed at the client may still have been answered (and counted) by the server.
    if (s < c || s > c + errorCount) mismatches.push(`status ${st}: client ${c}, /metrics ${s}`);
  }
  // RSS: skip the first minute's tenth (warm-up), compare the first and last fifth of the rest.
  const steady = rss.filter((r) => r.t >= Math.min(0.5, minutes / 10));
  const fifth = Math.max(1, Math.floor(steady.length / 5));
  const first = steady.slice(0, fifth).map((r) => r.mib);
  const last = steady.slice(-fifth).map((r) => r.mib);
  const half = steady.slice(Math.floor(steady.length / 2));
  const mt = half.reduce((a, r) => a + r.t, 0) / (half.length || 1);
  const mm = half.reduce((a, r) => a + r.mib, 0) / (half.length || 1);
  const slope = half.reduce((a, r) => a + (r.t - mt) * (r.mib - mm), 0) / (half.reduce((a, r) => a + (r.t - mt) ** 2, 0) || 1);
  const firstW = median(first);
  const lastW = median(last);
  // V8's heap makes RSS a sawtooth (a full GC drops it by tens of MiB): a leak shows as rising peaks.
  const firstPeak = Math.max(0, ...steady.slice(0, Math.floor(steady.length / 2)).map((r) => r.mib));
  const secondPeak = Math.max(0, ...half.map((r) => r.mib));
  const result: SoakResult = {
    minutes,
    requests: Object.values(byStatus).reduce((a, b) => a + b, 0),
    clientByStatus: byStatus,
    clientErrors: errors,
    serverByStatus,
    mismatches,
    rss: {
      startMiB: Number((rss[0]?.mib ?? 0).toFixed(1)),
      firstWindowMiB: Number(firstW.toFixed(1)),
      lastWindowMiB: Number(lastW.toFixed(1)),
      firstHalfPeakMiB: Number(firstPeak.toFixed(1)),
      secondHalfPeakMiB: Number(secondPeak.toFixed(1)),
      maxMiB: Number(Math.max(...rss.map((r) => r.mib)).toFixed(1)),
      slopeMiBPerMin: Number(slope.toFixed(2)),
      samples: rss.length,
    },
    // Flat: the second half's peak within 10 % (or 10 MiB) of the first half's peak.
    flat: secondPeak - firstPeak <= Math.max(10, firstPeak * 0.1),
    alive,
  };
  return result;
}

export function renderSoak(r: SoakResult): string {
  return [
    `whoami soak, ${r.minutes} min: ${r.requests} answers; whoami ${r.alive ? 'alive' : 'DIED'}`,
    `  client by status   ${JSON.stringify(r.clientByStatus)}   client errors ${JSON.stringify(r.clientErrors)}`,
    `  /metrics by status ${JSON.stringify(r.serverByStatus)}`,
    `  counts             ${r.mismatches.length === 0 ? 'consistent (every status: client count <= /metrics <= client count + client errors)' : `MISMATCH: ${r.mismatches.join('; ')}`}`,
    `  RSS                start ${r.rss.startMiB} MiB, median of the first fifth ${r.rss.firstWindowMiB} MiB and of the last ${r.rss.lastWindowMiB} MiB, ` +
      `peak of the first half ${r.rss.firstHalfPeakMiB} MiB and of the second ${r.rss.secondHalfPeakMiB} MiB, max ${r.rss.maxMiB} MiB, ` +
      `slope over the second half ${r.rss.slopeMiBPerMin} MiB/min (${r.rss.samples} samples): ${r.flat ? 'flat (peaks not rising)' : 'GROWING (peaks rising)'}`,
  ].join('\n');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const minutes = Number(process.argv[2] ?? 10);
  if (!Number.isFinite(minutes) || minutes <= 0) {
    process.stderr.write('usage: node dist/bench/soak/whoami-soak.js [minutes, default 10]\n');
    process.exit(2);
  }
  soakWhoami(minutes).then(
    (r) => {
      process.stdout.write(`${renderSoak(r)}\n`);
      process.exit(r.alive && r.flat && r.mismatches.length === 0 ? 0 : 1);
    },
    (e: unknown) => {
      process.stderr.write(`soak: ${(e as Error).message}\n`);
      process.exit(2);
    },
  );
}
