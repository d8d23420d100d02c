/**
 * Closed connections, kept compact for the linger window.
 *
 * A connection that is cleanly finished (both FINs acknowledged, or a RST) usually sees no more
 * packets, but it must stay known for `closedLingerS` of capture time: a later SYN on its 4-tuple
 * is Wireshark's `reused_ports`, and a late retransmission belongs to it. When no detector reports
 * on it (analyse.ts settles it), its `Conn` (three objects, ~20 boxed doubles, about 1.2 KB of
 * heap) is serialized, field by field and losslessly, into one shared byte arena: varints for
 * counters; frame numbers as back-references to an earlier frame of the same record (SYN, FIN and
 * ACK frames repeat) or as offsets from the first frame; sequence numbers from what they usually
 * equal (the base, the next sequence number, the other way's next sequence number); the fields
 * that are almost always at their usual value (reused-port, stall, duplicate-ACK, retransmission
 * and RST fields) behind one bit mask, present only when set; times as nanosecond or microsecond
 * deltas (when exactly representable, else raw doubles) with repeats coded as back-references.
 * A wrk connection takes about 108 bytes with its header (145 before the mask, the frame
 * references and the predictions).
 * A new SYN is answered from the header; any other packet revives an identical `Conn`.
 *
 * Record at offset o: the header laid out in `H` below (every reader and writer takes its offsets
 * from there), then the six other IPv6 address words when v6, then the varint payload (see
 * `put`). The header answers the port-reuse question without decoding. Records are found through
 * an open-addressing index of (offset, hash) pairs, so a lookup reads the arena only for the
 * record whose hash matches.
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
  /** u16: record length in bytes (at most MAX_RECORD). */
  length: 0,
  /** f64: capture time of the connection's last packet. */
  lastTime: 2,
  /** u32: tcp.stream. */
  stream: 10,
  /** u32: first address word of A and of B, u16 ports. */
  a0: 14,
  b0: 18,
  ap: 22,
  bp: 24,
  /** u8: V6 | AB_BASE | BA_BASE | RST | DEAD. */
  flags: 26,
  /** u32: base sequence numbers of A→B and B→A. */
  abBase: 27,
  baBase: 31,
  /** u32: the connection's hash (rebuilds the index on compaction). */
  hash: 35,
  /** 6 × u32 when v6: a1 a2 a3 b1 b2 b3. */
  v6words: 39,
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

/**
 * The record's times (see `put`): the usual ones first, then the rare ones (present only when
 * their bit in the rare-field mask is set).
 */
const T_FIRST = 0;
const T_MRU_SYN = 1;
const T_RTT = 2;
const T_SYNACK = 3;
/** Five per direction: synTime, nextseqTime, lastackTime, finTime, finAckedTime. */
const T_AB = 4;
const T_BA = 9;
const T_PREV_LAST = 14;
const T_STALL_GAP = 15;
const T_STALL_AT = 16;
const T_AB_RST = 17;
const T_BA_RST = 18;
const TIMES = 19;
const T_USUAL = T_PREV_LAST;

function dirTimes(d: Direction, tv: Float64Array, k: number): void {
  tv[k] = d.synTime;
  tv[k + 1] = d.nextseqTime;
  tv[k + 2] = d.lastackTime;
  tv[k + 3] = d.finTime;
  tv[k + 4] = d.finAckedTime;
}

function readDirTimes(d: Direction, tv: Float64Array, k: number): void {
  d.synTime = tv[k];
  d.nextseqTime = tv[k + 1];
  d.lastackTime = tv[k + 2];
  d.finTime = tv[k + 3];
  d.finAckedTime = tv[k + 4];
}

/**
 * The rare-field mask: one bit per field that is almost always at its usual value (0, '', -1,
 * unset), set when it is not; only the fields whose bit is set follow. A record of a plain
 * connection spends one byte on all of them instead of one byte or more each.
 */
const R_REUSED_FRAME = 1 << 0;
const R_PREVIOUS_STATE = 1 << 1;
const R_PREVIOUS_STREAM = 1 << 2;
/** The first four together on a reused port (the mask's first byte). */
const R_PREV_LAST = 1 << 3;
const R_STALL_COUNT = 1 << 4;
const R_STALL_FROM = 1 << 5;
const R_STALL_TO = 1 << 6;
const R_STALL_PHASE = 1 << 7;
const R_STALL_GAP = 1 << 8;
const R_STALL_AT = 1 << 9;
/** Seven per direction, in this order: dupacknum, lastsegflags, retransmissions, synRetransCount, finRetransCount, the two first-retransmission booleans, rstFrame. */
const R_AB = 10;
const R_BA = 17;
const R_AB_RST_TIME = 1 << 24;
const R_BA_RST_TIME = 1 << 25;
/** The rare times, in their coding order (T_PREV_LAST ...). */
const R_TIMES = [R_PREV_LAST, R_STALL_GAP, R_STALL_AT, R_AB_RST_TIME, R_BA_RST_TIME];
const R_ANY_TIME = R_PREV_LAST | R_STALL_GAP | R_STALL_AT | R_AB_RST_TIME | R_BA_RST_TIME;

/** Zigzag: signed to unsigned (|n| up to 2^52). */
function zz(n: number): number {
  return n >= 0 ? n * 2 : -n * 2 - 1;
}

function unzz(z: number): number {
  return z % 2 === 0 ? z / 2 : -(z + 1) / 2;
}

/** True for every time but +0 (the unset value; -0 is kept as a value of its own). */
function timeSet(x: number): boolean {
  return x !== 0 || 1 / x < 0;
}

/** The rare bits of one direction (shifted to its place by the caller). */
function rareDir(d: Direction): number {
  return (
    (d.dupacknum !== 0 ? 1 : 0) |
    (d.lastsegflags !== 0 ? 2 : 0) |
    (d.retransmissions !== 0 ? 4 : 0) |
    (d.synRetransCount !== 0 ? 8 : 0) |
    (d.finRetransCount !== 0 ? 16 : 0) |
    (d.synFirstRetrans || d.finFirstRetrans ? 32 : 0) |
    (d.rstFrame !== 0 ? 64 : 0)
  );
}

/** Unsigned integer (up to 2^53) as a little-endian base-128 varint at p; returns the end. */
function wu(b: Uint8Array, p: number, n: number): number {
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
  return p;
}

/** True when `c` holds nothing a tombstone cannot (frame lists beyond the shared empty one). */
export function tombstoneable(c: Conn): boolean {
  const x = c.ab;
  const y = c.ba;
  // A connection whose last packet was a keep-alive (or its ACK) keeps its own stall reference
  // (activeFrame/activeTime), which a record does not hold: it stays live.
  return c.stream <= 0xffffffff && c.activeFrame === c.lastFrame && c.stallKeepAlives === 0 && x.synRetransFrames === NO_FRAMES && x.finRetransFrames === NO_FRAMES && y.synRetransFrames === NO_FRAMES && y.finRetransFrames === NO_FRAMES;
}

/** Frame numbers remembered per record for back-references. */
const FRAME_REFS = 32;

/** Index slot states other than a record's offset (records start at offset 8 or later). */
const EMPTY = 0;
const DELETED = 1;
/** Index slots at first (a power of two). */
const SLOTS = 1 << 12;

export class TombStore {
  /**
   * The index: open addressing with linear probing, two u32 per slot (the record's offset, or
   * EMPTY or DELETED; the connection's hash). A lookup compares hashes in the index, which is
   * small and probed sequentially, and reads the arena only for the record whose hash matches:
   * a new 4-tuple costs no read of the arena at all.
   */
  private slots = new Uint32Array(2 * SLOTS);
  private smask = SLOTS - 1;
  /** Slots marked DELETED (they lengthen probes until the index is rebuilt). */
  private deleted = 0;
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
  /** Distinct frame numbers of the record being written or read (back-references). */
  private readonly frames = new Float64Array(FRAME_REFS);
  private nFrames = 0;
  /** Index slot of the record `find` returned last. */
  private foundSlot = 0;
  /** Last nanosecond-coded time of the record being written or read. */
  private prevNs = 0;
  count = 0;

  /** Stores `c` (already unlinked from the live table). */
  put(c: Conn): void {
    if (this.end + MAX_RECORD > this.buf.length) this.makeRoom();
    const o = this.end;
    const dv = this.dv;
    const b = this.buf;
    const x = c.ab;
    const y = c.ba;
    dv.setFloat64(o + H.lastTime, c.lastTime, true);
    dv.setUint32(o + H.stream, c.stream, true);
    dv.setUint32(o + H.a0, c.a0 >>> 0, true);
    dv.setUint32(o + H.b0, c.b0 >>> 0, true);
    dv.setUint16(o + H.ap, c.ap, true);
    dv.setUint16(o + H.bp, c.bp, true);
    b[o + H.flags] = (c.v6 ? V6 : 0) | (x.baseSet ? AB_BASE : 0) | (y.baseSet ? BA_BASE : 0) | (x.rstFrame !== 0 || y.rstFrame !== 0 ? RST : 0);
    dv.setInt32(o + H.abBase, x.baseSeq, true);
    dv.setInt32(o + H.baBase, y.baseSeq, true);
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
    let p = o + (c.v6 ? HEADER_V6 : HEADER);
    const ff = c.firstFrame;
    this.frames[0] = ff;
    this.nFrames = 1;
    p = wu(b, p, ff);
    // The first RTT is a difference of two packet times, rarely a whole number of nanoseconds
    // itself: coded as the later time (mruSyn + firstRtt) when that gives it back exactly.
    const rttEnd = c.mruSyn + c.firstRtt;
    const rttAsEnd = c.firstRtt !== 0 && rttEnd - c.mruSyn === c.firstRtt;
    b[p++] = (c.mruSynSet ? 1 : 0) | (c.reusedPorts ? 2 : 0) | (c.established ? 4 : 0) | (c.sawSyn ? 8 : 0) | (c.stallFromA ? 16 : 0) | (rttAsEnd ? 32 : 0) | (c.requester << 6);
    const rare =
      (c.reusedFrame !== 0 ? R_REUSED_FRAME : 0) |
      (c.previousState !== '' ? R_PREVIOUS_STATE : 0) |
      (c.previousStream !== -1 ? R_PREVIOUS_STREAM : 0) |
      (c.stallCount !== 0 ? R_STALL_COUNT : 0) |
      (c.stallFromFrame !== 0 ? R_STALL_FROM : 0) |
      (c.stallToFrame !== 0 ? R_STALL_TO : 0) |
      (c.stallPhase !== '' ? R_STALL_PHASE : 0) |
      (rareDir(x) << R_AB) |
      (rareDir(y) << R_BA) |
      (timeSet(c.previousLastTime) ? R_PREV_LAST : 0) |
      (timeSet(c.stallGap) ? R_STALL_GAP : 0) |
      (timeSet(c.stallAt) ? R_STALL_AT : 0) |
      (timeSet(x.rstTime) ? R_AB_RST_TIME : 0) |
      (timeSet(y.rstTime) ? R_BA_RST_TIME : 0);
    p = wu(b, p, rare);
    // The usual fields. Sequence numbers are coded from what they usually equal: the next
    // sequence number from the direction's base, the highest acknowledgeable one and the FIN's
    // from the next one, the last acknowledgement from the other way's next sequence number.
    p = wu(b, p, zz(c.clientIsA));
    p = this.wf(b, p, c.lastFrame);
    p = wu(b, p, c.packets);
    p = this.wf(b, p, c.synAckFrame);
    p = wu(b, p, zz(c.lastPayloadFromA));
    p = wu(b, p, (x.nextseq - x.baseSeq) >>> 0);
    p = wu(b, p, (y.nextseq - y.baseSeq) >>> 0);
    p = this.putDir(b, p, x, y.nextseq);
    p = this.putDir(b, p, y, x.nextseq);
    // The rare fields whose bit is set.
    if (rare !== 0) {
      if (rare & R_REUSED_FRAME) p = this.wf(b, p, c.reusedFrame);
      if (rare & R_PREVIOUS_STATE) p = wu(b, p, PREVIOUS.indexOf(c.previousState));
      if (rare & R_PREVIOUS_STREAM) p = wu(b, p, zz(c.previousStream + 1));
      if (rare & R_STALL_COUNT) p = wu(b, p, c.stallCount);
      if (rare & R_STALL_FROM) p = this.wf(b, p, c.stallFromFrame);
      if (rare & R_STALL_TO) p = this.wf(b, p, c.stallToFrame);
      if (rare & R_STALL_PHASE) p = wu(b, p, PHASES.indexOf(c.stallPhase));
      if ((rare >>> R_AB) & 127) p = this.putRareDir(b, p, x, (rare >>> R_AB) & 127);
      if ((rare >>> R_BA) & 127) p = this.putRareDir(b, p, y, (rare >>> R_BA) & 127);
    }
    // The times last, from a scratch array: a double passed to a method that is not inlined is
    // boxed (about 280 bytes of garbage per record when each time was an argument).
    const tv = this.tv;
    tv[T_FIRST] = c.firstTime;
    tv[T_MRU_SYN] = c.mruSyn;
    tv[T_RTT] = rttAsEnd ? rttEnd : c.firstRtt;
    tv[T_SYNACK] = c.synAckTime;
    dirTimes(x, tv, T_AB);
    dirTimes(y, tv, T_BA);
    this.times[0] = 0;
    this.nTimes = 1;
    this.prevNs = 0;
    for (let i = 0; i < T_USUAL; i++) p = this.wt(b, p, i);
    if ((rare & R_ANY_TIME) !== 0) {
      tv[T_PREV_LAST] = c.previousLastTime;
      tv[T_STALL_GAP] = c.stallGap;
      tv[T_STALL_AT] = c.stallAt;
      tv[T_AB_RST] = x.rstTime;
      tv[T_BA_RST] = y.rstTime;
      for (let i = T_PREV_LAST; i < TIMES; i++) if (rare & R_TIMES[i - T_PREV_LAST]) p = this.wt(b, p, i);
    }
    dv.setUint16(o + H.length, p - o, true);
    this.end = p;
    this.insert(o, c.hash);
    this.count++;
    // At most 5/8 of the slots in use, 3/4 with the deleted ones: probes stay short.
    const size = this.smask + 1;
    if (this.count * 8 > size * 5) this.reindex(size * 2);
    else if ((this.count + this.deleted) * 4 > size * 3) this.reindex(size);
  }

  /** Puts record `o` of hash `h` in the index (a free slot: EMPTY or DELETED). */
  private insert(o: number, h: number): void {
    const slots = this.slots;
    const m = this.smask;
    let i = h & m;
    while (slots[2 * i] > DELETED) i = (i + 1) & m;
    if (slots[2 * i] === DELETED) this.deleted--;
    slots[2 * i] = o;
    slots[2 * i + 1] = h;
  }

  /** Offset of the record for this 4-tuple (0: none); `remove` it before the next `find`. */
  find(h: number, v6: boolean, a0: number, a1: number, a2: number, a3: number, b0: number, b1: number, b2: number, b3: number, ap: number, bp: number): number {
    const dv = this.dv;
    const slots = this.slots;
    const m = this.smask;
    for (let i = h & m; ; i = (i + 1) & m) {
      const o = slots[2 * i];
      if (o === EMPTY) return 0;
      if (o === DELETED || slots[2 * i + 1] !== h) continue;
      if (dv.getUint32(o + H.a0, true) !== a0 >>> 0 || dv.getUint32(o + H.b0, true) !== b0 >>> 0 || dv.getUint16(o + H.ap, true) !== ap || dv.getUint16(o + H.bp, true) !== bp) continue;
      if (((this.buf[o + H.flags] & V6) !== 0) !== v6) continue;
      const w = o + H.v6words;
      if (v6 && (dv.getUint32(w, true) !== a1 >>> 0 || dv.getUint32(w + 4, true) !== a2 >>> 0 || dv.getUint32(w + 8, true) !== a3 >>> 0)) continue;
      if (v6 && (dv.getUint32(w + 12, true) !== b1 >>> 0 || dv.getUint32(w + 16, true) !== b2 >>> 0 || dv.getUint32(w + 20, true) !== b3 >>> 0)) continue;
      this.foundSlot = i;
      return o;
    }
  }

  /** Unlinks the record `find` just returned (its bytes stay readable until the next `put`). */
  remove(_h: number, o: number): void {
    this.unlink(this.foundSlot, o);
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
    const b = this.buf;
    const slots = this.slots;
    const m = this.smask;
    let n = 0;
    // The arena in order (sequential reads), then each expired record's slot in the index.
    for (let o = 8; o < this.end; o += dv.getUint16(o + H.length, true)) {
      if ((b[o + H.flags] & DEAD) !== 0 || !(now - dv.getFloat64(o + H.lastTime, true) > linger)) continue;
      let i = dv.getUint32(o + H.hash, true) & m;
      while (slots[2 * i] !== o) i = (i + 1) & m;
      this.unlink(i, o);
      n++;
    }
    return n;
  }

  /** Drops everything. */
  clear(): void {
    this.slots = new Uint32Array(2 * SLOTS);
    this.smask = SLOTS - 1;
    this.deleted = 0;
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
    const x = c.ab;
    const y = c.ba;
    const ff = this.ru();
    this.frames[0] = ff;
    this.nFrames = 1;
    c.firstFrame = ff;
    const bits = this.buf[this.pos++];
    c.mruSynSet = (bits & 1) !== 0;
    c.reusedPorts = (bits & 2) !== 0;
    c.established = (bits & 4) !== 0;
    c.sawSyn = (bits & 8) !== 0;
    c.stallFromA = (bits & 16) !== 0;
    c.requester = bits >>> 6;
    const rare = this.ru();
    c.clientIsA = this.rs();
    c.lastFrame = this.rf();
    // Only connections whose last packet was not a keep-alive are stored (tombstoneable).
    c.activeFrame = c.lastFrame;
    c.activeTime = c.lastTime;
    c.packets = this.ru();
    c.synAckFrame = this.rf();
    c.lastPayloadFromA = this.rs();
    x.nextseq = (x.baseSeq + this.ru()) | 0;
    y.nextseq = (y.baseSeq + this.ru()) | 0;
    this.readDir(x, y.nextseq);
    this.readDir(y, x.nextseq);
    if (rare & R_REUSED_FRAME) c.reusedFrame = this.rf();
    if (rare & R_PREVIOUS_STATE) c.previousState = PREVIOUS[this.ru()];
    if (rare & R_PREVIOUS_STREAM) c.previousStream = this.rs() - 1;
    if (rare & R_STALL_COUNT) c.stallCount = this.ru();
    if (rare & R_STALL_FROM) c.stallFromFrame = this.rf();
    if (rare & R_STALL_TO) c.stallToFrame = this.rf();
    if (rare & R_STALL_PHASE) c.stallPhase = PHASES[this.ru()];
    this.readRareDir(x, (rare >>> R_AB) & 127);
    this.readRareDir(y, (rare >>> R_BA) & 127);
    const tv = this.tv;
    tv.fill(0);
    this.times[0] = 0;
    this.nTimes = 1;
    this.prevNs = 0;
    for (let i = 0; i < T_USUAL; i++) this.rt(i);
    for (let i = T_PREV_LAST; i < TIMES; i++) if (rare & R_TIMES[i - T_PREV_LAST]) this.rt(i);
    c.firstTime = tv[T_FIRST];
    c.mruSyn = tv[T_MRU_SYN];
    c.firstRtt = (bits & 32) !== 0 ? tv[T_RTT] - c.mruSyn : tv[T_RTT];
    c.synAckTime = tv[T_SYNACK];
    readDirTimes(x, tv, T_AB);
    readDirTimes(y, tv, T_BA);
    c.previousLastTime = tv[T_PREV_LAST];
    c.stallGap = tv[T_STALL_GAP];
    c.stallAt = tv[T_STALL_AT];
    x.rstTime = tv[T_AB_RST];
    y.rstTime = tv[T_BA_RST];
    return c;
  }

  /** The usual fields of one direction; `revNext` is the other way's next sequence number. */
  private putDir(b: Uint8Array, p: number, d: Direction, revNext: number): number {
    const next = d.nextseq;
    p = this.wf(b, p, d.nextseqFrame);
    p = wu(b, p, zz((d.lastack - revNext) | 0));
    p = wu(b, p, zz(d.window));
    p = wu(b, p, zz((d.maxseqtobeacked - next) | 0));
    p = this.wf(b, p, d.lastnondupack);
    p = wu(b, p, d.packets);
    p = wu(b, p, d.payloadBytes);
    p = this.wf(b, p, d.synFrame);
    p = this.wf(b, p, d.finFrame);
    p = wu(b, p, zz((d.finSeq - next + 1) | 0));
    p = this.wf(b, p, d.finAckedFrame);
    return p;
  }

  private readDir(d: Direction, revNext: number): void {
    const next = d.nextseq;
    d.nextseqFrame = this.rf();
    d.lastack = (revNext + this.rs()) | 0;
    d.window = this.rs();
    d.maxseqtobeacked = (next + this.rs()) | 0;
    d.lastnondupack = this.rf();
    d.packets = this.ru();
    d.payloadBytes = this.ru();
    d.synFrame = this.rf();
    d.finFrame = this.rf();
    d.finSeq = (next - 1 + this.rs()) | 0;
    d.finAckedFrame = this.rf();
  }

  /** The rare fields of one direction whose bit is set in `r` (rareDir). */
  private putRareDir(b: Uint8Array, p: number, d: Direction, r: number): number {
    if (r & 1) p = wu(b, p, zz(d.dupacknum));
    if (r & 2) p = wu(b, p, d.lastsegflags);
    if (r & 4) p = wu(b, p, d.retransmissions);
    if (r & 8) p = wu(b, p, d.synRetransCount);
    if (r & 16) p = wu(b, p, d.finRetransCount);
    if (r & 32) p = wu(b, p, (d.synFirstRetrans ? 1 : 0) | (d.finFirstRetrans ? 2 : 0));
    if (r & 64) p = this.wf(b, p, d.rstFrame);
    return p;
  }

  private readRareDir(d: Direction, r: number): void {
    if (r & 1) d.dupacknum = this.rs();
    if (r & 2) d.lastsegflags = this.ru();
    if (r & 4) d.retransmissions = this.ru();
    if (r & 8) d.synRetransCount = this.ru();
    if (r & 16) d.finRetransCount = this.ru();
    if (r & 32) {
      const firsts = this.ru();
      d.synFirstRetrans = (firsts & 1) !== 0;
      d.finFirstRetrans = (firsts & 2) !== 0;
    }
    if (r & 64) d.rstFrame = this.rf();
  }

  /** Takes record `o` out of index slot `i` and marks it dead. */
  private unlink(i: number, o: number): void {
    const slots = this.slots;
    // A slot followed by an empty one ends every probe that reaches it: it may be emptied.
    if (slots[2 * ((i + 1) & this.smask)] === EMPTY) slots[2 * i] = EMPTY;
    else {
      slots[2 * i] = DELETED;
      this.deleted++;
    }
    this.dead += this.dv.getUint16(o + H.length, true);
    this.buf[o + H.flags] |= DEAD;
    this.count--;
  }

  /**
   * Makes room for one more record: when an eighth of the arena is dead (revived or released
   * records), slides the live records down in place and rebuilds the hash chains; else grows the
   * arena (offsets unchanged).
   */
  private makeRoom(): void {
    const used = this.end - 8;
    if (this.dead * 8 < used) {
      const ab = this.buf.buffer as ResizableBuffer;
      // Grown in place by an eighth (no copy, so small steps cost nothing and the arena stays
      // within about a quarter of its live bytes), else by half (a copy each time).
      const inPlace = this.buf.length + Math.max(this.buf.length >> 3, 1 << 20) + MAX_RECORD;
      if (ab.resizable && inPlace <= ab.maxByteLength) {
        // Grown in place: no copy, and no old and new arena alive at once.
        ab.resize(inPlace);
        this.buf = new Uint8Array(ab, 0, inPlace);
      } else {
        const grown = arena(this.buf.length + (this.buf.length >> 1) + MAX_RECORD);
        grown.set(this.buf.subarray(0, this.end));
        this.buf = grown;
      }
      this.dv = new DataView(this.buf.buffer, 0, this.buf.length);
      return;
    }
    this.compact();
  }

  /** Slides the live records down over the dead ones and rebuilds the index. */
  private compact(): void {
    const b = this.buf;
    const dv = this.dv;
    this.slots.fill(EMPTY);
    this.deleted = 0;
    // Runs of live records move with one copy each (a dead record ends a run).
    let w = 8;
    let run = 8;
    for (let o = 8; o < this.end; ) {
      const len = dv.getUint16(o + H.length, true);
      if ((b[o + H.flags] & DEAD) === 0) {
        this.insert(w + (o - run), dv.getUint32(o + H.hash, true));
      } else {
        if (w !== run) b.copyWithin(w, run, o);
        w += o - run;
        run = o + len;
      }
      o += len;
    }
    if (w !== run) b.copyWithin(w, run, this.end);
    w += this.end - run;
    this.end = w;
    this.dead = 0;
  }

  /** The index rebuilt with `size` slots (no DELETED ones left); the arena is not moved. */
  private reindex(size: number): void {
    const dv = this.dv;
    const b = this.buf;
    if (size !== this.smask + 1) {
      this.slots = new Uint32Array(2 * size);
      this.smask = size - 1;
    } else this.slots.fill(EMPTY);
    this.deleted = 0;
    for (let o = 8; o < this.end; o += dv.getUint16(o + H.length, true)) {
      if ((b[o + H.flags] & DEAD) === 0) this.insert(o, dv.getUint32(o + H.hash, true));
    }
  }

  // --- encoding ---------------------------------------------------------------------------

  /**
   * A frame number at p, as one varint code: 0 for 0 (unset); 2k + 1 for the k-th distinct frame
   * of this record (the first frame is the 0th: SYN, FIN and ACK frames of a connection repeat);
   * 2z for a new one, z the zigzag of its offset from the first frame (never 0 there).
   */
  private wf(b: Uint8Array, p: number, frame: number): number {
    if (frame === 0) {
      b[p] = 0;
      return p + 1;
    }
    const frames = this.frames;
    const n = this.nFrames;
    for (let k = 0; k < n; k++) if (frames[k] === frame) return wu(b, p, 2 * k + 1);
    if (n < FRAME_REFS) frames[this.nFrames++] = frame;
    return wu(b, p, 2 * zz(frame - frames[0]));
  }

  /**
   * The time tv[i] at p, as one varint code c: c = 0, then the raw double (8 bytes); c = 4k + 2:
   * the same as the k-th distinct time of this record; c = 4z + 1: integer nanoseconds, z the
   * zigzag of the difference from the previous such time in this record; c = 4z + 3: the same
   * difference when it is whole microseconds (pcap's usual resolution), z the zigzag of it in
   * microseconds. The nanosecond forms are used when the double is exactly
   * `seconds + ns * 1e-9` (how packet times are made, see packet-loop.ts; checked, not assumed)
   * and |x| < NS_RANGE (codes below 2^53).
   */
  private wt(b: Uint8Array, p: number, i: number): number {
    const x = this.tv[i];
    const times = this.times;
    const n = this.nTimes;
    for (let k = 0; k < n; k++) {
      if (times[k] === x && (x !== 0 || 1 / x > 0)) return wu(b, p, k * 4 + 2);
    }
    if (n < times.length) times[this.nTimes++] = x;
    if (x > -NS_RANGE && x < NS_RANGE && (x !== 0 || 1 / x > 0)) {
      const sec = Math.floor(x);
      const ns = sec * 1e9 + Math.round((x - sec) * 1e9);
      if (nsTime(ns) === x) {
        const d = ns - this.prevNs;
        this.prevNs = ns;
        if (d % 1000 === 0) return wu(b, p, zz(d / 1000) * 4 + 3);
        return wu(b, p, zz(d) * 4 + 1);
      }
    }
    b[p] = 0;
    this.dv.setFloat64(p + 1, x, true);
    return p + 9;
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
    return unzz(this.ru());
  }

  private rf(): number {
    const z = this.ru();
    if (z === 0) return 0;
    const frames = this.frames;
    if (z % 2 === 1) return frames[(z - 1) / 2];
    const frame = frames[0] + unzz(z / 2);
    if (this.nFrames < FRAME_REFS) frames[this.nFrames++] = frame;
    return frame;
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
      const z = unzz(q);
      const ns = this.prevNs + (kind === 3 ? z * 1000 : z);
      this.prevNs = ns;
      x = nsTime(ns);
    }
    if (this.nTimes < this.times.length) this.times[this.nTimes++] = x;
    this.tv[i] = x;
  }
}
