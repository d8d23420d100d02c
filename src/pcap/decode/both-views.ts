/**
 * Recognises a capture that holds the same TCP segments both inside a tunnel and outside it
 * (tcpdump -i any on a tunnel endpoint sees each inbound segment on the underlay, encapsulated,
 * then on the tunnel device, plain). Wireshark, and lbdiag with it, key a TCP conversation on
 * addresses and ports only, so the second copy counts as a retransmission; the summary warns.
 * Only tunnelled segments are remembered (the last 16), so captures without tunnels pay nothing.
 */
import type { Decoded } from '../decode.js';

const SLOTS = 16;

export class BothViews {
  private readonly prints = new Int32Array(SLOTS);
  private next = 0;
  private filled = 0;
  /** Plain TCP segments that repeat one of the last tunnelled segments. */
  copies = 0;

  private static print(d: Decoded): number {
    return (d.s0 ^ Math.imul(d.d0, 31) ^ d.s3 ^ Math.imul(d.d3, 7) ^ Math.imul((d.sport << 16) | d.dport, 13) ^ d.seq ^ Math.imul(d.ack, 17) ^ (d.flags << 24) ^ d.seglen) | 0;
  }

  tunnelled(d: Decoded): void {
    this.prints[this.next] = BothViews.print(d);
    this.next = (this.next + 1) % SLOTS;
    if (this.filled < SLOTS) this.filled++;
  }

  plain(d: Decoded): void {
    if (this.filled === 0) return;
    const f = BothViews.print(d);
    for (let i = 0; i < this.filled; i++) {
      if (this.prints[i] === f) {
        this.copies++;
        return;
      }
    }
  }
}
