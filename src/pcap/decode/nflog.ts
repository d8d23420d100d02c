/**
 * Linux NFLOG link type (239, `tcpdump -i nflog:N`): address family, version, group, then TLVs
 * in the capturing host's byte order (length includes the 4-byte TLV header, padded to 4 bytes);
 * the payload TLV (type 9) holds the IP packet.
 */
import { SKIP_BASE, TRUNCATED } from './outcomes.js';
import { ipv4, ipv6 } from './ip.js';
import type { Decoded } from './decoded.js';
import { E_NFLOG, S_NFLOG_PAYLOAD } from './encapsulations.js';

export function nflog(b: Buffer, p: number, end: number, out: Decoded): number {
  if (p + 4 > end) return TRUNCATED;
  out.opened(E_NFLOG);
  const family = b[p];
  let q = p + 4;
  // Byte order: the first TLV's length read both ways; the plausible one wins (little-endian first).
  let le = true;
  if (q + 4 <= end) {
    const l = b[q] | (b[q + 1] << 8);
    if (l < 4 || q + l > end) le = false;
  }
  for (let i = 0; i < 64 && q + 4 <= end; i++) {
    const len = le ? b[q] | (b[q + 1] << 8) : (b[q] << 8) | b[q + 1];
    const type = (le ? b[q + 2] | (b[q + 3] << 8) : (b[q + 2] << 8) | b[q + 3]) & 0x7fff;
    if (len < 4) return TRUNCATED;
    if (type === 9) {
      const s = q + 4;
      const e = Math.min(end, q + len);
      if (s >= e) return TRUNCATED;
      if (family === 2) return ipv4(b, s, e, out, 1);
      if (family === 10) return ipv6(b, s, e, out, 1);
      const v = b[s] >> 4;
      return v === 4 ? ipv4(b, s, e, out, 1) : v === 6 ? ipv6(b, s, e, out, 1) : SKIP_BASE + S_NFLOG_PAYLOAD;
    }
    q += (len + 3) & ~3;
  }
  return SKIP_BASE + S_NFLOG_PAYLOAD;
}
