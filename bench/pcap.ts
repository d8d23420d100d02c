/**
 * Packets per second of `lbdiag pcap` vs tshark doing the same analysis, on a capture you give
 * (at least 1 M packets recommended; keep it out of git). Never fails: prints numbers and ratios.
 *   node dist/bench/pcap.js /tmp/big.pcap [runs]
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { analyse } from '../src/pcap/analyse.js';

const file = process.argv[2];
const runs = Number(process.argv[3] ?? 3);
if (!file) {
  console.log('usage: node dist/bench/pcap.js <capture> [runs]');
  process.exit(0);
}
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const rate = (n: number, s: number): string => `${(n / s / 1e6).toFixed(2)} M packets/s`;

let packets = 0;
const inProc: number[] = [];
for (let i = 0; i < runs; i++) {
  const t0 = process.hrtime.bigint();
  const res = await analyse([file], { stallThresholdS: 0.9 });
  inProc.push(Number(process.hrtime.bigint() - t0) / 1e9);
  packets = res.summary.packets;
}
const best = Math.min(...inProc);
console.log(`capture: ${file}, ${packets} packets`);
console.log(`lbdiag analyse() in-process, best of ${runs}: ${best.toFixed(3)} s = ${rate(packets, best)}`);

const e2e: number[] = [];
for (let i = 0; i < runs; i++) {
  const t0 = process.hrtime.bigint();
  spawnSync(process.execPath, [path.join(root, 'bin/lbdiag.js'), 'pcap', '--json', '--fail-on', 'none', file], { stdio: 'ignore' });
  e2e.push(Number(process.hrtime.bigint() - t0) / 1e9);
}
const bestE2e = Math.min(...e2e);
console.log(`lbdiag pcap --json end to end (process start to exit), best of ${runs}: ${bestE2e.toFixed(3)} s = ${rate(packets, bestE2e)}`);

// pcap-parser (the design card's library): iteration only, no decoding.
try {
  const require = createRequire(import.meta.url);
  const pp = require('pcap-parser') as { parse: (f: string) => NodeJS.EventEmitter };
  const t0 = process.hrtime.bigint();
  let n = 0;
  await new Promise<void>((resolve, reject) => {
    const p = pp.parse(file);
    p.on('packet', () => void n++);
    p.on('end', () => resolve());
    p.on('error', reject);
  });
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(`pcap-parser iteration only: ${s.toFixed(3)} s = ${rate(n, s)} (lbdiag end to end is ${(s / bestE2e).toFixed(1)}x faster)`);
} catch (e) {
  console.log(`pcap-parser: ${(e as Error).message}`);
}

try {
  const t0 = process.hrtime.bigint();
  execFileSync('tshark', ['-n', '-r', file, '-Y', 'tcp.analysis.retransmission || tcp.analysis.reused_ports'], { stdio: 'ignore', maxBuffer: 1 << 30 });
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  console.log(`tshark -Y 'tcp.analysis.retransmission || tcp.analysis.reused_ports': ${s.toFixed(1)} s = ${rate(packets, s)}; lbdiag end to end is ${(s / bestE2e).toFixed(0)}x faster`);
} catch (e) {
  console.log(`tshark: ${(e as Error).message.split('\n')[0]}`);
}
