/**
 * TCP conversation tracker modelled on Wireshark 4.0's packet-tcp.c, so that stream numbers
 * equal `tcp.stream` and the retransmission flags equal `tcp.analysis.retransmission`:
 *
 * - A conversation is the unordered 4-tuple. Streams are numbered 0, 1, ... in the order their
 *   first packet appears. A pure SYN whose sequence number differs from the base sequence number
 *   already known for its direction starts a new conversation on the same 4-tuple, flagged
 *   `reused_ports` (Wireshark's port-reuse rule); every later packet belongs to the new one.
 * - Per direction, the flags are decided in Wireshark's order (tcp_analyze_sequence_number):
 *   zero-window probe, keep-alive, keep-alive ACK, zero-window-probe ACK, duplicate ACK, then
 *   for segments carrying data, SYN or FIN: keep-alives are never retransmissions; spurious
 *   (already acknowledged); if the sequence number does not advance: fast retransmission
 *   (≥ 2 duplicate ACKs within 20 ms), out-of-order (within the first RTT, 3 ms by default, and
 *   not ending where the highest segment ended), else retransmission.
 *
 * Differences, on purpose: the unacknowledged-segment list (10 000 entries max in Wireshark) is
 * not kept, so its cap is not modelled; IP fragments are not reassembled; a connection that is
 * closed and quiet for `closedLingerS` (or idle for `idleLingerS`) of capture time is released to
 * keep memory flat, so a straggler after that starts a new stream where Wireshark would not.
 *
 * One file (over 400 lines) on purpose: the flags are decided in one fixed order per packet, as
 * Wireshark does; that order reads top to bottom here and would be lost across files.
 */
import { ACK, FIN, RST, SYN, type Decoded } from './decode.js';
import { Conn, FRAME_CAP, NO_FRAMES, clientIsA as isClientA, type Direction, type StallPhase } from './connection.js';
import { TombStore, tombstoneable } from './tombstone.js';
import { resetConn } from './conn-reset.js';
import { REQUESTER_A, REQUESTER_B } from './payload-kind.js';

export const TA_RETRANSMISSION = 0x0001;
export const TA_FAST_RETRANSMISSION = 0x0002;
export const TA_SPURIOUS_RETRANSMISSION = 0x0004;
export const TA_OUT_OF_ORDER = 0x0008;
export const TA_KEEP_ALIVE = 0x0010;
export const TA_KEEP_ALIVE_ACK = 0x0020;
export const TA_ZERO_WINDOW_PROBE = 0x0040;
export const TA_ZERO_WINDOW_PROBE_ACK = 0x0080;
export const TA_DUPLICATE_ACK = 0x0100;
export const TA_REUSED_PORTS = 0x0200;
/** Everything tshark's `tcp.analysis.retransmission` matches. */
export const TA_ANY_RETRANSMISSION = TA_RETRANSMISSION | TA_FAST_RETRANSMISSION | TA_SPURIOUS_RETRANSMISSION;

export interface TrackerOptions {
  /** Gaps at least this long (seconds) are candidate stalls. */
  stallThresholdS: number;
  /** Called once per connection when it is released or at the end. */
  onFinished: (c: Conn) => void;
  closedLingerS?: number;
  idleLingerS?: number;
  /**
   * Called when a connection is cleanly finished (both FINs acknowledged, or a RST). Returning
   * true settles it: the caller has accounted for it as finished (it has nothing to report), so
   * the tracker keeps only a compact tombstone for the linger window and will not call
   * `onFinished` for it. Without this option every connection stays a full `Conn`.
   */
  onSettle?: (c: Conn) => boolean;
  /** A packet arrived for a settled connection: it is a full `Conn` again, finished later as usual. */
  onRevive?: (c: Conn) => void;
  /**
   * Reuse the `Conn` of a settled connection (its state is in the tombstone) for a later new
   * one. Only when nothing else keeps a reference to a `Conn` past `onSettle` and the packet it
   * settled on (analyse.ts: without the HTTP layer).
   */
  recycle?: boolean;
}

/** Settled `Conn` objects kept for reuse at most (a burst of settlements needs no more). */
const SPARE_MAX = 256;

const lt = (a: number, b: number): boolean => ((a - b) | 0) < 0;
const le = (a: number, b: number): boolean => ((a - b) | 0) <= 0;
const gt = (a: number, b: number): boolean => ((a - b) | 0) > 0;

function push(list: number[], v: number): void {
  if (list.length < FRAME_CAP) list.push(v);
}

/**
 * Longer than any TCP stack waits with a handshake or data unanswered (Linux gives up on a SYN after
 * about 127 s, tcp_syn_retries 6, and on unacknowledged data after about 15 min, tcp_retries2 15;
 * Windows far sooner): a gap this long in those phases is no stall but a capture whose timestamps
 * are not continuous (a clock step while capturing, captures merged from hosts whose clocks differ,
 * an edited file). Counted apart and said as a warning, never reported as a stall.
 */
export const MAX_WAIT_S = 1800;

export class Tracker {
  streams = 0;
  tcpPackets = 0;
  retransmissions = 0;
  resets = 0;
  reusedPorts = 0;
  live = 0;
  released = 0;
  /** Stream of the packet `process` saw last. */
  lastStream = -1;
  /** Connection of the packet `process` saw last (for the HTTP layer's payload hook). */
  lastConn: Conn | null = null;
  /** Whether the last packet went A→B (A: the lower address and port of its connection). */
  lastFromA = false;
  /** Most connections alive at once (memory high-water mark). */
  peakLive = 0;
  /** Gaps over MAX_WAIT_S inside connections waiting on the network (not stalls: see MAX_WAIT_S), and the longest. */
  clockJumps = 0;
  longestJump = { gapS: 0, stream: 0, fromFrame: 0, toFrame: 0 };

  /** Live connections chained by (hash & mask); grown 4x when they outnumber the slots twice. */
  private table: (Conn | null)[] = new Array<Conn | null>(4096).fill(null);
  private mask = 4095;
  private inTable = 0;
  /** Settled connections, compact until released (counted in `live`). */
  private readonly tombs = new TombStore();
  private readonly onSettle: ((c: Conn) => boolean) | undefined;
  private readonly onRevive: ((c: Conn) => void) | undefined;
  private readonly recycle: boolean;
  /** Settled connections' `Conn` objects, reset and reused by `create` (with `recycle`). */
  private readonly spare: Conn[] = [];
  private readonly stallS: number;
  private readonly onFinished: (c: Conn) => void;
  private readonly closedLingerS: number;
  private readonly idleLingerS: number;
  private lastSweep = 0;
  private sinceSweep = 0;

  constructor(opts: TrackerOptions) {
    this.stallS = opts.stallThresholdS;
    this.onFinished = opts.onFinished;
    this.closedLingerS = opts.closedLingerS ?? 240;
    this.idleLingerS = opts.idleLingerS ?? 3600;
    this.onSettle = opts.onSettle;
    this.onRevive = opts.onRevive;
    this.recycle = opts.recycle ?? false;
  }

  /** Analyses one TCP segment (already decoded in `p`); returns its analysis flags. */
  process(p: Decoded, frame: number): number {
    this.tcpPackets++;
    const t = p.t;
    // Canonical order: A is the lower (address, port) endpoint.
    let sIsA: boolean;
    if (p.s0 !== p.d0) sIsA = p.s0 >>> 0 < p.d0 >>> 0;
    else if (p.s1 !== p.d1) sIsA = p.s1 >>> 0 < p.d1 >>> 0;
    else if (p.s2 !== p.d2) sIsA = p.s2 >>> 0 < p.d2 >>> 0;
    else if (p.s3 !== p.d3) sIsA = p.s3 >>> 0 < p.d3 >>> 0;
    else sIsA = p.sport <= p.dport;
    let a0, a1, a2, a3, b0, b1, b2, b3, ap, bp;
    if (sIsA) {
      (a0 = p.s0), (a1 = p.s1), (a2 = p.s2), (a3 = p.s3), (ap = p.sport);
      (b0 = p.d0), (b1 = p.d1), (b2 = p.d2), (b3 = p.d3), (bp = p.dport);
    } else {
      (a0 = p.d0), (a1 = p.d1), (a2 = p.d2), (a3 = p.d3), (ap = p.dport);
      (b0 = p.s0), (b1 = p.s1), (b2 = p.s2), (b3 = p.s3), (bp = p.sport);
    }
    let h = Math.imul(a0 ^ (b0 >>> 7), 0x9e3779b1) ^ Math.imul(ap | (bp << 16), 0x85ebca6b);
    if (p.v6) h ^= Math.imul(a1 ^ a2 ^ a3, 0xc2b2ae35) ^ Math.imul(b1 ^ b2 ^ b3, 0x27d4eb2f);
    h = (h ^ (h >>> 15)) & 0x3fffffff;

    let c: Conn | null = this.table[h & this.mask];
    while (c !== null) {
      if (c.hash === h && c.a0 === a0 && c.b0 === b0 && c.ap === ap && c.bp === bp && c.v6 === p.v6 && c.a1 === a1 && c.a2 === a2 && c.a3 === a3 && c.b1 === b1 && c.b2 === b2 && c.b3 === b3) break;
      c = c.next;
    }
    const flags = p.flags;
    let ta = 0;
    if (c === null && this.tombs.count > 0) {
      const tombs = this.tombs;
      const o = tombs.find(h, p.v6, a0, a1, a2, a3, b0, b1, b2, b3, ap, bp);
      if (o !== 0) {
        if ((flags & (SYN | ACK)) === SYN && tombs.baseSet(o, sIsA) && (p.seq | 0) !== tombs.baseSeq(o, sIsA)) {
          // Port reuse on a settled connection: the same as below, without decoding the old one.
          const previousStream = tombs.stream(o);
          const previousLastTime = tombs.lastTime(o);
          const previousState = tombs.endedByRst(o) ? 'rst' : 'fin';
          tombs.remove(h, o);
          this.live--;
          c = this.create(h, p.v6, a0, a1, a2, a3, b0, b1, b2, b3, ap, bp, frame, p);
          c.reusedPorts = true;
          c.reusedFrame = frame;
          c.previousStream = previousStream;
          c.previousLastTime = previousLastTime;
          c.previousState = previousState;
          ta |= TA_REUSED_PORTS;
          this.reusedPorts++;
        } else {
          c = tombs.decode(o, h);
          tombs.remove(h, o);
          this.link(c);
          this.onRevive?.(c);
        }
      }
    }
    if (c === null) {
      c = this.create(h, p.v6, a0, a1, a2, a3, b0, b1, b2, b3, ap, bp, frame, p);
    } else if ((flags & (SYN | ACK)) === SYN) {
      const fwd0 = sIsA ? c.ab : c.ba;
      if (fwd0.baseSet && (p.seq | 0) !== fwd0.baseSeq) {
        // Port reuse: a new conversation on the same 4-tuple replaces the old one.
        const old = c;
        this.unlink(old);
        c = this.create(h, p.v6, a0, a1, a2, a3, b0, b1, b2, b3, ap, bp, frame, p);
        c.reusedPorts = true;
        c.reusedFrame = frame;
        c.previousStream = old.stream;
        c.previousLastTime = old.lastTime;
        c.previousState = old.ab.rstFrame || old.ba.rstFrame ? 'rst' : old.ab.finFrame || old.ba.finFrame ? 'fin' : 'open';
        ta |= TA_REUSED_PORTS;
        this.reusedPorts++;
        this.finish(old);
      }
    }
    this.lastStream = c.stream;
    this.lastConn = c;
    this.lastFromA = sIsA;
    const fwd = sIsA ? c.ab : c.ba;
    const rev = sIsA ? c.ba : c.ab;
    const seq = p.seq | 0;
    const ack = p.ack | 0;
    if (fwd.baseSet && (flags & SYN) !== 0 && seq !== fwd.baseSeq) {
      // A SYN/ACK with another ISN than the one known for its direction: Wireshark keeps the
      // conversation, takes the new base and flags it reused_ports (issue 16944).
      if (flags & ACK) {
        fwd.baseSeq = seq;
        ta |= TA_REUSED_PORTS;
      }
    } else if (fwd.baseSet && (flags & (SYN | ACK)) === SYN) {
      // The same SYN again: Wireshark restores nextseq from maxseqtobeacked first (a RST may
      // have moved it, issue 17616); the SYN is then flagged a retransmission.
      fwd.nextseq = fwd.maxseqtobeacked;
    }

    // Stall candidate: state at the start of the gap, before this packet changes it. The gap is
    // measured from the last packet that was not a keep-alive or its ACK (activeTime).
    let outstanding = false;
    let missed = false;
    let gap = c.packets > 0 ? t - c.activeTime : 0;
    if (gap >= this.stallS) {
      // Data one way that the other way has not acknowledged, judged only when the capture has seen
      // that other way acknowledge anything (a capture of one direction never shows the ACKs).
      outstanding = (c.ab.nextseq !== 0 && c.ba.lastack !== 0 && gt(c.ab.nextseq, c.ba.lastack)) || (c.ba.nextseq !== 0 && c.ab.lastack !== 0 && gt(c.ba.nextseq, c.ab.lastack));
      // The capture missed packets of this connection during the gap: this one starts past the next
      // byte expected its way (Wireshark's "previous segment not captured"), or acknowledges bytes the
      // other way never showed ("ACKed unseen segment"), or acknowledges anything while the capture
      // has shown no packet the other way at all (a capture of one direction, a SYN/ACK not captured).
      // Packets flowed; only the capture was quiet.
      missed =
        (fwd.nextseq !== 0 && (p.seglen > 0 || (flags & (SYN | FIN)) !== 0) && gt(seq, fwd.nextseq)) ||
        ((flags & ACK) !== 0 && (rev.nextseq === 0 || gt(ack, rev.nextseq)));
    }

    const wasEstablished = c.established;
    // SYN bookkeeping that Wireshark does while dissecting the flags (before the analysis).
    if (flags & SYN) {
      if (flags & ACK) {
        if (c.synAckFrame === 0) (c.synAckFrame = frame), (c.synAckTime = t);
        if (c.clientIsA < 0) c.clientIsA = sIsA ? 0 : 1;
      } else {
        c.mruSyn = t;
        c.mruSynSet = true;
        c.sawSyn = true;
        if (c.clientIsA < 0) c.clientIsA = sIsA ? 1 : 0;
      }
    } else if (flags & ACK) {
      c.established = true;
    }

    if (p.seglen >= 0) ta |= this.analyze(c, fwd, rev, p, frame);
    // Wireshark takes the first RTT after analysing the packet (dissect_tcp's flag handling).
    if ((flags & (SYN | ACK)) === ACK && c.mruSynSet && c.firstRtt === 0) c.firstRtt = t - c.mruSyn;

    // What the detectors need.
    fwd.packets++;
    if (p.seglen > 0) fwd.payloadBytes += p.seglen;
    const retrans = (ta & TA_ANY_RETRANSMISSION) !== 0;
    if (retrans) {
      fwd.retransmissions++;
      this.retransmissions++;
    }
    // A SYN or FIN is a retransmission when its sequence number says so (the flags above, as
    // Wireshark decides them), not because an earlier one was seen: in a capture that started
    // after the original, the first one seen may already be a retransmission.
    if ((flags & (SYN | ACK)) === SYN) {
      if (fwd.synFrame === 0) {
        fwd.synFrame = frame;
        fwd.synTime = t;
        fwd.synFirstRetrans = retrans;
      }
      if (retrans) {
        fwd.synRetransCount++;
        if (fwd.synRetransFrames === NO_FRAMES) (fwd.synRetransFrames = []), (fwd.synRetransTimes = []);
        push(fwd.synRetransFrames, frame);
        push(fwd.synRetransTimes, t);
      }
    }
    if (flags & FIN) {
      if (fwd.finFrame === 0) {
        fwd.finFrame = frame;
        fwd.finTime = t;
        fwd.finSeq = p.seglen > 0 ? (seq + p.seglen) | 0 : seq;
        fwd.finFirstRetrans = retrans;
      }
      if (retrans) {
        fwd.finRetransCount++;
        if (fwd.finRetransFrames === NO_FRAMES) (fwd.finRetransFrames = []), (fwd.finRetransTimes = []);
        push(fwd.finRetransFrames, frame);
        push(fwd.finRetransTimes, t);
      }
    }
    if (flags & ACK && rev.finFrame !== 0 && rev.finAckedFrame === 0 && gt(ack, rev.finSeq)) {
      rev.finAckedFrame = frame;
      rev.finAckedTime = t;
    }
    if (flags & RST) {
      this.resets++;
      if (fwd.rstFrame === 0) (fwd.rstFrame = frame), (fwd.rstTime = t);
    }

    // A keep-alive probe or its ACK neither ends a gap nor starts one (see activeTime).
    const keepAlive = (ta & (TA_KEEP_ALIVE | TA_KEEP_ALIVE_ACK)) !== 0 && c.packets > 0;
    if (keepAlive) gap = 0;
    if (gap >= this.stallS && !missed) {
      const fromA = sIsA ? 1 : 0;
      let phase: StallPhase | '' = '';
      if (c.sawSyn && !wasEstablished) phase = 'handshake';
      else if (retrans) phase = 'retransmission';
      else if (outstanding) phase = 'unacknowledged-data';
      // A late answer from the server side to the client's last payload, on a connection whose first
      // payload shows a protocol where the client asks and the server answers (HTTP/1.x, HTTP/2, TLS:
      // payload-kind.ts requesterOf). On any other protocol a side may speak on its own after a pause
      // (an OpenFlow echo request, a BGP keepalive), which is no wait. Past 30 s it is more likely a
      // server-initiated message after an idle period than a request still waiting.
      else if (p.seglen > 0 && gap < 30 && c.requester === (sIsA ? REQUESTER_B : REQUESTER_A) && sIsA !== isClientA(c) && c.lastPayloadFromA >= 0 && c.lastPayloadFromA !== fromA) phase = 'awaiting-response';
      // SYN and FIN retransmissions have findings of their own.
      const covered = retrans && ((flags & (SYN | ACK)) === SYN || (flags & FIN) !== 0);
      if (phase !== '' && gap > MAX_WAIT_S) {
        this.clockJumps++;
        const j = this.longestJump;
        if (gap > j.gapS) (j.gapS = gap), (j.stream = c.stream), (j.fromFrame = c.activeFrame), (j.toFrame = frame);
      } else if (phase !== '' && !covered) {
        c.stallCount++;
        if (gap > c.stallGap) {
          c.stallGap = gap;
          c.stallFromFrame = c.activeFrame;
          c.stallToFrame = frame;
          c.stallAt = c.activeTime - c.firstTime;
          c.stallPhase = phase;
          c.stallFromA = sIsA;
          c.stallKeepAlives = c.keepAlivesSinceActive;
        }
      }
    }
    if (!keepAlive) {
      if (p.seglen > 0) c.lastPayloadFromA = sIsA ? 1 : 0;
      c.activeFrame = frame;
      c.activeTime = t;
      c.keepAlivesSinceActive = 0;
    } else c.keepAlivesSinceActive++;
    c.packets++;
    c.lastFrame = frame;
    c.lastTime = t;
    // Cleanly finished and nothing to report: kept compact for the linger window.
    if ((c.ab.rstFrame !== 0 || c.ba.rstFrame !== 0 || (c.ab.finAckedFrame !== 0 && c.ba.finAckedFrame !== 0)) && this.onSettle !== undefined && tombstoneable(c) && this.onSettle(c)) {
      this.unlink(c);
      this.live++;
      this.tombs.put(c);
      if (this.recycle && this.spare.length < SPARE_MAX) this.spare.push(c);
    }

    if (++this.sinceSweep >= 65536) {
      this.sinceSweep = 0;
      if (t - this.lastSweep >= 10) this.sweep(t);
    }
    return ta;
  }

  private analyze(c: Conn, fwd: Direction, rev: Direction, p: Decoded, frame: number): number {
    const seq = p.seq | 0;
    const ack = p.ack | 0;
    const seglen = p.seglen;
    const flags = p.flags;
    const win = p.win;
    const t = p.t;
    let ta = 0;
    if (!fwd.baseSet) {
      fwd.baseSeq = flags & SYN ? seq : (seq - 1) | 0;
      fwd.baseSet = true;
    }
    if (!rev.baseSet && flags & ACK) {
      rev.baseSeq = (ack - 1) | 0;
      rev.baseSet = true;
    }
    const nextseq = fwd.nextseq;
    checks: {
      // Zero window probe: 1 byte at the next expected sequence number into a zero window.
      if (seglen === 1 && seq === nextseq && rev.window === 0) {
        ta |= TA_ZERO_WINDOW_PROBE;
        break checks;
      }
      const plain = (flags & (SYN | FIN | RST)) === 0;
      // Keep-alive: 0 or 1 byte, one byte before the next expected sequence number.
      if ((seglen === 0 || seglen === 1) && seq === ((nextseq - 1) | 0) && plain) ta |= TA_KEEP_ALIVE;
      if (seglen === 0 && win !== 0 && win === fwd.window && seq === nextseq && ack === fwd.lastack && rev.lastsegflags & TA_KEEP_ALIVE && plain) {
        ta |= TA_KEEP_ALIVE_ACK;
        break checks;
      }
      if (seglen === 0 && win === 0 && win === fwd.window && seq === nextseq && ack === fwd.lastack && rev.lastsegflags & TA_ZERO_WINDOW_PROBE && plain) {
        ta |= TA_ZERO_WINDOW_PROBE_ACK;
        break checks;
      }
      if (seglen === 0 && win !== 0 && win === fwd.window && seq === nextseq && ack === fwd.lastack && plain) {
        fwd.dupacknum = fwd.dupacknum === -1 ? 1 : fwd.dupacknum + 1;
        ta |= TA_DUPLICATE_ACK;
      }
    }
    if (ack !== fwd.lastack) {
      fwd.lastnondupack = frame;
      fwd.dupacknum = 0;
    }
    // An ACK beyond what the other way is known to have sent: a segment the capture missed.
    if (rev.maxseqtobeacked !== 0 && gt(ack, rev.maxseqtobeacked) && flags & ACK) {
      if (lt(rev.maxseqtobeacked, rev.nextseq)) rev.maxseqtobeacked = rev.nextseq;
      else rev.dupacknum = -1;
    }
    const synfin = (flags & (SYN | FIN)) !== 0;
    if ((seglen > 0 || synfin) && !(ta & TA_KEEP_ALIVE)) {
      let notAdvanced = nextseq !== 0 && lt(seq, nextseq);
      if (seglen > 1 && ((nextseq - 1) | 0) === seq) notAdvanced = false;
      if (seglen > 0 && rev.lastack !== 0 && le((seq + seglen) | 0, rev.lastack)) {
        ta |= TA_SPURIOUS_RETRANSMISSION;
      } else if (notAdvanced) {
        const sinceAck = t - rev.lastackTime;
        const sinceNext = t - fwd.nextseqTime;
        const ooo = c.firstRtt > 0 ? c.firstRtt : 0.003;
        if (rev.dupacknum >= 2 && rev.lastack === seq && sinceAck >= 0 && sinceAck < 0.02) ta |= TA_FAST_RETRANSMISSION;
        else if (sinceNext >= 0 && sinceNext < ooo && nextseq !== ((seq + seglen + (synfin ? 1 : 0)) | 0)) ta |= TA_OUT_OF_ORDER;
        else ta |= TA_RETRANSMISSION;
      }
    }
    let nxt = (seq + seglen) | 0;
    if (synfin) nxt = (nxt + 1) | 0;
    if ((gt(nxt, nextseq) || nextseq === 0) && !(ta & TA_ZERO_WINDOW_PROBE)) {
      fwd.nextseq = nxt;
      fwd.nextseqFrame = frame;
      fwd.nextseqTime = t;
    }
    if ((seq === fwd.maxseqtobeacked || fwd.maxseqtobeacked === 0) && !(ta & TA_ZERO_WINDOW_PROBE)) fwd.maxseqtobeacked = fwd.nextseq;
    fwd.window = win;
    fwd.lastack = ack;
    fwd.lastackTime = t;
    fwd.lastsegflags = ta;
    return ta;
  }

  /**
   * The time is read from `p`, not passed: a double argument to a call that is not inlined is
   * boxed, and at the port-reuse call site that cost about 300 bytes of garbage per connection
   * (13 MB on the 1 M-packet bench capture, measured with the sampling heap profiler).
   */
  private create(h: number, v6: boolean, a0: number, a1: number, a2: number, a3: number, b0: number, b1: number, b2: number, b3: number, ap: number, bp: number, frame: number, p: Decoded): Conn {
    // A recycled Conn saves about 1.1 KB of garbage per connection (a Conn, two Directions and
    // the boxes of their time fields).
    const c = this.spare.length > 0 ? resetConn(this.spare.pop()!) : new Conn();
    c.hash = h;
    c.v6 = v6;
    (c.a0 = a0), (c.a1 = a1), (c.a2 = a2), (c.a3 = a3), (c.ap = ap);
    (c.b0 = b0), (c.b1 = b1), (c.b2 = b2), (c.b3 = b3), (c.bp = bp);
    c.stream = this.streams++;
    c.firstFrame = frame;
    c.firstTime = p.t;
    this.link(c);
    this.live++;
    if (this.live > this.peakLive) this.peakLive = this.live;
    return c;
  }

  private link(c: Conn): void {
    const i = c.hash & this.mask;
    c.next = this.table[i];
    this.table[i] = c;
    if (++this.inTable > 2 * this.table.length) this.grow();
  }

  private grow(): void {
    const old = this.table;
    this.table = new Array<Conn | null>(old.length * 4).fill(null);
    this.mask = this.table.length - 1;
    for (let head of old) {
      while (head !== null) {
        const next = head.next;
        const i = head.hash & this.mask;
        head.next = this.table[i];
        this.table[i] = head;
        head = next;
      }
    }
  }

  private unlink(c: Conn): void {
    const i = c.hash & this.mask;
    const head = this.table[i];
    if (head === c) this.table[i] = c.next;
    else {
      let x = head;
      while (x !== null && x.next !== c) x = x.next;
      if (x !== null) x.next = c.next;
    }
    this.inTable--;
    c.next = null;
    this.live--;
  }

  private finish(c: Conn): void {
    this.onFinished(c);
  }

  /** Releases connections that are closed and quiet, or idle for long, as of capture time `now`. */
  sweep(now: number): void {
    this.lastSweep = now;
    const done: Conn[] = [];
    for (const head of this.table) {
      for (let c: Conn | null = head; c; c = c.next) {
        const quiet = now - c.lastTime;
        const closed = c.ab.rstFrame !== 0 || c.ba.rstFrame !== 0 || (c.ab.finFrame !== 0 && c.ba.finFrame !== 0);
        if ((closed && quiet > this.closedLingerS) || quiet > this.idleLingerS) done.push(c);
      }
    }
    // Settled connections are closed: released like closed ones (their findings were none).
    const settled = this.tombs.expire(now, Math.min(this.closedLingerS, this.idleLingerS));
    this.live -= settled;
    this.released += settled;
    // Release in stream order so that findings come out in a stable order.
    done.sort((x, y) => x.stream - y.stream);
    for (const c of done) {
      this.unlink(c);
      this.released++;
      this.finish(c);
    }
  }

  /** End of input: every connection still tracked is finished, in stream order. */
  flush(): void {
    const all: Conn[] = [];
    for (const head of this.table) for (let c: Conn | null = head; c; c = c.next) all.push(c);
    this.table.fill(null);
    this.inTable = 0;
    this.tombs.clear();
    this.live = 0;
    all.sort((x, y) => x.stream - y.stream);
    for (const c of all) this.finish(c);
  }
}
