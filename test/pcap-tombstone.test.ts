/**
 * Tombstones must give back exactly the connection that went in (Wireshark's analysis continues
 * from the revived state), and the tracker must treat a settled connection like a live one.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Conn } from '../src/pcap/connection.js';
import { TombStore } from '../src/pcap/tombstone.js';
import { ACK, FIN, SYN, type Decoded } from '../src/pcap/decode.js';
import { feed, segmentBuilder } from './support/tcp-segments.js';
import { Tracker, TA_REUSED_PORTS } from '../src/pcap/tracker.js';

/** Sequence numbers are kept signed (connection.ts); every other number is unsigned here. */
const SEQ_FIELDS = new Set(['baseSeq', 'nextseq', 'lastack', 'maxseqtobeacked', 'finSeq']);

/** Every field set to something unusual: large, negative, fractional, -0-free doubles, IPv6. */
function oddConn(i: number, v6: boolean): Conn {
  const c = new Conn();
  let k = i * 7919 + 1;
  const rnd = (): number => ((k = (Math.imul(k, 1103515245) + 12345) >>> 0), k);
  // Times as the packet loop makes them (whole seconds + nanoseconds * 1e-9: microsecond and
  // nanosecond captures, before and after the first packet) and others that are not.
  const packetTime = (): number => {
    const ns = rnd() % 1e9;
    return (rnd() % 200000) - 1000 + (rnd() % 2 === 0 ? ns - (ns % 1000) : ns) * 1e-9;
  };
  const time = (): number => (rnd() % 5 === 0 ? 0 : rnd() % 3 === 0 ? (rnd() % 100000) / 7 + rnd() * 1e-9 : packetTime());
  const frame = (): number => (rnd() % 4 === 0 ? 0 : 1 + (rnd() % 5_000_000));
  const plain = c as unknown as Record<string, unknown>;
  for (const [key, v] of Object.entries(c)) {
    if (typeof v === 'number') plain[key] = key.endsWith('Time') || key === 'mruSyn' || key === 'firstRtt' || key === 'stallGap' || key === 'stallAt' ? time() : key.endsWith('Frame') ? frame() : rnd() % 3000;
  }
  c.hash = rnd() & 0x3fffffff;
  c.v6 = v6;
  (c.a0 = rnd()), (c.b0 = rnd()), (c.ap = rnd() & 0xffff), (c.bp = rnd() & 0xffff);
  if (v6) (c.a1 = rnd()), (c.a2 = rnd()), (c.a3 = rnd()), (c.b1 = rnd()), (c.b2 = rnd()), (c.b3 = rnd());
  else (c.a1 = 0), (c.a2 = 0), (c.a3 = 0), (c.b1 = 0), (c.b2 = 0), (c.b3 = 0);
  c.stream = rnd() % 1_000_000;
  // Only connections whose last packet was not a keep-alive are stored (tombstoneable): the stall reference is the last packet.
  (c.activeFrame = c.lastFrame), (c.activeTime = c.lastTime), (c.keepAlivesSinceActive = 0), (c.stallKeepAlives = 0);
  c.clientIsA = (rnd() % 3) - 1;
  c.lastPayloadFromA = (rnd() % 3) - 1;
  c.requester = rnd() % 4;
  c.previousStream = (rnd() % 5) - 1;
  c.previousState = (['', 'fin', 'rst', 'open'] as const)[rnd() % 4];
  c.stallPhase = (['', 'handshake', 'retransmission', 'unacknowledged-data', 'awaiting-response'] as const)[rnd() % 5];
  // Not a sum of seconds and nanoseconds; or, as the tracker makes it, a difference of packet times.
  c.firstRtt = i % 2 === 0 ? 0.1 + 0.2 : packetTime() - c.mruSyn;
  c.mruSynSet = rnd() % 2 === 0;
  c.established = rnd() % 2 === 0;
  c.sawSyn = rnd() % 2 === 0;
  c.reusedPorts = rnd() % 2 === 0;
  c.stallFromA = rnd() % 2 === 0;
  for (const d of [c.ab, c.ba]) {
    const dp = d as unknown as Record<string, unknown>;
    for (const [key, v] of Object.entries(d)) {
      if (typeof v === 'number') dp[key] = key.endsWith('Time') ? time() : key.endsWith('Frame') || key === 'lastnondupack' ? frame() : SEQ_FIELDS.has(key) ? rnd() | 0 : rnd();
      if (typeof v === 'boolean') dp[key] = rnd() % 2 === 0;
    }
    d.payloadBytes = rnd() * 4096 + 17; // beyond 32 bits
    (d.synRetransCount = 0), (d.finRetransCount = 0);
  }
  c.ab.rstFrame = 0;
  c.ba.rstFrame = rnd() % 2 === 0 ? 0 : 5;
  return c;
}

function fields(c: Conn): unknown {
  const { next: _n, ab, ba, ...rest } = c;
  return { rest, ab: { ...ab }, ba: { ...ba } };
}

test('tombstone: every field of a connection comes back exactly, through growth and compaction', () => {
  const store = new TombStore();
  const conns: Conn[] = [];
  for (let i = 0; i < 6000; i++) {
    const c = oddConn(i, i % 3 === 0);
    c.hash = i % 97; // long chains
    conns.push(c);
    store.put(c);
    // Remove a third as they go, so that compaction runs on a fragmented arena.
    if (i % 3 === 1) {
      const x = conns[i - 1];
      const o = store.find(x.hash, x.v6, x.a0, x.a1, x.a2, x.a3, x.b0, x.b1, x.b2, x.b3, x.ap, x.bp);
      assert.ok(o !== 0);
      assert.deepEqual(fields(store.decode(o, x.hash)), fields(x));
      store.remove(x.hash, o);
      conns[i - 1] = null as unknown as Conn;
    }
  }
  let n = 0;
  for (const x of conns) {
    if (x === null) continue;
    const o = store.find(x.hash, x.v6, x.a0, x.a1, x.a2, x.a3, x.b0, x.b1, x.b2, x.b3, x.ap, x.bp);
    assert.ok(o !== 0, `stream ${x.stream} not found`);
    assert.equal(store.stream(o), x.stream);
    assert.equal(store.lastTime(o), x.lastTime);
    assert.equal(store.endedByRst(o), x.ba.rstFrame !== 0);
    // The header accessors the port-reuse check reads without decoding (issue 9: they once read
    // the B→A base and the hash in place of the A→B and B→A bases).
    assert.equal(store.baseSet(o, true), x.ab.baseSet);
    assert.equal(store.baseSet(o, false), x.ba.baseSet);
    assert.equal(store.baseSeq(o, true), x.ab.baseSeq);
    assert.equal(store.baseSeq(o, false), x.ba.baseSeq);
    assert.deepEqual(fields(store.decode(o, x.hash)), fields(x));
    n++;
  }
  assert.equal(n, 4000);
  assert.equal(store.count, 4000);
  assert.equal(store.expire(1e9, 0), 4000);
  assert.equal(store.count, 0);
});

const seg = segmentBuilder({ client: 0x7f003201, server: 0x7f003202, win: 100 });

test('tracker: a settled connection is revived by a late packet and replaced by a new SYN like a live one', () => {
  const handshakeAndClose = (isn: number, t: number): Decoded[] => [
    seg(true, SYN, isn, 0, 0, t),
    seg(false, SYN | ACK, 9000, isn + 1, 0, t + 0.001),
    seg(true, ACK, isn + 1, 9001, 0, t + 0.002),
    seg(true, FIN | ACK, isn + 1, 9001, 0, t + 0.003),
    seg(false, FIN | ACK, 9001, isn + 2, 0, t + 0.004),
    seg(true, ACK, isn + 2, 9002, 0, t + 0.005),
  ];
  const run = (settle: boolean): { flags: number[]; streams: number[]; finished: number[]; revived: number } => {
    const finished: number[] = [];
    let revived = 0;
    const tracker = new Tracker({
      stallThresholdS: 0.9,
      onFinished: (c) => finished.push(c.stream),
      onSettle: settle ? () => true : undefined,
      onRevive: () => revived++,
    });
    const segs = [
      ...handshakeAndClose(1000, 0),
      seg(true, FIN | ACK, 1001, 9001, 0, 0.5), // the FIN again, after it was acknowledged: revives it
      // (a retransmitted FIN is listed in the connection, so it stays a full Conn from now on)
      seg(false, ACK, 9002, 1002, 0, 0.501),
      seg(true, SYN, 1000, 0, 0, 0.6), // the old SYN again: a retransmission on the old stream
      ...handshakeAndClose(5000, 2), // new ISN: port reuse
    ];
    return { ...feed(tracker, segs), finished, revived };
  };
  const full = run(false);
  const compact = run(true);
  assert.deepEqual(compact.flags, full.flags);
  assert.deepEqual(compact.streams, full.streams);
  assert.deepEqual(full.streams.slice(-6), [1, 1, 1, 1, 1, 1]);
  assert.ok(compact.flags[9] & TA_REUSED_PORTS);
  assert.equal(compact.revived, 1);
  assert.deepEqual(full.finished, [0, 1]);
  assert.deepEqual(compact.finished, [0]); // stream 1 settled: accounted for by onSettle
});
