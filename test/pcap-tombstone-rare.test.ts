/**
 * Tombstone records code the fields that are almost always at their usual value (reused-port,
 * stall, duplicate-ACK, retransmission and RST fields) behind a bit mask, and frames and sequence
 * numbers from what they usually equal. Each rare field set alone, on an otherwise plain closed
 * connection, must come back exactly, as must -0 and unusual times and sequence numbers that
 * break every prediction (wrapping around 2^32).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Conn } from '../src/pcap/connection.js';
import { TombStore } from '../src/pcap/tombstone.js';

/** A plain connection as the tracker leaves it after both FINs were acknowledged. */
function plain(i: number): Conn {
  const c = new Conn();
  c.hash = (i * 2654435761) & 0x3fffffff;
  c.a0 = 0x7f000001;
  c.b0 = 0x7f000002 + i;
  c.ap = 40000 + (i % 20000);
  c.bp = 8080;
  c.stream = i;
  c.clientIsA = 1;
  c.firstFrame = 1000 + i * 10;
  c.lastFrame = c.firstFrame + 9;
  c.packets = 10;
  c.firstTime = 1 + i * 0.001;
  c.lastTime = c.firstTime + 0.004;
  (c.activeFrame = c.lastFrame), (c.activeTime = c.lastTime);
  c.mruSyn = c.firstTime;
  c.mruSynSet = true;
  c.firstRtt = 0.000005;
  c.synAckFrame = c.firstFrame + 1;
  c.synAckTime = c.firstTime + 0.000002;
  c.established = true;
  c.sawSyn = true;
  c.lastPayloadFromA = 0;
  const x = c.ab;
  const y = c.ba;
  x.baseSeq = 1000 + i;
  x.baseSet = true;
  y.baseSeq = -5000 - i;
  y.baseSet = true;
  x.nextseq = (x.baseSeq + 64) | 0;
  y.nextseq = (y.baseSeq + 150) | 0;
  x.maxseqtobeacked = x.nextseq;
  y.maxseqtobeacked = y.nextseq;
  x.lastack = y.nextseq;
  y.lastack = x.nextseq;
  x.finSeq = (x.nextseq - 1) | 0;
  y.finSeq = (y.nextseq - 1) | 0;
  x.window = y.window = 512;
  x.packets = y.packets = 5;
  x.payloadBytes = 62;
  y.payloadBytes = 148;
  x.synFrame = c.firstFrame;
  x.synTime = c.firstTime;
  x.nextseqFrame = x.lastnondupack = x.finFrame = c.lastFrame - 1;
  y.nextseqFrame = y.finFrame = c.firstFrame + 5;
  y.lastnondupack = x.finAckedFrame = c.lastFrame;
  y.finAckedFrame = c.lastFrame - 1;
  x.nextseqTime = x.lastackTime = x.finTime = c.lastTime - 0.000004;
  y.nextseqTime = y.finTime = c.firstTime + 0.001;
  y.lastackTime = x.finAckedTime = c.lastTime;
  y.finAckedTime = c.lastTime - 0.000004;
  return c;
}

function fields(c: Conn): unknown {
  const { next: _n, ab, ba, ...rest } = c;
  return { rest, ab: { ...ab }, ba: { ...ba } };
}

/** One change each: every rare field alone, and values no prediction gives. */
const CHANGES: ((c: Conn) => void)[] = [
  () => undefined,
  (c) => (c.reusedPorts = true, c.reusedFrame = c.firstFrame),
  (c) => (c.previousState = 'rst'),
  (c) => (c.previousStream = 0),
  (c) => (c.previousStream = 4_000_000_000),
  (c) => (c.previousLastTime = c.firstTime - 2.5),
  (c) => (c.previousLastTime = -0),
  (c) => (c.stallCount = 3),
  (c) => (c.stallFromFrame = c.firstFrame + 2),
  (c) => (c.stallToFrame = c.firstFrame + 3),
  (c) => (c.stallPhase = 'awaiting-response'),
  (c) => (c.stallGap = 1.25),
  (c) => (c.stallAt = 0.1 + 0.2),
  (c) => (c.stallFromA = true),
  ...(['ab', 'ba'] as const).flatMap((k): ((c: Conn) => void)[] => [
    (c) => (c[k].dupacknum = -1),
    (c) => (c[k].dupacknum = 7),
    (c) => (c[k].lastsegflags = 0x100),
    (c) => (c[k].retransmissions = 2 ** 40),
    (c) => (c[k].synRetransCount = 1),
    (c) => (c[k].finRetransCount = 2),
    (c) => (c[k].synFirstRetrans = true),
    (c) => (c[k].finFirstRetrans = true),
    (c) => (c[k].rstFrame = c.lastFrame + 1),
    (c) => (c[k].rstTime = c.lastTime + 1e-9),
    (c) => (c[k].rstTime = -0),
    (c) => (c[k].synTime = -0),
    // Sequence numbers away from their predictions, across the signed 32-bit wrap.
    (c) => (c[k].nextseq = 0x7fffffff),
    (c) => (c[k].maxseqtobeacked = -0x80000000),
    (c) => (c[k].finSeq = 0),
    (c) => (c[k].lastack = 0x7fffffff),
    (c) => (c[k].window = -1),
    (c) => (c[k].nextseqFrame = 0),
    (c) => (c[k].finAckedFrame = c.firstFrame - 5),
  ]),
  (c) => (c.firstFrame = 0),
  (c) => (c.clientIsA = -1),
  (c) => (c.lastPayloadFromA = -1),
  (c) => (c.firstRtt = 0.1 + 0.2),
  (c) => (c.v6 = true, c.a1 = 0xffffffff, c.a2 = 5, c.a3 = 0x80000000, c.b1 = 1, c.b2 = 2, c.b3 = 3),
];

test('tombstone: each rare field alone, and values against every prediction, come back exactly', () => {
  const store = new TombStore();
  const conns: Conn[] = [];
  for (let i = 0; i < 3000; i++) {
    const c = plain(i);
    CHANGES[i % CHANGES.length](c);
    // Two changes at once too, from the other end of the list.
    if (i >= CHANGES.length) CHANGES[CHANGES.length - 1 - (i % CHANGES.length)](c);
    conns.push(c);
    store.put(c);
  }
  for (const x of conns) {
    const o = store.find(x.hash, x.v6, x.a0, x.a1, x.a2, x.a3, x.b0, x.b1, x.b2, x.b3, x.ap, x.bp);
    assert.ok(o !== 0, `stream ${x.stream} not found`);
    const back = store.decode(o, x.hash);
    assert.deepEqual(fields(back), fields(x), `stream ${x.stream}`);
    for (const t of ['previousLastTime', 'stallGap'] as const) assert.ok(Object.is(back[t], x[t]), `${t} of stream ${x.stream}`);
    for (const k of ['ab', 'ba'] as const) for (const t of ['rstTime', 'synTime'] as const) assert.ok(Object.is(back[k][t], x[k][t]), `${k}.${t} of stream ${x.stream}`);
  }
});

test('tombstone: a plain closed connection takes at most 120 bytes (IPv4)', () => {
  const store = new TombStore();
  for (let i = 0; i < 1000; i++) store.put(plain(i));
  const used = (store as unknown as { end: number }).end - 8;
  assert.ok(used / 1000 <= 120, `${used / 1000} bytes per record`);
});
