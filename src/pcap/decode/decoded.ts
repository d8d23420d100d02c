/** The scratch object one packet is decoded into (reused for every packet: no allocation per packet). */
import { OPENED } from './encapsulations.js';
import { BothViews } from './both-views.js';

export class Decoded {
  v6 = false;
  /** Addresses as 32-bit words; IPv4 uses only s0/d0. */
  s0 = 0;
  s1 = 0;
  s2 = 0;
  s3 = 0;
  d0 = 0;
  d1 = 0;
  d2 = 0;
  d3 = 0;
  sport = 0;
  dport = 0;
  seq = 0;
  ack = 0;
  /** TCP flags byte (FIN 1, SYN 2, RST 4, PSH 8, ACK 16, ...). */
  flags = 0;
  win = 0;
  /** TCP payload length as the IP header reports it (Wireshark's tcp.len); -1 when unknown. */
  seglen = 0;
  /** Packets per opened encapsulation layer (index: OPENED in decode/encapsulations.ts). */
  readonly encapsulations = new Float64Array(OPENED.length);
  /** Set while the current packet's IP packet was reached through an encapsulation. */
  tunnelled = false;
  /** The same segments seen inside and outside a tunnel (see decode/both-views.ts). */
  readonly bothViews = new BothViews();
  opened(layer: number): void {
    this.encapsulations[layer]++;
    this.tunnelled = true;
  }
  /** Offset of the TCP payload in the record's buffer (read by the HTTP layer). */
  poff = 0;
  /** Capture time in seconds (set by the caller; kept here so the hot path passes no boxed doubles). */
  t = 0.5;
  /**
   * End of the bytes the frame reports (its length on the wire, which a snap length may have cut
   * from the capture), narrowed to each IP datagram on the way in: Wireshark's reported length.
   */
  rend = 0;
}

export const FIN = 0x01;
export const SYN = 0x02;
export const RST = 0x04;
export const ACK = 0x10;
