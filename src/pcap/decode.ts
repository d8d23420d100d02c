/**
 * Link layer → IPv4/IPv6 → TCP, decoded into one reusable scratch object (no allocation per
 * packet). `decode` returns TCP (0) when the TCP header is in `out`, otherwise the reason the
 * packet was not analysed; unknown content is counted by the caller, never fatal.
 */

export const TCP = 0;
export const UDP = 1;
export const ICMP = 2;
export const OTHER_IP = 3;
export const NON_IP = 4;
export const UNKNOWN_LINK = 5;
export const TRUNCATED = 6;
export const FRAGMENT = 7;
export const BAD_IP = 8;
export const BAD_TCP = 9;
export const TUNNEL = 10;

/** Names used in the summary, indexed by the codes above. */
export const OUTCOME_NAMES = [
  'tcp',
  'udp',
  'icmp',
  'other-ip-protocol',
  'non-ip',
  'unsupported-link-type',
  'truncated',
  'ip-fragment',
  'bad-ip-header',
  'bad-tcp-header',
  'unsupported-tunnel',
] as const;

export const LINK_NAMES: Record<number, string> = {
  0: 'null',
  1: 'ethernet',
  12: 'raw',
  14: 'raw',
  101: 'raw',
  108: 'loop',
  113: 'linux-sll',
  228: 'ipv4',
  229: 'ipv6',
  276: 'linux-sll2',
};

export function linkName(t: number): string {
  return LINK_NAMES[t] ?? `linktype-${t}`;
}

export function isSupportedLink(t: number): boolean {
  return LINK_NAMES[t] !== undefined;
}

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
  /** Offset of the TCP payload in the record's buffer (read by the HTTP layer). */
  poff = 0;
  /** Capture time in seconds (set by the caller; kept here so the hot path passes no boxed doubles). */
  t = 0.5;
}

export const FIN = 0x01;
export const SYN = 0x02;
export const RST = 0x04;
export const ACK = 0x10;

/** Big-endian u32 without Buffer's argument checks (hot path). */
function u32(b: Buffer, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

const ETH_IPV4 = 0x0800;
const ETH_IPV6 = 0x86dd;

/** Decodes one frame. `end` is the offset just past the captured bytes. */
export function decode(b: Buffer, off: number, caplen: number, linkType: number, out: Decoded): number {
  const end = off + caplen;
  let etype = 0;
  let p = off;
  switch (linkType) {
    case 1: {
      if (caplen < 14) return TRUNCATED;
      etype = (b[p + 12] << 8) | b[p + 13];
      p += 14;
      // 802.1Q, 802.1ad (QinQ) and the old 0x9100 tag, any depth.
      while (etype === 0x8100 || etype === 0x88a8 || etype === 0x9100) {
        if (p + 4 > end) return TRUNCATED;
        etype = (b[p + 2] << 8) | b[p + 3];
        p += 4;
      }
      break;
    }
    case 113:
      if (caplen < 16) return TRUNCATED;
      etype = (b[p + 14] << 8) | b[p + 15];
      p += 16;
      break;
    case 276:
      if (caplen < 20) return TRUNCATED;
      etype = (b[p] << 8) | b[p + 1];
      p += 20;
      break;
    case 12:
    case 14:
    case 101: {
      if (caplen < 1) return TRUNCATED;
      const v = b[p] >> 4;
      etype = v === 4 ? ETH_IPV4 : v === 6 ? ETH_IPV6 : 0;
      break;
    }
    case 228:
      etype = ETH_IPV4;
      break;
    case 229:
      etype = ETH_IPV6;
      break;
    case 0:
    case 108: {
      if (caplen < 4) return TRUNCATED;
      let fam: number;
      if (linkType === 108) fam = u32(b, p);
      else {
        fam = b.readUInt32LE(p);
        if (fam & 0xffff0000) fam = u32(b, p);
      }
      p += 4;
      etype = fam === 2 ? ETH_IPV4 : fam === 24 || fam === 28 || fam === 30 ? ETH_IPV6 : 0;
      break;
    }
    default:
      return UNKNOWN_LINK;
  }
  if (etype === ETH_IPV4) return ipv4(b, p, end, out, 0);
  if (etype === ETH_IPV6) return ipv6(b, p, end, out, 0);
  return NON_IP;
}

function ipv4(b: Buffer, p: number, end: number, out: Decoded, depth: number): number {
  if (p + 20 > end) return TRUNCATED;
  const vihl = b[p];
  if (vihl >> 4 !== 4) return BAD_IP;
  const ihl = (vihl & 15) * 4;
  if (ihl < 20) return BAD_IP;
  if (p + ihl > end) return TRUNCATED;
  let total = (b[p + 2] << 8) | b[p + 3];
  // A zero total length is what TSO-offloaded packets show: use what was captured.
  if (total === 0) total = end - p;
  if (total < ihl) return BAD_IP;
  const frag = ((b[p + 6] << 8) | b[p + 7]) & 0x3fff;
  const proto = b[p + 9];
  if (frag !== 0) return FRAGMENT;
  const pay = p + ihl;
  const payLen = total - ihl;
  if (proto === 6) {
    out.v6 = false;
    out.s0 = u32(b, p + 12);
    out.d0 = u32(b, p + 16);
    out.s1 = out.s2 = out.s3 = out.d1 = out.d2 = out.d3 = 0;
    return tcp(b, pay, end, payLen, out);
  }
  return other(b, pay, end, out, proto, depth);
}

function ipv6(b: Buffer, p: number, end: number, out: Decoded, depth: number): number {
  if (p + 40 > end) return TRUNCATED;
  if (b[p] >> 4 !== 6) return BAD_IP;
  let payLen = (b[p + 4] << 8) | b[p + 5];
  let next = b[p + 6];
  const hdr = p;
  let q = p + 40;
  if (payLen === 0) payLen = end - q; // jumbogram or TSO: use what was captured
  let left = payLen;
  // Extension headers: hop-by-hop, routing, destination options, fragment, AH, mobility, HIP, shim6.
  for (let i = 0; i < 16; i++) {
    if (next === 0 || next === 43 || next === 60 || next === 135 || next === 139 || next === 140) {
      if (q + 2 > end) return TRUNCATED;
      const len = (b[q + 1] + 1) * 8;
      next = b[q];
      q += len;
      left -= len;
    } else if (next === 44) {
      if (q + 8 > end) return TRUNCATED;
      const fo = ((b[q + 2] << 8) | b[q + 3]) & 0xfff9;
      if (fo !== 0) return FRAGMENT; // offset or more-fragments set; atomic fragments pass
      next = b[q];
      q += 8;
      left -= 8;
    } else if (next === 51) {
      if (q + 2 > end) return TRUNCATED;
      const len = (b[q + 1] + 2) * 4;
      next = b[q];
      q += len;
      left -= len;
    } else break;
    if (left < 0) return BAD_IP;
  }
  if (next === 6) {
    out.v6 = true;
    out.s0 = u32(b, hdr + 8);
    out.s1 = u32(b, hdr + 12);
    out.s2 = u32(b, hdr + 16);
    out.s3 = u32(b, hdr + 20);
    out.d0 = u32(b, hdr + 24);
    out.d1 = u32(b, hdr + 28);
    out.d2 = u32(b, hdr + 32);
    out.d3 = u32(b, hdr + 36);
    return tcp(b, q, end, left, out);
  }
  return other(b, q, end, out, next, depth);
}

function other(b: Buffer, p: number, end: number, out: Decoded, proto: number, depth: number): number {
  if (proto === 17) return UDP;
  if (proto === 1 || proto === 58) return ICMP;
  // IP-in-IP and IPv6-in-IP: decoded once, as Wireshark does.
  if ((proto === 4 || proto === 41) && depth < 2) {
    if (p >= end) return TRUNCATED;
    return proto === 4 ? ipv4(b, p, end, out, depth + 1) : ipv6(b, p, end, out, depth + 1);
  }
  if (proto === 47) return TUNNEL;
  return OTHER_IP;
}

function tcp(b: Buffer, p: number, end: number, len: number, out: Decoded): number {
  if (p + 20 > end) return TRUNCATED;
  const hlen = (b[p + 12] >> 4) * 4;
  if (hlen < 20) return BAD_TCP;
  out.sport = (b[p] << 8) | b[p + 1];
  out.dport = (b[p + 2] << 8) | b[p + 3];
  out.seq = u32(b, p + 4);
  out.ack = u32(b, p + 8);
  out.flags = b[p + 13];
  out.win = (b[p + 14] << 8) | b[p + 15];
  // Shorter than its own header: Wireshark still numbers the stream but skips the analysis.
  out.seglen = len >= hlen ? len - hlen : -1;
  out.poff = p + hlen;
  return TCP;
}
