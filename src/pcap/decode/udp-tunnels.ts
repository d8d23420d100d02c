/**
 * Tunnels carried in UDP, by well-known port as Wireshark registers them (the lower port is
 * tried first, then the higher): VXLAN 4789, Geneve 6081, GTP-U 2152, MPLS-over-UDP 6635.
 * L2TP (1701), VXLAN-GPE (4790) and Linux's default VXLAN port 8472 (which Wireshark does not
 * open by default) are recognised and counted by name, not opened.
 */
import { SKIP_BASE, TRUNCATED, UDP } from './outcomes.js';
import { ipv4, ipv6 } from './ip.js';
import type { Decoded } from './decoded.js';
import { E_GENEVE, E_GTPU, E_VXLAN, MAX_DEPTH, S_L2TP, S_TOO_DEEP, S_UDP_8472, S_VXLAN_GPE } from './encapsulations.js';
import { etherPayload, ethernet } from './ether.js';
import { mpls } from './mpls.js';

/** A UDP datagram at p: a tunnel's inner packet, or UDP. */
export function udp(b: Buffer, p: number, end: number, out: Decoded, depth: number): number {
  if (p + 8 > end) return UDP;
  // A length below the header's own (0 under GSO/BIG TCP) is bogus to Wireshark, which stops there.
  if (((b[p + 4] << 8) | b[p + 5]) < 8) return UDP;
  const sport = (b[p] << 8) | b[p + 1];
  const dport = (b[p + 2] << 8) | b[p + 3];
  const lo = sport < dport ? sport : dport;
  const hi = sport < dport ? dport : sport;
  const r = byPort(b, p + 8, end, out, depth, lo);
  // Wireshark tries the lower port first; a well-known lower port is some other protocol.
  return r !== UDP || lo < 1024 ? r : byPort(b, p + 8, end, out, depth, hi);
}

function byPort(b: Buffer, p: number, end: number, out: Decoded, depth: number, port: number): number {
  switch (port) {
    case 4789:
      if (depth > MAX_DEPTH) return SKIP_BASE + S_TOO_DEEP;
      if (p + 8 > end) return TRUNCATED;
      out.opened(E_VXLAN);
      return ethernet(b, p + 8, end, out, depth + 1);
    case 6081:
      return geneve(b, p, end, out, depth);
    case 2152:
      return gtpu(b, p, end, out, depth);
    case 6635:
      return mpls(b, p, end, out, depth + 1);
    case 1701:
      return SKIP_BASE + S_L2TP;
    case 4790:
      return SKIP_BASE + S_VXLAN_GPE;
    case 8472:
      return SKIP_BASE + S_UDP_8472;
    default:
      return UDP;
  }
}

/** Geneve (RFC 8926): 8 bytes, options, then the payload by its ethertype (0x6558 is Ethernet). */
function geneve(b: Buffer, p: number, end: number, out: Decoded, depth: number): number {
  if (depth > MAX_DEPTH) return SKIP_BASE + S_TOO_DEEP;
  if (p + 8 > end) return TRUNCATED;
  if (b[p] >> 6 !== 0) return UDP; // unknown version
  out.opened(E_GENEVE);
  const q = p + 8 + (b[p] & 0x3f) * 4;
  const proto = (b[p + 2] << 8) | b[p + 3];
  if (q > end) return TRUNCATED;
  if (proto === 0x6558) return ethernet(b, q, end, out, depth + 1);
  return etherPayload(b, q, end, out, proto, depth + 1);
}

/** GTP-U version 1: a G-PDU (type 255) carries an IP packet after the header and its extensions. */
function gtpu(b: Buffer, p: number, end: number, out: Decoded, depth: number): number {
  if (depth > MAX_DEPTH) return SKIP_BASE + S_TOO_DEEP;
  if (p + 8 > end) return UDP;
  const flags = b[p];
  if (flags >> 5 !== 1 || !(flags & 0x10) || b[p + 1] !== 0xff) return UDP;
  out.opened(E_GTPU);
  let q = p + 8;
  if (flags & 0x07) {
    if (q + 4 > end) return TRUNCATED;
    let next = b[q + 3];
    q += 4;
    for (let i = 0; next !== 0 && i < 16; i++) {
      if (q + 1 > end) return TRUNCATED;
      const len = b[q] * 4;
      if (len === 0 || q + len > end) return TRUNCATED;
      next = b[q + len - 1];
      q += len;
    }
  }
  if (q >= end) return TRUNCATED;
  const v = b[q] >> 4;
  if (v === 4) return ipv4(b, q, end, out, depth + 1);
  if (v === 6) return ipv6(b, q, end, out, depth + 1);
  return UDP;
}
