/**
 * Closed connections, kept compact for the linger window.
 *
 * A connection that is cleanly finished (both FINs acknowledged, or a RST) usually sees no more
 * packets, but it must stay known for `closedLingerS` of capture time: a later SYN on its 4-tuple
 * is Wireshark's `reused_ports`, and a late retransmission belongs to it. When no detector reports
 * on it (analyse.ts settles it), its `Conn` (three objects, ~20 boxed doubles, about 1.2 KB of
 * heap) is serialized, field by field and losslessly, into one shared byte arena: varints for
 * counters, frame numbers as offsets from the first frame, sequence numbers relative to the
 * direction's base, times as nanosecond or microsecond deltas (when exactly representable, else
 * raw doubles) with repeats coded as back-references. A wrk connection takes about 145 bytes with
 * its header.
 * A new SYN is answered from the header; any other packet revives an identical `Conn`.
 *
 * Record at offset o: the header laid out in `H` below (every reader and writer takes its offsets
 * from there), then the six other IPv6 address words when v6, then the varint payload (the other
 * fields, then the times as one block: see `put`). The header
 * answers the port-reuse question without decoding.
 *
 * One file (over 400 lines) on purpose: the encoder and the decoder mirror each other field by
 * field; side by side is how they stay in step (test/pcap-tombstone.test.ts checks the round trip).
 */
import { Conn, NO_FRAMES, type Direction, type StallPhase } from './connection.js';

const PREVIOUS: Conn['previousState'][] = ['', 'fin', 'rst', 'open'];
const PHASES: (StallPhase | '')[] = ['', 'handshake', 'retransmission', 'unacknowledged-data', 'awaiting-response'];
/**
 * The record header, byte offsets from the record's start (little-endian). One table for `put`,
 * `find`, `decode`, the header accessors and compaction: the layout is named once.
 */
const H = {
  /** u32: next record in the hash chain (0: none). */
  next: 0,
  /** u16: record length in bytes (at most MAX_RECORD). */
  length: 4,
  /** f64: capture time of the connection's last packet. */
  lastTime: 6,
  /** u32: tcp.stream. */
  stream: 14,
  /** u32: first address word of A and of B, u16 ports. */
  a0: 18,
  b0: 22,
  ap: 26,
  bp: 28,
  /** u8: V6 | AB_BASE | BA_BASE | RST | DEAD. */
  flags: 30,
  /** u32: base sequence numbers of A→B and B→A. */
  abBase: 31,
  baBase: 35,
  /** u32: the connection's hash (rebuilds chains on compaction). */
  hash: 39,
  /** 6 × u32 when v6: a1 a2 a3 b1 b2 b3. */
  v6words: 43,
} as const;
const HEADER = H.v6words;
const HEADER_V6 = HEADER + 24;
const V6 = 1;
const AB_BASE = 2;
const BA_BASE = 4;
const RST = 8;
/** Set when the record is unlinked; compaction drops it. */
const DEAD = 16;
/** Enough for any record: header plus ~100 fields of at most 9 bytes. */
const MAX_RECORD = 1536;

/**
 * Times coded as nanoseconds are below this many seconds in magnitude (69 hours from the first
 * packet): differences then stay below 5e14 ns, and their codes (4 × zigzag + 3) below 2^53.
 */
const NS_RANGE = 2.5e5;

/** Integer nanoseconds (|ns| < 1e15) back to a time in seconds, the way the packet loop makes them. */
function nsTime(ns: number): number {
  const sec = Math.floor(ns / 1e9);
  return sec + (ns - sec * 1e9) * 1e-9;
}

type ResizableBuffer = ArrayBuffer & { resizable: boolean; maxByteLength: number; resize(n: number): void };

/**
 * Small arenas are plain buffers (V8 11 does not optimize typed-array access on resizable buffers:
 * about 0.07 s more on the 1 M-packet capture); from 8 MiB on, a resizable buffer (offsets are
 * u32: up to 4 GiB) grows in place, so the old and the new arena are never alive at once.
 */
const RESIZABLE_FROM = 8 << 20;

function arena(size: number): Uint8Array {
  if (size < RESIZABLE_FROM) return new Uint8Array(size);
  try {
    const Resizable = ArrayBuffer as unknown as new (n: number, o: { maxByteLength: number }) => ArrayBuffer;
    return new Uint8Array(new Resizable(size, { maxByteLength: 2 ** 32 - 1 }), 0, size);
  } catch {
    return new Uint8Array(size);
  }
}

/** Times per direction and per record, coded as a block at the end of the record. */
const DIR_TIMES = 6;
const TIMES = 7 + 2 * DIR_TIMES;

function dirTimes(d: Direction, tv: Float64Array, k: number): void {
  tv[k] = d.nextseqTime;
  tv[k + 1] = d.lastackTime;
  tv[k + 2] = d.synTime;
  tv[k + 3] = d.finTime;
  tv[k + 4] = d.finAckedTime;
  tv[k + 5] = d.rstTime;
}

function readDirTimes(d: Direction, tv: Float64Array, k: number): void {
  d.nextseqTime = tv[k];
  d.lastackTime = tv[k + 1];
  d.synTime = tv[k + 2];
  d.finTime = tv[k + 3];
  d.finAckedTime = tv[k + 4];
  d.rstTime = tv[k + 5];
}

/** True when `c` holds nothing a tombstone cannot (frame lists beyond the shared empty one). */
export function tombstoneable(c: Conn): boolean {
  const x = c.ab;
  const y = c.ba;
  return c.stream <= 0xffffffff && x.synRetransFrames === NO_FRAMES && x.finRetransFrames === NO_FRAMES && y.synRetransFrames === NO_FRAMES && y.finRetransFrames === NO_FRAMES;
}

export class TombStore {
  /** (hash & mask) → offset of the first record of its chain (0: none); at most 2 records per slot on average. */
  private heads = new Uint32Array(1 << 12);
  private mask = (1 << 12) - 1;
  private buf = arena(1 << 16);
  private dv = new DataView(this.buf.buffer, 0, this.buf.length);
  private end = 8;
  private dead = 0;
  private pos = 0;
  /** Distinct times of the record being written or read (back-references). */
  private readonly times = new Float64Array(128);
  /** The record's times in coding order (see put): written to and read from here, never passed as arguments. */
  private readonly tv = new Float64Array(TIMES);
  private nTimes = 0;
  private foundPrev = 0;
  /** Last nanosecond-coded time of the record being written or read. */
  private prevNs = 0;
  count = 0;

  /** Stores `c` (already unlinked from the live table). */
  put(c: Conn): void {
    if (this.end + MAX_RECORD > this.buf.length) this.makeRoom();
    const o = this.end;
    const dv = this.dv;
    const slot = c.hash & this.mask;
    dv.setUint32(o + H.next, this.heads[slot], true);
    dv.setFloat64(o + H.lastTime, c.lastTime, true);
    dv.setUint32(o + H.stream, c.stream, true);
    dv.setUint32(o + H.a0, c.a0 >>> 0, true);
    dv.setUint32(o + H.b0, c.b0 >>> 0, true);
    dv.setUint16(o + H.ap, c.ap, true);
    dv.setUint16(o + H.bp, c.bp, true);
    this.buf[o + H.flags] = (c.v6 ? V6 : 0) | (c.ab.baseSet ? AB_BASE : 0) | (c.ba.baseSet ? BA_BASE : 0) | (c.ab.rstFrame !== 0 || c.ba.rstFrame !== 0 ? RST : 0);
    dv.setInt32(o + H.abBase, c.ab.baseSeq, true);
    dv.setInt32(o + H.baBase, c.ba.baseSeq, true);
    dv.setUint32(o + H.hash, c.hash, true);
    if (c.v6) {
      const w = o + H.v6words;
      dv.setUint32(w, c.a1 >>> 0, true);
      dv.setUint32(w + 4, c.a2 >>> 0, true);
      dv.setUint32(w + 8, c.a3 >>> 0, true);
      dv.setUint32(w + 12, c.b1 >>> 0, true);
      dv.setUint32(w + 16, c.b2 >>> 0, true);
      dv.setUint32(w + 20, c.b3 >>> 0, true);
    }
    this.pos = o + (c.v6 ? HEADER_V6 : HEADER);
    this.times[0] = 0;
    this.nTimes = 1;
    this.prevNs = 0;
    this.u(c.firstFrame);
    const ff = c.firstFrame;
    this.s(c.clientIsA);
    this.f(c.lastFrame, ff);
    this.u(c.packets);
    // The first RTT is a difference of two packet times, rarely a whole number of nanoseconds
    // itself: coded as the later time (mruSyn + firstRtt) when that gives it back exactly.
    const rttEnd = c.mruSyn + c.firstRtt;
    const rttAsEnd = c.firstRtt !== 0 && rttEnd - c.mruSyn === c.firstRtt;
    this.u((c.mruSynSet ? 1 : 0) | (c.reusedPorts ? 2 : 0) | (c.established ? 4 : 0) | (c.sawSyn ? 8 : 0) | (c.stallFromA ? 16 : 0) | (rttAsEnd ? 32 : 0));
    this.f(c.reusedFrame, ff);
    this.u(PREVIOUS.indexOf(c.previousState));
    this.s(c.previousStream);
    this.f(c.synAckFrame, ff);
    this.s(c.lastPayloadFromA);
    this.u(c.stallCount);
    this.f(c.stallFromFrame, ff);
    this.f(c.stallToFrame, ff);
    this.u(PHASES.indexOf(c.stallPhase));
    this.putDir(c.ab, c.ba.baseSeq, ff);
    this.putDir(c.ba, c.ab.baseSeq, ff);
    // The times last, from a scratch array: a double passed to a method that is not inlined is
    // boxed (about 280 bytes of garbage per record when each time was an argument).
    const tv = this.tv;
    tv[0] = c.firstTime;
    tv[1] = c.mruSyn;
    tv[2] = rttAsEnd ? rttEnd : c.firstRtt;
    tv[3] = c.previousLastTime;
    tv[4] = c.synAckTime;
    tv[5] = c.stallGap;
    tv[6] = c.stallAt;
    dirTimes(c.ab, tv, 7);
    dirTimes(c.ba, tv, 7 + DIR_TIMES);
    for (let i = 0; i < TIMES; i++) this.t(i);
    const len = this.pos - o;
    dv.setUint16(o + H.length, len, true);
    this.end = this.pos;
    this.heads[slot] = o;
    if (++this.count > 2 * this.heads.length) this.rechain(this.heads.length * 4);
  }

  /** Offset of the record for this 4-tuple (0: none); `remove` it before the next `find`. */
  find(h: number, v6: boolean, a0: number, a1: number, a2: number, a3: number, b0: number, b1: number, b2: number, b3: number, ap: number, bp: number): number {
    const dv = this.dv;
    let prev = 0;
    for (let o = this.heads[h & this.mask]; o !== 0; prev = o, o = dv.getUint32(o + H.next, true)) {
      if (dv.getUint32(o + H.a0, true) !== a0 >>> 0 || dv.getUint32(o + H.b0, true) !== b0 >>> 0 || dv.getUint16(o + H.ap, true) !== ap || dv.getUint16(o + H.bp, true) !== bp) continue;
      if (((this.buf[o + H.flags] & V6) !== 0) !== v6) continue;
      const w = o + H.v6words;
      if (v6 && (dv.getUint32(w, true) !== a1 >>> 0 || dv.getUint32(w + 4, true) !== a2 >>> 0 || dv.getUint32(w + 8, true) !== a3 >>> 0)) continue;
      if (v6 && (dv.getUint32(w + 12, true) !== b1 >>> 0 || dv.getUint32(w + 16, true) !== b2 >>> 0 || dv.getUint32(w + 20, true) !== b3 >>> 0)) continue;
      this.foundPrev = prev;
      return o;
    }
    return 0;
  }

  /** Unlinks the record `find` just returned (its bytes stay readable until the next `put`). */
  remove(h: number, o: number): void {
    this.unchain(h, this.foundPrev, o);
  }

  /** Whether the record's A→B (fromA) or B→A direction has a base sequence number, and which. */
  baseSet(o: number, fromA: boolean): boolean {
    return (this.buf[o + H.flags] & (fromA ? AB_BASE : BA_BASE)) !== 0;
  }

  /** Signed, like Direction.baseSeq. */
  baseSeq(o: number, fromA: boolean): number {
    return this.dv.getInt32(o + (fromA ? H.abBase : H.baBase), true);
  }

  lastTime(o: number): number {
    return this.dv.getFloat64(o + H.lastTime, true);
  }

  stream(o: number): number {
    return this.dv.getUint32(o + H.stream, true);
  }

  /** True when the connection ended with a RST (else with both FINs acknowledged). */
  endedByRst(o: number): boolean {
    return (this.buf[o + H.flags] & RST) !== 0;
  }

  /** Drops the records quiet for more than `linger` seconds at capture time `now`; returns how many. */
  expire(now: number, linger: number): number {
    const dv = this.dv;
    const heads = this.heads;
    let n = 0;
    for (let slot = 0; slot < heads.length; slot++) {
      let prev = 0;
      for (let o = heads[slot]; o !== 0; ) {
        const next = dv.getUint32(o + H.next, true);
        if (now - dv.getFloat64(o + H.lastTime, true) > linger) {
          this.unchain(slot, prev, o);
          n++;
        } else prev = o;
        o = next;
      }
    }
    return n;
  }

  /** Drops everything. */
  clear(): void {
    this.heads = new Uint32Array(1 << 12);
    this.mask = (1 << 12) - 1;
    this.buf = arena(1 << 16);
    this.dv = new DataView(this.buf.buffer, 0, this.buf.length);
    this.end = 8;
    this.dead = 0;
    this.count = 0;
  }

  /** The connection stored at `o` (found by `find`, before the next `put`). */
  decode(o: number, h: number): Conn {
    const dv = this.dv;
    const c = new Conn();
    c.hash = h;
    c.lastTime = dv.getFloat64(o + H.lastTime, true);
    c.stream = dv.getUint32(o + H.stream, true);
    c.a0 = dv.getUint32(o + H.a0, true);
    c.b0 = dv.getUint32(o + H.b0, true);
    c.ap = dv.getUint16(o + H.ap, true);
    c.bp = dv.getUint16(o + H.bp, true);
    const hf = this.buf[o + H.flags];
    c.v6 = (hf & V6) !== 0;
    c.ab.baseSet = (hf & AB_BASE) !== 0;
    c.ba.baseSet = (hf & BA_BASE) !== 0;
    c.ab.baseSeq = dv.getInt32(o + H.abBase, true);
    c.ba.baseSeq = dv.getInt32(o + H.baBase, true);
    if (c.v6) {
      const w = o + H.v6words;
      c.a1 = dv.getUint32(w, true);
      c.a2 = dv.getUint32(w + 4, true);
      c.a3 = dv.getUint32(w + 8, true);
      c.b1 = dv.getUint32(w + 12, true);
      c.b2 = dv.getUint32(w + 16, true);
      c.b3 = dv.getUint32(w + 20, true);
    }
    this.pos = o + (c.v6 ? HEADER_V6 : HEADER);
    this.times[0] = 0;
    this.nTimes = 1;
    this.prevNs = 0;
    const ff = this.ru();
    c.firstFrame = ff;
    c.clientIsA = this.rs();
    c.lastFrame = this.rf(ff);
    c.packets = this.ru();
    const bits = this.ru();
    c.mruSynSet = (bits & 1) !== 0;
    c.reusedPorts = (bits & 2) !== 0;
    c.established = (bits & 4) !== 0;
    c.sawSyn = (bits & 8) !== 0;
    c.stallFromA = (bits & 16) !== 0;
    c.reusedFrame = this.rf(ff);
    c.previousState = PREVIOUS[this.ru()];
    c.previousStream = this.rs();
    c.synAckFrame = this.rf(ff);
    c.lastPayloadFromA = this.rs();
    c.stallCount = this.ru();
    c.stallFromFrame = this.rf(ff);
    c.stallToFrame = this.rf(ff);
    c.stallPhase = PHASES[this.ru()];
    this.readDir(c.ab, c.ba.baseSeq, ff);
    this.readDir(c.ba, c.ab.baseSeq, ff);
    const tv = this.tv;
    for (let i = 0; i < TIMES; i++) this.rt(i);
    c.firstTime = tv[0];
    c.mruSyn = tv[1];
    c.firstRtt = (bits & 32) !== 0 ? tv[2] - c.mruSyn : tv[2];
    c.previousLastTime = tv[3];
    c.synAckTime = tv[4];
    c.stallGap = tv[5];
    c.stallAt = tv[6];
    readDirTimes(c.ab, tv, 7);
    readDirTimes(c.ba, tv, 7 + DIR_TIMES);
    return c;
  }

  private putDir(d: Direction, revBase: number, ff: number): void {
    const base = d.baseSeq;
    this.u((d.nextseq - base) >>> 0);
    this.f(d.nextseqFrame, ff);
    this.u((d.lastack - revBase) >>> 0);
    this.s(d.window);
    this.s(d.dupacknum);
    this.u((d.maxseqtobeacked - base) >>> 0);
    this.f(d.lastnondupack, ff);
    this.u(d.lastsegflags);
    this.u(d.packets);
    this.u(d.payloadBytes);
    this.u(d.retransmissions);
    this.f(d.synFrame, ff);
    this.u(d.synRetransCount);
    this.u((d.synFirstRetrans ? 1 : 0) | (d.finFirstRetrans ? 2 : 0));
    this.f(d.finFrame, ff);
    this.u((d.finSeq - base) >>> 0);
    this.u(d.finRetransCount);
    this.f(d.finAckedFrame, ff);
    this.f(d.rstFrame, ff);
  }

  private readDir(d: Direction, revBase: number, ff: number): void {
    const base = d.baseSeq;
    d.nextseq = (base + this.ru()) | 0;
    d.nextseqFrame = this.rf(ff);
    d.lastack = (revBase + this.ru()) | 0;
    d.window = this.rs();
    d.dupacknum = this.rs();
    d.maxseqtobeacked = (base + this.ru()) | 0;
    d.lastnondupack = this.rf(ff);
    d.lastsegflags = this.ru();
    d.packets = this.ru();
    d.payloadBytes = this.ru();
    d.retransmissions = this.ru();
    d.synFrame = this.rf(ff);
    d.synRetransCount = this.ru();
    const firsts = this.ru();
    d.synFirstRetrans = (firsts & 1) !== 0;
    d.finFirstRetrans = (firsts & 2) !== 0;
    d.finFrame = this.rf(ff);
    d.finSeq = (base + this.ru()) | 0;
    d.finRetransCount = this.ru();
    d.finAckedFrame = this.rf(ff);
    d.rstFrame = this.rf(ff);
  }

  private unchain(h: number, prev: number, o: number): void {
    const next = this.dv.getUint32(o + H.next, true);
    if (prev === 0) this.heads[h & this.mask] = next;
    else this.dv.setUint32(prev + H.next, next, true);
    this.dead += this.dv.getUint16(o + H.length, true);
    this.buf[o + H.flags] |= DEAD;
    this.count--;
  }

  /**
   * Makes room for one more record: when an eighth of the arena is dead (revived or released
   * records), slides the live records down in place and rebuilds the hash chains; else grows the
   * arena by half (one bulk copy, offsets unchanged).
   */
  private makeRoom(): void {
    const used = this.end - 8;
    if (this.dead * 8 < used) {
      const size = this.buf.length + (this.buf.length >> 1) + MAX_RECORD;
      const ab = this.buf.buffer as ResizableBuffer;
      if (ab.resizable && size <= ab.maxByteLength) {
        // Grown in place: no copy, and no old and new arena alive at once.
        ab.resize(size);
        this.buf = new Uint8Array(ab, 0, size);
      } else {
        const grown = arena(size);
        grown.set(this.buf.subarray(0, this.end));
        this.buf = grown;
      }
      this.dv = new DataView(this.buf.buffer, 0, this.buf.length);
      return;
    }
    this.compact();
  }

  /** Slides the live records down over the dead ones and rebuilds the chains. */
  private compact(): void {
    const b = this.buf;
    const dv = this.dv;
    const heads = this.heads;
    const mask = this.mask;
    heads.fill(0);
    let w = 8;
    for (let o = 8; o < this.end; ) {
      const len = dv.getUint16(o + H.length, true);
      if ((b[o + H.flags] & DEAD) === 0) {
        if (w !== o) b.copyWithin(w, o, o + len);
        const slot = dv.getUint32(w + H.hash, true) & mask;
        dv.setUint32(w + H.next, heads[slot], true);
        heads[slot] = w;
        w += len;
      }
      o += len;
    }
    this.end = w;
    this.dead = 0;
  }

  /** A larger chain table (by compacting into it). */
  private rechain(size: number): void {
    this.heads = new Uint32Array(size);
    this.mask = size - 1;
    this.compact();
  }

  // --- encoding ---------------------------------------------------------------------------

  /** Unsigned integer (up to 2^53) as a little-endian base-128 varint. */
  private u(n: number): void {
    const b = this.buf;
    let p = this.pos;
    if (n <= 0x7fffffff) {
      while (n >= 128) {
        b[p++] = (n & 127) | 128;
        n >>>= 7;
      }
    } else {
      while (n >= 128) {
        b[p++] = (n % 128) | 128;
        n = Math.floor(n / 128);
      }
    }
    b[p++] = n;
    this.pos = p;
  }

  private s(n: number): void {
    this.u(n >= 0 ? n * 2 : -n * 2 - 1);
  }

  /** A frame number: 0 (unset) or its offset from the connection's first frame. */
  private f(frame: number, ff: number): void {
    this.u(frame === 0 ? 0 : 1 + (frame >= ff ? (frame - ff) * 2 : (ff - frame) * 2 - 1));
  }

  /**
   * A time, as one varint code c: c = 0, then the raw double (8 bytes); c = 4k + 2: the same as
   * the k-th distinct time of this record; c = 4z + 1: integer nanoseconds, z the zigzag of the
   * difference from the previous such time in this record; c = 4z + 3: the same difference when it
   * is whole microseconds (pcap's usual resolution), z the zigzag of it in microseconds. The
   * nanosecond forms are used when the double is exactly `seconds + ns * 1e-9` (how packet times
   * are made, see packet-loop.ts; checked, not assumed) and |x| < NS_RANGE (codes below 2^53).
   */
  private t(i: number): void {
    const x = this.tv[i];
    const times = this.times;
    const n = this.nTimes;
    for (let i = 0; i < n; i++) {
      if (times[i] === x && (x !== 0 || 1 / x > 0)) {
        this.u(i * 4 + 2);
        return;
      }
    }
    if (n < times.length) times[this.nTimes++] = x;
    if (x > -NS_RANGE && x < NS_RANGE && (x !== 0 || 1 / x > 0)) {
      const sec = Math.floor(x);
      const ns = sec * 1e9 + Math.round((x - sec) * 1e9);
      if (nsTime(ns) === x) {
        const d = ns - this.prevNs;
        this.prevNs = ns;
        if (d % 1000 === 0) {
          const us = d / 1000;
          this.u((us >= 0 ? us * 2 : -us * 2 - 1) * 4 + 3);
        } else this.u((d >= 0 ? d * 2 : -d * 2 - 1) * 4 + 1);
        return;
      }
    }
    this.buf[this.pos++] = 0;
    this.dv.setFloat64(this.pos, x, true);
    this.pos += 8;
  }

  private ru(): number {
    const b = this.buf;
    let p = this.pos;
    let n = 0;
    let mul = 1;
    for (;;) {
      const x = b[p++];
      n += (x & 127) * mul;
      if (x < 128) break;
      mul *= 128;
    }
    this.pos = p;
    return n;
  }

  private rs(): number {
    const z = this.ru();
    return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
  }

  private rf(ff: number): number {
    const z = this.ru();
    if (z === 0) return 0;
    const d = z - 1;
    return d % 2 === 0 ? ff + d / 2 : ff - (d + 1) / 2;
  }

  /** Decodes the next time into tv[i]. */
  private rt(i: number): void {
    const c = this.ru();
    const kind = c % 4;
    const q = (c - kind) / 4;
    if (kind === 2) {
      this.tv[i] = this.times[q];
      return;
    }
    let x: number;
    if (kind === 0) {
      x = this.dv.getFloat64(this.pos, true);
      this.pos += 8;
    } else {
      const z = q % 2 === 0 ? q / 2 : -(q + 1) / 2;
      const ns = this.prevNs + (kind === 3 ? z * 1000 : z);
      this.prevNs = ns;
      x = nsTime(ns);
    }
    if (this.nTimes < this.times.length) this.times[this.nTimes++] = x;
    this.tv[i] = x;
  }

}
