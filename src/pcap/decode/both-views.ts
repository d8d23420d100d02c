/**
 * The same TCP segment captured twice, once inside a tunnel and once outside it: tcpdump -i any
 * on a tunnel endpoint sees each segment on the tunnel device (plain) and on the underlay
 * (encapsulated); a director forwarding IP-in-IP sees it arrive plain and leave encapsulated.
 * Wireshark keys a TCP conversation on addresses and ports only, so it flags every second copy
 * as a retransmission. Here a segment is a copy when one of the last SLOTS TCP segments, seen
 * through the other view (plain vs tunnelled) and not yet paired, has the same fingerprint
 * (addresses, ports, seq, ack, flags, TCP length); the copy is not tracked. A genuine
 * retransmission is seen again in the same view, so it is never taken for a copy.
 * Plain captures pay one fingerprint and one store per TCP segment; the search runs only once a
 * tunnelled segment has been seen.
 */
/** The fields of a decoded TCP segment the fingerprint reads (decode/decoded.ts's Decoded, which holds a BothViews). */
interface Segment {
  s0: number;
  d0: number;
  s3: number;
  d3: number;
  sport: number;
  dport: number;
  seq: number;
  ack: number;
  flags: number;
  seglen: number;
}

const SLOTS = 32;

export class BothViews {
  private readonly prints = new Int32Array(SLOTS);
  /** Per slot: 1 plain, 2 tunnelled, 0 empty or already paired. */
  private readonly views = new Uint8Array(SLOTS);
  private next = 0;
  private sawTunnel = false;
  /** Copies found (not tracked). */
  copies = 0;

  /** True when the segment in `d` is the other view's copy of a recent segment. */
  isCopy(d: Segment, tunnelled: boolean): boolean {
    const f = (d.s0 ^ Math.imul(d.d0, 31) ^ d.s3 ^ Math.imul(d.d3, 7) ^ Math.imul((d.sport << 16) | d.dport, 13) ^ d.seq ^ Math.imul(d.ack, 17) ^ (d.flags << 24) ^ Math.imul(d.seglen, 5)) | 0;
    const view = tunnelled ? 2 : 1;
    if (tunnelled) this.sawTunnel = true;
    if (this.sawTunnel) {
      const other = 3 - view;
      for (let i = 0; i < SLOTS; i++) {
        if (this.views[i] === other && this.prints[i] === f) {
          this.views[i] = 0;
          this.copies++;
          return true;
        }
      }
    }
    const n = this.next;
    this.prints[n] = f;
    this.views[n] = view;
    this.next = n + 1 === SLOTS ? 0 : n + 1;
    return false;
  }
}
