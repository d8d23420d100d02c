/**
 * Cost of the HTTP layer: `lbdiag pcap` end to end (process start to exit, --json; CPU time) with HTTP/1.x
 * analysis on and off (--no-http), alternating runs, best of N each; packets/s and the ratio.
 *   node dist/bench/pcap-http.js /tmp/http-lo.pcap [runs]
 * Then the same in one warm process (analyse() called directly, alternated, fastest of N each): the HTTP
 * layer's own cost without Node's start-up and module loading, which the end-to-end figure includes.
 * Make a capture: tcpdump -i lo -w /tmp/http-lo.pcap tcp port P while wrk (keep-alive) and ab
 * (a connection per request) run against a local server on port P.
 */
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { analyse } from '../src/pcap/analyse.js';
import { parseBackendFrom } from '../src/probe/identity.js';

const file = process.argv[2];
const runs = Number(process.argv[3] ?? 3);
if (!file) {
  console.log('usage: node dist/bench/pcap-http.js <capture> [runs]');
  process.exit(2);
}
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const bin = path.join(root, 'bin/lbdiag.js');

function once(http: boolean): { s: number; wall: number; packets: number; rssKb: number } {
  const t = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', '%U %S %M', process.execPath, bin, 'pcap', '--json', '--fail-on', 'none', ...(http ? [] : ['--no-http']), file], { encoding: 'utf8', maxBuffer: 1 << 28 });
  const s = Number(process.hrtime.bigint() - t) / 1e9;
  if (r.status !== 0) throw new Error(`lbdiag exited ${r.status}: ${r.stderr} ${r.error ?? ''}`);
  const doc = JSON.parse(r.stdout) as { summary: { packets: number } };
  const [user, sys, rssKb] = r.stderr.trim().split('\n').pop()!.split(' ').map(Number);
  // CPU seconds (user + system): on a shared machine wall time measures the neighbours too.
  return { s: user + sys, wall: s, packets: doc.summary.packets, rssKb };
}

const best = { on: Infinity, off: Infinity };
const rss = { on: 0, off: 0 };
let packets = 0;
for (let i = 0; i < runs; i++) {
  for (const http of [false, true]) {
    const r = once(http);
    packets = r.packets;
    const k = http ? 'on' : 'off';
    best[k] = Math.min(best[k], r.s);
    rss[k] = Math.max(rss[k], r.rssKb);
  }
}
const rate = (s: number): string => `${Math.round(packets / s).toLocaleString('en-US')} packets/s`;
console.log(`${file}: ${packets} packets, best of ${runs}`);
console.log(`  TCP only (--no-http): ${best.off.toFixed(2)} CPU s = ${rate(best.off)}, peak RSS ${Math.round(rss.off / 1024)} MB`);
console.log(`  with HTTP/1.x:        ${best.on.toFixed(2)} CPU s = ${rate(best.on)}, peak RSS ${Math.round(rss.on / 1024)} MB`);
console.log(`  ratio (HTTP on / TCP only, packets/s): ${(best.off / best.on).toFixed(2)}`);

// In one warm process: CPU time of analyse() itself, HTTP on and off, alternated, fastest of `runs` each.
const warm = { on: Infinity, off: Infinity };
for (let i = 0; i < runs + 1; i++) {
  for (const http of [false, true]) {
    const c0 = process.cpuUsage();
    await analyse([file], { stallThresholdS: 0.9, http, backendFrom: parseBackendFrom('auto') });
    const c = process.cpuUsage(c0);
    // The first round warms the JIT up and is not counted.
    if (i > 0) warm[http ? 'on' : 'off'] = Math.min(warm[http ? 'on' : 'off'], (c.user + c.system) / 1e6);
  }
}
console.log(`in one warm process (analyse() only): TCP only ${warm.off.toFixed(3)} CPU s, with HTTP/1.x ${warm.on.toFixed(3)} CPU s (HTTP layer ${(warm.on - warm.off).toFixed(3)} s), ratio ${(warm.off / warm.on).toFixed(2)}`);
