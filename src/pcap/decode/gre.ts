/**
 * GRE (RFC 2784/2890, and version 1 as PPTP uses it): optional checksum, key, sequence number,
 * acknowledgement and source routes are skipped; the payload is opened by its protocol type:
 * IPv4, IPv6, WCCP redirection (0x883e), transparent Ethernet bridging (0x6558), ERSPAN type I/II (0x88be: type II when the
 * GRE sequence number is present, as Wireshark decides) and III (0x22eb), MPLS, PPP (PPTP).
 */
import { SKIP_BASE, TRUNCATED } from './outcomes.js';
import { ipv4, ipv6 } from './ip.js';
import type { Decoded } from './decoded.js';
import { E_ERSPAN_I, E_ERSPAN_II, E_ERSPAN_III, E_GRE, E_GRE_ETH, E_PPTP, MAX_DEPTH, S_GRE, S_TOO_DEEP } from './encapsulations.js';
import { ethernet, pppPayload } from './ether.js';
import { mpls } from './mpls.js';

const C = 0x8000;
const R = 0x4000;
const K = 0x2000;
const S = 0x1000;
const A = 0x0080;

export function gre(b: Buffer, p: number, end: number, out: Decoded, depth: number): number {
  if (depth > MAX_DEPTH) return SKIP_BASE + S_TOO_DEEP;
  if (p + 4 > end) return TRUNCATED;
  out.opened(E_GRE);
  const flags = (b[p] << 8) | b[p + 1];
  const proto = (b[p + 2] << 8) | b[p + 3];
  const version = flags & 7;
  if (version > 1) return SKIP_BASE + S_GRE;
  let q = p + 4;
  if (flags & (C | R)) q += 4;
  if (flags & K) q += 4;
  if (flags & S) q += 4;
  if (version === 1 && flags & A) q += 4;
  if (flags & R) {
    // Source route entries until the null one (address family 0, length 0).
    for (let i = 0; ; i++) {
      if (q + 4 > end || i > 64) return TRUNCATED;
      const af = (b[q] << 8) | b[q + 1];
      const len = b[q + 3];
      q += 4 + len;
      if (af === 0 && len === 0) break;
    }
  }
  if (q > end) return TRUNCATED;
  switch (proto) {
    case 0x0800:
      return q < end ? ipv4(b, q, end, out, depth) : TRUNCATED;
    case 0x86dd:
      return q < end ? ipv6(b, q, end, out, depth) : TRUNCATED;
    case 0x6558:
      out.opened(E_GRE_ETH);
      return ethernet(b, q, end, out, depth + 1);
    case 0x88be:
      if (!(flags & S)) {
        out.opened(E_ERSPAN_I);
        return ethernet(b, q, end, out, depth + 1);
      }
      return erspan(b, q, end, out, depth);
    case 0x22eb:
      return erspan(b, q, end, out, depth);
    case 0x8847:
    case 0x8848:
      return mpls(b, q, end, out, depth + 1);
    case 0x883e:
      // WCCP redirect: version 2 adds a 4-byte header; Wireshark skips it unless IPv4 follows at once.
      if (q < end && b[q] >> 4 !== 4) q += 4;
      return q < end ? ipv4(b, q, end, out, depth) : TRUNCATED;
    case 0x880b: {
      // PPTP: PPP in GRE version 1, address and control (0xff 0x03) may be present.
      out.opened(E_PPTP);
      if (q + 2 <= end && b[q] === 0xff && b[q + 1] === 0x03) q += 2;
      return pppPayload(b, q, end, out, depth + 1);
    }
    default:
      return SKIP_BASE + S_GRE;
  }
}

/** ERSPAN header by its version field: 1 is type II (8 bytes), 2 type III (12, +8 with the O bit). */
function erspan(b: Buffer, p: number, end: number, out: Decoded, depth: number): number {
  if (p + 8 > end) return TRUNCATED;
  const version = b[p] >> 4;
  if (version === 1) {
    out.opened(E_ERSPAN_II);
    return ethernet(b, p + 8, end, out, depth + 1);
  }
  if (version === 2) {
    if (p + 12 > end) return TRUNCATED;
    out.opened(E_ERSPAN_III);
    const ft = (b[p + 10] >> 2) & 0x1f;
    const q = p + 12 + (b[p + 11] & 1 ? 8 : 0);
    if (ft !== 0) return SKIP_BASE + S_GRE; // frame type other than Ethernet
    return ethernet(b, q, end, out, depth + 1);
  }
  return SKIP_BASE + S_GRE;
}
