/**
 * The per-packet hot loop: capture record → decode → TCP tracker, plus the capture-wide counters.
 * `run` takes records from one reader synchronously until its buffered input is used up or
 * (several inputs) its next record is later than the runner-up input's, so the merge heap is
 * touched once per run of packets, not once per packet. Counters live in locals inside the loop
 * and are written back when it returns.
 */
import { PACKET, type CaptureReader } from './reader.js';
import { Decoded, OUTCOME_NAMES, TCP, UNKNOWN_LINK, decode } from './decode.js';
import type { Tracker } from './tracker.js';
import type { DetectorContext } from './detectors/context.js';
import type { Conn } from './connection.js';
import { REQUESTER_UNKNOWN, requesterOf } from './payload-kind.js';

/** HTTP payload hook (src/pcap/http/front.ts): segments with payload, FIN or RST, after the tracker. */
export interface PayloadHook {
  segment(c: Conn, p: Decoded, buf: Buffer, poff: number, end: number, frame: number): void;
  /** `run` returns: the reader's buffer may change before the next call. */
  flush(): void;
}

/** True when a's current record comes before b's (ties: the earlier input, like mergecap). */
export function earlier(a: CaptureReader, ai: number, b: CaptureReader, bi: number): boolean {
  if (a.sec !== b.sec) return a.sec < b.sec;
  if (a.nsec !== b.nsec) return a.nsec < b.nsec;
  return ai < bi;
}

export class PacketLoop {
  frame = 0;
  bytes = 0;
  captured = 0;
  /** Capture time origin (seconds of the first record); -1 before any record. */
  baseSec = -1;
  firstSec = 0;
  firstNsec = 0;
  lastSec = 0;
  lastNsec = 0;
  minT = Infinity;
  maxT = -Infinity;
  readonly outcomes = new Float64Array(OUTCOME_NAMES.length);
  readonly linkCounts = new Map<number, number>();
  readonly unknownLinks = new Map<number, number>();
  private curLink = -1;
  private curLinkCount = 0;
  /** The scratch decode object; it also counts the encapsulation layers opened. */
  readonly dec = new Decoded();

  constructor(
    private readonly tracker: Tracker,
    private readonly ctx: DetectorContext,
    private readonly onTcp: ((frame: number, stream: number, flags: number) => void) | undefined,
    private readonly payload: PayloadHook | null = null,
  ) {}

  /**
   * Analyses r's current record and the following ones while they are not later than `bound`'s
   * current record (null: no other input). Returns true when r holds a record that is later than
   * `bound`'s, false when r needs more input. A corrupt record throws from `r.next()` after the
   * records before it were counted.
   */
  run(r: CaptureReader, index: number, bound: CaptureReader | null, boundIndex: number): boolean {
    const tracker = this.tracker;
    const dec = this.dec;
    const outcomes = this.outcomes;
    const onTcp = this.onTcp;
    const payload = this.payload;
    let frame = this.frame;
    let bytes = this.bytes;
    let captured = this.captured;
    let curLink = this.curLink;
    let curLinkCount = this.curLinkCount;
    let ready = false;
    try {
      if (this.baseSec < 0) {
        this.baseSec = r.sec;
        this.firstSec = r.sec;
        this.firstNsec = r.nsec;
        this.ctx.origin = r.nsec * 1e-9;
      }
      const baseSec = this.baseSec;
      for (;;) {
        frame++;
        bytes += r.origlen;
        captured += r.caplen;
        const sec = r.sec;
        const nsec = r.nsec;
        const t = sec - baseSec + nsec * 1e-9;
        // On the object, not in locals: a double local that the finally block reads is boxed,
        // and maxT changes on almost every packet (one HeapNumber per packet, 16 MB per million).
        if (t < this.minT) (this.minT = t), (this.firstSec = sec), (this.firstNsec = nsec);
        if (t > this.maxT) (this.maxT = t), (this.lastSec = sec), (this.lastNsec = nsec);
        const link = r.linkType;
        if (link !== curLink) {
          if (curLink >= 0) this.linkCounts.set(curLink, (this.linkCounts.get(curLink) ?? 0) + curLinkCount);
          curLink = link;
          curLinkCount = 0;
        }
        curLinkCount++;
        const out = decode(r.buf, r.offset, r.caplen, link, dec, r.origlen);
        outcomes[out]++;
        if (out === TCP) {
          dec.t = t;
          const ta = tracker.process(dec, frame);
          // Which side asks, from the connection's first payload (the tracker's stall phases use it).
          if (dec.seglen > 0 && tracker.lastConn!.requester === REQUESTER_UNKNOWN) {
            tracker.lastConn!.requester = requesterOf(r.buf, dec.poff, Math.min(r.offset + r.caplen, dec.poff + dec.seglen), tracker.lastFromA);
          }
          if (onTcp !== undefined) onTcp(frame, tracker.lastStream, ta);
          // HTTP layer hook: payload, FIN or RST only.
          if (payload !== null && (dec.seglen > 0 || (dec.flags & 0x05) !== 0)) payload.segment(tracker.lastConn!, dec, r.buf, dec.poff, r.offset + r.caplen, frame);
        } else if (out === UNKNOWN_LINK) this.unknownLinks.set(link, (this.unknownLinks.get(link) ?? 0) + 1);
        if (r.next() !== PACKET) break;
        if (bound !== null && !earlier(r, index, bound, boundIndex)) {
          ready = true;
          break;
        }
      }
    } finally {
      if (payload !== null) payload.flush();
      this.frame = frame;
      this.bytes = bytes;
      this.captured = captured;
      this.curLink = curLink;
      this.curLinkCount = curLinkCount;
    }
    return ready;
  }

  /** Link-type counts including the run in progress. */
  links(): Map<number, number> {
    if (this.curLink >= 0) {
      this.linkCounts.set(this.curLink, (this.linkCounts.get(this.curLink) ?? 0) + this.curLinkCount);
      this.curLinkCount = 0;
    }
    return this.linkCounts;
  }
}
