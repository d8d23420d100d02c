/**
 * Compact records (tombstones) are a memory optimisation only: with them on or off, every
 * capture must give the same tcp.stream and analysis flags for every frame, the same findings
 * and the same summary. Checked on every fixture, every tcpdump-corpus capture, and on randomly
 * generated connection sequences (refused, reset, reused ports, retransmitted SYN/FIN,
 * keep-alives, captures that start mid-connection) fed to the tracker directly, with sweeps at
 * random points so that records expire too. LBDIAG_FUZZ_N=2000 runs more sequences.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, corpusDir } from './support/processes.js';
import { analysePerFrame } from './support/per-frame.js';
import { ACK, Decoded, FIN, RST, SYN } from '../src/pcap/decode.js';
import { Tracker } from '../src/pcap/tracker.js';
import { DETECTORS } from '../src/pcap/detectors/index.js';
import type { Conn } from '../src/pcap/connection.js';
import type { Finding } from '../src/core/finding.js';
import { rng as prng } from './support/seeded-random.js';

async function same(file: string): Promise<number> {
  const on = await analysePerFrame(file, { compactRecords: true });
  const off = await analysePerFrame(file, { compactRecords: false });
  const name = path.basename(file);
  assert.equal(on.error, off.error, `${name}: error`);
  assert.deepEqual(on.perFrame, off.perFrame, `${name}: per-frame stream and flags`);
  assert.deepEqual(on.res?.findings, off.res?.findings, `${name}: findings`);
  assert.deepEqual(on.res?.summary, off.res?.summary, `${name}: summary`);
  assert.deepEqual(on.res?.warnings, off.res?.warnings, `${name}: warnings`);
  return on.perFrame.length / 3;
}

const fixtures = fs.readdirSync(path.join(ROOT, 'fixtures')).filter((f) => /\.(pcap|pcapng|gz)$/.test(f)).sort();

test('compact records on and off: identical results on every fixture', async () => {
  let frames = 0;
  for (const f of fixtures) frames += await same(path.join(ROOT, 'fixtures', f));
  assert.ok(fixtures.length >= 5 && frames > 100, `${fixtures.length} fixtures, ${frames} TCP frames`);
});

const CORPUS = corpusDir();
const corpus = fs.existsSync(CORPUS) ? fs.readdirSync(CORPUS).sort() : [];

test('compact records on and off: identical results on every tcpdump-corpus capture', { skip: corpus.length ? false : `no corpus at ${CORPUS}` }, async (t) => {
  let frames = 0;
  for (const f of corpus) frames += await same(path.join(CORPUS, f));
  assert.ok(frames > 1000, `${frames} TCP frames`);
  t.diagnostic(`${corpus.length} captures, ${frames} TCP frames`);
});

// --- generated connection sequences -------------------------------------------------------------


interface Tuple {
  v6: boolean;
  client: number[];
  server: number[];
  cport: number;
  sport: number;
}

interface Ev {
  t: number;
  d: Decoded;
}

function segment(tu: Tuple, fromClient: boolean, flags: number, seq: number, ack: number, len: number, t: number, win: number): Ev {
  const d = new Decoded();
  const [s, dd] = fromClient ? [tu.client, tu.server] : [tu.server, tu.client];
  d.v6 = tu.v6;
  (d.s0 = s[0]), (d.s1 = s[1]), (d.s2 = s[2]), (d.s3 = s[3]);
  (d.d0 = dd[0]), (d.d1 = dd[1]), (d.d2 = dd[2]), (d.d3 = dd[3]);
  d.sport = fromClient ? tu.cport : tu.sport;
  d.dport = fromClient ? tu.sport : tu.cport;
  d.flags = flags;
  d.seq = seq >>> 0;
  d.ack = ack >>> 0;
  d.seglen = len;
  d.win = win;
  d.t = t;
  return { t, d };
}

/**
 * One connection attempt on `tu` from time `t0`: a mix of what clients, servers and balancers do.
 * `isn` is the client's initial sequence number (callers reuse one to model a retried SYN).
 */
function episode(r: () => number, tu: Tuple, t0: number, isn: number): Ev[] {
  const out: Ev[] = [];
  let t = t0;
  const step = (): number => (t += r() < 0.2 ? 0.9 + r() * 2 : r() * 0.01);
  const win = (): number => (r() < 0.05 ? 0 : 1000 + Math.floor(r() * 3));
  const sisn = Math.floor(r() * 2 ** 32);
  const kind = r();
  let c = isn; // next client seq
  let s = sisn; // next server seq
  const midCapture = kind > 0.9;
  if (!midCapture) {
    out.push(segment(tu, true, SYN, isn, 0, 0, t, win()));
    for (let i = 0; r() < 0.3 && i < 3; i++) out.push(segment(tu, true, SYN, isn, 0, 0, step(), win())); // retransmitted SYN
    if (kind < 0.2) {
      // Refused (RST/ACK), maybe retried with the same ISN and refused again.
      out.push(segment(tu, false, RST | ACK, 0, isn + 1, 0, step(), 0));
      if (r() < 0.5) {
        out.push(segment(tu, true, SYN, isn, 0, 0, step(), win()));
        out.push(segment(tu, false, RST | ACK, 0, isn + 1, 0, step(), 0));
      }
      return out;
    }
    if (kind < 0.27) return out; // never answered
    out.push(segment(tu, false, SYN | ACK, sisn, isn + 1, 0, step(), win()));
    if (r() < 0.2) out.push(segment(tu, false, SYN | ACK, sisn, isn + 1, 0, step(), win())); // SYN/ACK again
    c = isn + 1;
    s = sisn + 1;
    out.push(segment(tu, true, ACK, c, s, 0, step(), win()));
  } else {
    c = isn + 1;
    s = sisn + 1;
  }
  // Requests and answers, with keep-alives, duplicate ACKs, retransmissions and gaps.
  const requests = Math.floor(r() * 4);
  for (let i = 0; i < requests; i++) {
    const q = 1 + Math.floor(r() * 300);
    out.push(segment(tu, true, ACK, c, s, q, step(), win()));
    if (r() < 0.1) out.push(segment(tu, true, ACK, c, s, q, step(), win())); // retransmitted request
    c += q;
    const a = 1 + Math.floor(r() * 1400);
    out.push(segment(tu, false, ACK, s, c, a, step(), win()));
    s += a;
    out.push(segment(tu, true, ACK, c, s, 0, step(), win()));
    if (r() < 0.15) out.push(segment(tu, true, ACK, c - 1, s, r() < 0.5 ? 0 : 1, step(), win())); // keep-alive
    if (r() < 0.15) out.push(segment(tu, false, ACK, s, c, 0, step(), win())); // (keep-alive) ACK
  }
  const end = r();
  if (end < 0.25) {
    out.push(segment(tu, r() < 0.5, RST | ACK, c, s, 0, step(), 0));
    if (r() < 0.3) out.push(segment(tu, false, RST, s, 0, 0, step(), 0));
    return out;
  }
  if (end < 0.35) return out; // left open
  // Close: either side first, FINs possibly retransmitted, possibly never acknowledged.
  const clientFirst = r() < 0.5;
  const fin = (fromClient: boolean): void => {
    const seq = fromClient ? c : s;
    const ack = fromClient ? s : c;
    out.push(segment(tu, fromClient, FIN | ACK, seq, ack, 0, step(), win()));
    for (let i = 0; r() < 0.25 && i < 3; i++) out.push(segment(tu, fromClient, FIN | ACK, seq, ack, 0, step(), win()));
    if (fromClient) c += 1;
    else s += 1;
  };
  fin(clientFirst);
  if (r() < 0.85) out.push(segment(tu, !clientFirst, ACK, clientFirst ? s : c, clientFirst ? c : s, 0, step(), win()));
  if (r() < 0.9) {
    fin(!clientFirst);
    if (r() < 0.85) out.push(segment(tu, clientFirst, ACK, clientFirst ? c : s, clientFirst ? s : c, 0, step(), win()));
  }
  if (r() < 0.1) out.push(segment(tu, clientFirst, FIN | ACK, (clientFirst ? c : s) - 1, clientFirst ? s : c, 0, step(), win())); // a late FIN again
  return out;
}

export function sequence(seed: number): Ev[] {
  const r = prng(seed);
  const tuples: Tuple[] = [];
  const nTuples = 1 + Math.floor(r() * 4);
  for (let i = 0; i < nTuples; i++) {
    const v6 = r() < 0.3;
    const word = (): number => Math.floor(r() * 2 ** 32); // unsigned, as decode() gives them
    tuples.push({
      v6,
      client: v6 ? [word(), word(), word(), word()] : [0x7f000001 + Math.floor(r() * 2), 0, 0, 0],
      server: v6 ? [word(), word(), word(), word()] : [0x7f000002, 0, 0, 0],
      cport: 40000 + Math.floor(r() * 3),
      sport: r() < 0.8 ? 80 : 40001, // sometimes the server's port sorts above the client's
    });
  }
  const evs: Ev[] = [];
  const lastIsn = new Map<Tuple, number>();
  let t = r() * 10;
  const episodes = 1 + Math.floor(r() * 8);
  for (let i = 0; i < episodes; i++) {
    const tu = tuples[Math.floor(r() * tuples.length)];
    // Same ISN as the last attempt on this 4-tuple (a retried SYN) or a new one (port reuse).
    const isn = lastIsn.has(tu) && r() < 0.4 ? lastIsn.get(tu)! : Math.floor(r() * 2 ** 32);
    lastIsn.set(tu, isn);
    evs.push(...episode(r, tu, t, isn));
    // Overlapping, back to back, or long after (beyond the linger windows used below).
    t += r() < 0.3 ? r() * 0.05 : r() < 0.7 ? r() * 3 : 5 + r() * 20;
  }
  evs.sort((x, y) => x.t - y.t);
  return evs;
}

interface TrackerRun {
  streams: number[];
  flags: number[];
  findings: Finding[];
  counted: number;
  settled: number;
}

export function track(evs: Ev[], compact: boolean, sweepAt: Set<number>): TrackerRun {
  const ctx = { stallThresholdS: 0.9, origin: 0 };
  const findings: Finding[] = [];
  let counted = 0;
  let settled = 0;
  const tracker = new Tracker({
    stallThresholdS: 0.9,
    closedLingerS: 4,
    idleLingerS: 12,
    onFinished: (c: Conn) => {
      counted++;
      for (const d of DETECTORS) {
        const f = d(c, ctx);
        if (f) findings.push(f);
      }
    },
    // As analyse() does: settle only what no detector reports on.
    onSettle: compact
      ? (c: Conn) => {
          for (const d of DETECTORS) if (d(c, ctx) !== null) return false;
          counted++;
          settled++;
          return true;
        }
      : undefined,
    onRevive: () => counted--,
    // As analyse() does without the HTTP layer: settled connections' Conn objects are reused.
    recycle: compact,
  });
  const streams: number[] = [];
  const flags: number[] = [];
  evs.forEach((e, i) => {
    if (sweepAt.has(i)) tracker.sweep(e.t);
    flags.push(tracker.process(e.d, i + 1));
    streams.push(tracker.lastStream);
  });
  tracker.flush();
  findings.sort((x, y) => (x.stream ?? 0) - (y.stream ?? 0) || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0));
  return { streams, flags, findings, counted, settled };
}

test('compact records on and off: identical streams, flags and findings on generated connection sequences', (t) => {
  const n = Number(process.env.LBDIAG_FUZZ_N ?? 400);
  const seed0 = Number(process.env.LBDIAG_FUZZ_SEED ?? 9);
  let packets = 0;
  let settledSome = 0;
  for (let i = 0; i < n; i++) {
    const seed = seed0 * 1_000_003 + i;
    const evs = sequence(seed);
    const r = prng(seed ^ 0x5bd1e995);
    const sweepAt = new Set<number>();
    for (let k = 0; k < evs.length; k++) if (r() < 0.05) sweepAt.add(k);
    const full = track(evs, false, sweepAt);
    const compact = track(evs, true, sweepAt);
    const where = `seed ${seed} (LBDIAG_FUZZ_SEED=${seed0}, sequence ${i})`;
    assert.deepEqual(compact.streams, full.streams, `${where}: streams`);
    assert.deepEqual(compact.flags, full.flags, `${where}: flags`);
    assert.deepEqual(compact.findings, full.findings, `${where}: findings`);
    assert.equal(compact.counted, full.counted, `${where}: connections counted`);
    packets += evs.length;
    if (compact.settled > 0) settledSome++;
  }
  assert.ok(settledSome > n / 4, `compact records were used in ${settledSome} of ${n} sequences`);
  t.diagnostic(`${n} sequences, ${packets} packets`);
});
