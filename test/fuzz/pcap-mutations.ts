/**
 * Mutation fuzzing of `lbdiag pcap`: real captures (the fixtures and a sample of the tcpdump
 * corpus, every format) are damaged the ways files get damaged (bit flips, truncation, length
 * fields set to edge values, pcapng block types swapped, ranges spliced, gzip wrappers that may
 * themselves be cut or damaged) and analysed, in-process (by path and as a stdin stream) and a
 * few as real processes. Every input must end with a report or a one-line error: a crash (any
 * error that is not a usage error), a stack trace, an exit code other than 0/1/2, or an input
 * that takes longer than the per-input bound counts against the run.
 *
 * Seeded: the same seed gives the same inputs; a failing input is saved for replay.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { analyse } from '../../src/pcap/analyse.js';
import { isUsageError } from '../../src/core/errors.js';
import { rng } from '../support/seeded-random.js';

export interface FuzzOptions {
  count: number;
  processes: number;
  seed: number;
  inputs: string[];
  tmpDir: string;
  lbdiag: string;
  /** An input that takes longer than this is a hang. */
  perInputMs: number;
  onProgress?: (done: number) => void;
}

export interface FuzzStats {
  inputs: number;
  byMutation: Record<string, number>;
  outcomes: Record<string, number>;
  crashes: { seed: number; message: string; saved: string }[];
  hangs: { seed: number; ms: number; saved: string }[];
  maxMs: number;
  maxRssMB: number;
  processes: { runs: number; exitCodes: Record<string, number>; failures: string[] };
}


interface Field {
  at: number;
  le: boolean;
}

/** Offsets of the length fields and block starts of a pcap or pcapng file (best effort on the original). */
function structure(b: Buffer): { lengths: Field[]; blocks: Field[] } {
  const lengths: Field[] = [];
  const blocks: Field[] = [];
  if (b.length < 24) return { lengths, blocks };
  const magicLe = b.readUInt32LE(0);
  if (b.readUInt32BE(0) === 0x0a0d0d0a) {
    let le = b.readUInt32LE(8) === 0x1a2b3c4d;
    let p = 0;
    while (p + 12 <= b.length && blocks.length < 5000) {
      if (b.readUInt32BE(p) === 0x0a0d0d0a) le = b.readUInt32LE(p + 8) === 0x1a2b3c4d;
      const type = le ? b.readUInt32LE(p) : b.readUInt32BE(p);
      const len = le ? b.readUInt32LE(p + 4) : b.readUInt32BE(p + 4);
      if (len < 12 || p + len > b.length) break;
      blocks.push({ at: p, le });
      lengths.push({ at: p + 4, le }, { at: p + len - 4, le });
      if (type === 6 || type === 2) lengths.push({ at: p + 20, le }, { at: p + 24, le });
      if (type === 3) lengths.push({ at: p + 8, le });
      if (type === 1) lengths.push({ at: p + 12, le });
      p += (len + 3) & ~3;
    }
    return { lengths, blocks };
  }
  const le = magicLe === 0xa1b2c3d4 || magicLe === 0xa1b23c4d || magicLe === 0xa1b2cd34;
  const hdr = magicLe === 0xa1b2cd34 || b.readUInt32BE(0) === 0xa1b2cd34 ? 24 : 16;
  blocks.push({ at: 0, le });
  let p = 24;
  while (p + hdr <= b.length && lengths.length < 10000) {
    lengths.push({ at: p + 8, le }, { at: p + 12, le });
    const incl = le ? b.readUInt32LE(p + 8) : b.readUInt32BE(p + 8);
    blocks.push({ at: p, le });
    p += hdr + incl;
  }
  return { lengths, blocks };
}

const EDGE = [0, 1, 3, 4, 11, 12, 13, 15, 16, 20, 27, 28, 31, 32, 65535, 65536, 262144, 262145, 0x7fffffff, 0x80000000, 0xfffffffc, 0xffffffff];
const BLOCK_TYPES = [0x0a0d0d0a, 1, 2, 3, 4, 5, 6, 7, 0xbad, 0xbad + 1, 0x80000001, 0x00000000, 0xffffffff];

function mutate(orig: Buffer, r: () => number, names: string[]): Buffer {
  let b = Buffer.from(orig);
  const int = (n: number): number => Math.floor(r() * n);
  const { lengths, blocks } = structure(orig);
  const rounds = 1 + int(3);
  for (let i = 0; i < rounds; i++) {
    const kind = int(6);
    if (kind === 0 && b.length) {
      const flips = 1 + int(8);
      for (let k = 0; k < flips; k++) b[int(b.length)] ^= 1 << int(8);
      names.push('bit-flip');
    } else if (kind === 1) {
      // Cut anywhere, often near the start or near a record boundary.
      const at = r() < 0.3 ? int(Math.min(b.length, 200)) : blocks.length && r() < 0.5 ? blocks[int(blocks.length)].at + int(20) : int(b.length + 1);
      b = b.subarray(0, Math.min(at, b.length));
      names.push('truncate');
    } else if (kind === 2 && lengths.length) {
      const f = lengths[int(lengths.length)];
      if (f.at + 4 > b.length) continue;
      const old = f.le ? b.readUInt32LE(f.at) : b.readUInt32BE(f.at);
      const v = r() < 0.6 ? EDGE[int(EDGE.length)] : r() < 0.5 ? (old + int(9) - 4) >>> 0 : Math.floor(r() * 2 ** 32);
      f.le ? b.writeUInt32LE(v >>> 0, f.at) : b.writeUInt32BE(v >>> 0, f.at);
      names.push('length-field');
    } else if (kind === 3 && blocks.length) {
      const f = blocks[int(blocks.length)];
      if (f.at + 4 > b.length) continue;
      if (f.at === 0 && orig.readUInt32BE(0) !== 0x0a0d0d0a) {
        // Classic pcap: another magic, version or link type.
        const o = [0, 4, 20][int(3)];
        if (o + 4 <= b.length) b.writeUInt32LE([0xa1b2c3d4, 0xa1b23c4d, 0xa1b2cd34, 0x0a0d0d0a, 1, 276, 0xffffffff, int(300)][int(8)] >>> 0, o);
      } else {
        const t = BLOCK_TYPES[int(BLOCK_TYPES.length)];
        f.le ? b.writeUInt32LE(t >>> 0, f.at) : b.writeUInt32BE(t >>> 0, f.at);
      }
      names.push('block-type');
    } else if (kind === 4 && b.length > 8) {
      // Splice: a range copied over another (duplicated or shifted records).
      const from = int(b.length);
      const len = 1 + int(Math.min(512, b.length - from));
      const to = int(b.length);
      const piece = Buffer.from(b.subarray(from, from + len));
      b = r() < 0.5 ? Buffer.concat([b.subarray(0, to), piece, b.subarray(to)]) : (piece.copy(b, to), b);
      names.push('splice');
    } else if (kind === 5) {
      // Duplicate the whole capture body (a second section, or records after a header).
      b = Buffer.concat([b, orig.subarray(int(Math.min(orig.length, 64)))]);
      names.push('append');
    }
  }
  if (r() < 0.2) {
    let g = zlib.gzipSync(b, { level: 1 });
    const w = int(3);
    if (w === 1) g = g.subarray(0, 10 + int(Math.max(1, g.length - 10)));
    else if (w === 2) {
      g = Buffer.from(g);
      for (let k = 0; k < 1 + int(4); k++) g[10 + int(Math.max(1, g.length - 10))] ^= 1 << int(8);
    }
    names.push(w === 0 ? 'gzip' : w === 1 ? 'gzip-cut' : 'gzip-damaged');
    b = g;
  }
  return b;
}

/** A warning or error message with numbers, names and paths taken out, to count by kind. */
function kindOf(message: string): string {
  return message
    .replace(/^.*?: (?=(corrupt|file is|input ended|not a|cannot|interrupted|\d+ interface))/, '')
    .replace(/; (analysed|no packet).*$/, '')
    .replace(/\(\d+ [^)]*\)/g, '(N)')
    .replace(/0x[0-9a-f]+|\d+/g, 'N')
    .slice(0, 90);
}

export async function runPcapFuzz(o: FuzzOptions): Promise<FuzzStats> {
  const stats: FuzzStats = {
    inputs: 0,
    byMutation: {},
    outcomes: {},
    crashes: [],
    hangs: [],
    maxMs: 0,
    maxRssMB: 0,
    processes: { runs: 0, exitCodes: {}, failures: [] },
  };
  const originals = o.inputs.map((f) => fs.readFileSync(f));
  const bump = (rec: Record<string, number>, k: string): void => void (rec[k] = (rec[k] ?? 0) + 1);
  fs.mkdirSync(o.tmpDir, { recursive: true });
  const file = path.join(o.tmpDir, 'input.pcap');
  const save = (seed: number, b: Buffer): string => {
    const f = path.join(o.tmpDir, `fail-${seed}.bin`);
    fs.writeFileSync(f, b);
    return f;
  };
  const procEvery = o.processes > 0 ? Math.max(1, Math.floor(o.count / o.processes)) : 0;
  for (let i = 0; i < o.count; i++) {
    const seed = (o.seed + i) >>> 0;
    const r = rng(seed);
    const names: string[] = [];
    const b = mutate(originals[Math.floor(r() * originals.length)], r, names);
    for (const n of new Set(names)) bump(stats.byMutation, n);
    const viaStdin = r() < 0.3;
    if (!viaStdin) fs.writeFileSync(file, b);
    const t0 = performance.now();
    try {
      const res = await analyse([viaStdin ? '-' : file], {
        stallThresholdS: 0.9,
        stdin: viaStdin ? Readable.from([b]) : undefined,
      });
      if (res.summary.capturedBytes < 0 || res.summary.packets < 0) throw new Error(`negative counts: ${JSON.stringify(res.summary)}`);
      if (res.warnings.length === 0) bump(stats.outcomes, 'report');
      for (const w of res.warnings) bump(stats.outcomes, `report + warning: ${kindOf(w)}`);
    } catch (e) {
      if (isUsageError(e)) bump(stats.outcomes, `error (exit 2): ${kindOf((e as Error).message)}`);
      else stats.crashes.push({ seed, message: String((e as Error).stack ?? e).split('\n').slice(0, 4).join(' | '), saved: save(seed, b) });
    }
    const ms = performance.now() - t0;
    if (ms > stats.maxMs) stats.maxMs = ms;
    if (ms > o.perInputMs) stats.hangs.push({ seed, ms, saved: save(seed, b) });
    stats.inputs++;
    if (i % 500 === 0) stats.maxRssMB = Math.max(stats.maxRssMB, process.memoryUsage().rss / 1e6);
    if (procEvery && i % procEvery === 0 && stats.processes.runs < o.processes) await runProcess(o, seed, b, viaStdin, stats, save);
    if (o.onProgress && i % 1000 === 0) o.onProgress(i);
  }
  stats.maxRssMB = Math.round(Math.max(stats.maxRssMB, process.memoryUsage().rss / 1e6));
  stats.maxMs = Math.round(stats.maxMs);
  return stats;
}

/** The same input through the real CLI: exit 0/1/2 only, no stack trace, one line when it exits 2. */
async function runProcess(o: FuzzOptions, seed: number, b: Buffer, viaStdin: boolean, stats: FuzzStats, save: (s: number, b: Buffer) => string): Promise<void> {
  const file = path.join(o.tmpDir, 'process-input.pcap');
  if (!viaStdin) fs.writeFileSync(file, b);
  const child = spawn(process.execPath, [o.lbdiag, 'pcap', '--json', viaStdin ? '-' : file], { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d));
  child.stdin.on('error', () => {}); // it may exit (exit 2) before reading all of stdin
  child.stdin.end(viaStdin ? b : undefined);
  const timer = setTimeout(() => child.kill('SIGKILL'), 60_000);
  const code = await new Promise<number | string>((resolve) => child.on('exit', (c, s) => resolve(c ?? s ?? -1)));
  clearTimeout(timer);
  stats.processes.runs++;
  stats.processes.exitCodes[String(code)] = (stats.processes.exitCodes[String(code)] ?? 0) + 1;
  const problems: string[] = [];
  if (code !== 0 && code !== 1 && code !== 2) problems.push(`exit ${code}`);
  if (/^\s+at .*:\d+:\d+\)?$/m.test(err) || /node:internal/.test(err)) problems.push('stack trace');
  if (code === 2 && (out !== '' || err.trim().split('\n').length !== 1)) problems.push('exit 2 without exactly one line');
  if (code === 0 || code === 1) {
    try {
      JSON.parse(out);
    } catch {
      problems.push('no JSON report');
    }
  }
  if (problems.length) stats.processes.failures.push(`seed ${seed} (${viaStdin ? 'stdin' : 'file'}): ${problems.join(', ')}: ${err.slice(0, 300)} [${save(seed, b)}]`);
}
