/**
 * IPv4/IPv6 → TCP, the per-packet hot path (link layers are read in decode.ts). What IP carries
 * besides TCP (UDP tunnels, GRE, MPLS, EtherIP) is decoded in the files next to this one, which
 * call back into ipv4()/ipv6() for the packet they carry: that mutual recursion goes through
 * `carried`, which decode.ts fills once at load, so no file imports one that imports it back
 * (test/layout.test.ts demands zero import cycles). Only the cold branches (not plain TCP) use it.
 */
import { BAD_IP, BAD_TCP, FRAGMENT, ICMP, OTHER_IP, SKIP_BASE, TCP, TRUNCATED } from './outcomes.js';
import { E_ETHERIP, E_IPIP, S_L2TP } from './encapsulations.js';
import type { Decoded } from './decoded.js';

/** A decoder of one layer at p; returns an outcome code (decode/outcomes.ts). */
export type LayerDecoder = (b: Buffer, p: number, end: number, out: Decoded, depth: number) => number;

const unset: LayerDecoder = () => {
  throw new Error('pcap decoders not registered: import src/pcap/decode.ts, which fills decode/ip.ts carried');
};

/** The decoders of the layers IP and Ethernet carry, set by decode.ts (see the header comment). */
export const carried: { udp: LayerDecoder; gre: LayerDecoder; mpls: LayerDecoder; ethernet: LayerDecoder } = {
  udp: unset,
  gre: unset,
  mpls: unset,
  ethernet: unset,
};

/** Big-endian u32 without Buffer's argument checks (hot path). */
export function u32(b: Buffer, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

export function ipv4(b: Buffer, p: number, end: number, out: Decoded, depth: number): number {
  if (p + 20 > end) return TRUNCATED;
  const vihl = b[p];
  if (vihl >> 4 !== 4) return BAD_IP;
  const ihl = (vihl & 15) * 4;
  if (ihl < 20) return BAD_IP;
  if (p + ihl > end) return TRUNCATED;
  let total = (b[p + 2] << 8) | b[p + 3];
  // As Wireshark: a zero total length is what TSO-offloaded packets show (the frame's length is
  // used); one shorter than the header is bogus; one longer than the frame is not trusted (the
  // bytes the frame reports are used), so a fuzzed length cannot make a segment longer than it is.
  const avail = out.rend - p;
  if (total === 0) total = avail;
  if (total < ihl) return BAD_IP;
  if (total > avail) total = avail;
  out.rend = p + total;
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

export function ipv6(b: Buffer, p: number, end: number, out: Decoded, depth: number): number {
  if (p + 40 > end) return TRUNCATED;
  if (b[p] >> 4 !== 6) return BAD_IP;
  let payLen = (b[p + 4] << 8) | b[p + 5];
  let next = b[p + 6];
  const hdr = p;
  let q = p + 40;
  const avail = out.rend - q;
  // As Wireshark 4.0 (its IPv6 TSO preference is off by default): a zero payload length is a
  // jumbogram's when a hop-by-hop jumbo option says so, else the datagram is empty (Wireshark
  // marks the TCP inside malformed and does not analyse it); one longer than the frame is not
  // trusted (the bytes the frame reports are used).
  if (payLen === 0 && next !== 59) {
    payLen = next === 0 ? jumboLength(b, q, end) : 0;
    if (payLen === 0) return BAD_IP;
  }
  if (payLen > avail) payLen = avail;
  out.rend = q + payLen;
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

/** The jumbo payload length option (RFC 2675, above 65535) of the hop-by-hop header at `q`, or 0; as Wireshark reads it. */
function jumboLength(b: Buffer, q: number, end: number): number {
  if (q + 2 > end) return 0;
  const stop = q + (b[q + 1] + 1) * 8;
  for (let o = q + 2; o < stop && o + 6 <= end; ) {
    const type = b[o];
    if (type === 0) {
      o++;
      continue;
    }
    if (type === 0xc2 && b[o + 1] === 4) {
      const n = u32(b, o + 2);
      return n > 0xffff ? n : 0;
    }
    o += 2 + b[o + 1];
  }
  return 0;
}

function other(b: Buffer, p: number, end: number, out: Decoded, proto: number, depth: number): number {
  if (proto === 17) return carried.udp(b, p, end, out, depth + 1);
  if (proto === 1 || proto === 58) return ICMP;
  // IP-in-IP and IPv6-in-IP: decoded once, as Wireshark does.
  if ((proto === 4 || proto === 41) && depth < 2) {
    if (p >= end) return TRUNCATED;
    out.opened(E_IPIP);
    return proto === 4 ? ipv4(b, p, end, out, depth + 1) : ipv6(b, p, end, out, depth + 1);
  }
  if (proto === 47) return carried.gre(b, p, end, out, depth + 1);
  if (proto === 137) return carried.mpls(b, p, end, out, depth + 1);
  if (proto === 97) {
    // EtherIP (RFC 3378): a 2-byte header, then an Ethernet frame.
    if (p + 2 > end) return TRUNCATED;
    out.opened(E_ETHERIP);
    return carried.ethernet(b, p + 2, end, out, depth + 1);
  }
  if (proto === 115) return SKIP_BASE + S_L2TP;
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
