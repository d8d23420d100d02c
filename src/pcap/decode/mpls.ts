/**
 * MPLS (RFC 3032) as Wireshark 4.0's packet-mpls.c reads it: labels up to the bottom of the
 * stack, then the payload by its first nibble: 4 is IPv4 (an Ethernet pseudowire only when the
 * total length does not match the bytes left and an Ethernet header with an IP type is there),
 * 6 likewise IPv6, 0 an Ethernet pseudowire with or without
 * the RFC 4385 control word, 1 (PW-ACH) and the GAL label 13 are not opened.
 */
import { SKIP_BASE, TRUNCATED } from './outcomes.js';
import { ipv4, ipv6 } from './ip.js';
import type { Decoded } from './decoded.js';
import { E_MPLS, E_MPLS_PW_ETH, MAX_DEPTH, S_MPLS_PAYLOAD, S_TOO_DEEP } from './encapsulations.js';
import { ethernet } from './ether.js';

export function mpls(b: Buffer, p: number, end: number, out: Decoded, depth: number): number {
  if (depth > MAX_DEPTH) return SKIP_BASE + S_TOO_DEEP;
  out.opened(E_MPLS);
  for (;;) {
    if (p + 4 > end) return TRUNCATED;
    const label = (b[p] << 12) | (b[p + 1] << 4) | (b[p + 2] >> 4);
    const bos = b[p + 2] & 1;
    p += 4;
    if (bos) {
      if (label === 13) return SKIP_BASE + S_MPLS_PAYLOAD; // GAL: generic associated channel
      break;
    }
  }
  if (p >= end) return TRUNCATED;
  const rem = end - p;
  switch (b[p] >> 4) {
    case 4: {
      // Wireshark 4.0 takes a first nibble 4 as IPv4 whatever follows; later versions check the
      // total length first and otherwise try an Ethernet pseudowire. Here: IPv4 unless the length
      // does not match and the bytes do hold an Ethernet frame with an IP type.
      const len = rem >= 4 ? (b[p + 2] << 8) | b[p + 3] : 0;
      if (!(len >= rem - 4 && len <= rem) && looksLikeEthernet(b, p, end)) return pwEthernet(b, p, end, out, depth);
      return ipv4(b, p, end, out, depth);
    }
    case 6: {
      const len = rem >= 6 ? ((b[p + 4] << 8) | b[p + 5]) + 40 : 0;
      if (!(len >= rem - 4 && len <= rem) && looksLikeEthernet(b, p, end)) return pwEthernet(b, p, end, out, depth);
      return ipv6(b, p, end, out, depth);
    }
    case 0:
      return pwEthernet(b, p, end, out, depth);
    default:
      return SKIP_BASE + S_MPLS_PAYLOAD;
  }
}

const isIpType = (t: number): boolean => t === 0x0800 || t === 0x86dd || t === 0x8100 || t === 0x88a8;
const looksLikeEthernet = (b: Buffer, p: number, end: number): boolean => p + 14 <= end && isIpType((b[p + 12] << 8) | b[p + 13]);

/**
 * An Ethernet pseudowire (RFC 4448). Wireshark guesses the control word from the manufacturer
 * database (no word when either address has a known OUI); lacking that database, the word is
 * taken as present when the frame after it, and not the frame without it, has an IP or VLAN type.
 */
function pwEthernet(b: Buffer, p: number, end: number, out: Decoded, depth: number): number {
  if (b[p] >> 4 === 0 && p + 18 <= end && isIpType((b[p + 16] << 8) | b[p + 17]) && !(p + 14 <= end && isIpType((b[p + 12] << 8) | b[p + 13]))) {
    out.opened(E_MPLS_PW_ETH);
    return ethernet(b, p + 4, end, out, depth + 1);
  }
  if (p + 14 <= end && isIpType((b[p + 12] << 8) | b[p + 13])) {
    out.opened(E_MPLS_PW_ETH);
    return ethernet(b, p, end, out, depth + 1);
  }
  return SKIP_BASE + S_MPLS_PAYLOAD;
}
