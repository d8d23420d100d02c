/**
 * Ethernet payloads past plain IPv4/IPv6 (the hot path in decode.ts handles those itself):
 * 802.1Q/802.1ad tags, MPLS, PPPoE session, PBB (802.1ah), 802.2 LLC/SNAP, and the inner
 * Ethernet frame of tunnels (VXLAN, Geneve, GRE transparent bridging, ERSPAN, MPLS pseudowires).
 */
import { NON_IP, SKIP_BASE, TRUNCATED } from './outcomes.js';
import { carried, ipv4, ipv6 } from './ip.js';
import type { Decoded } from './decoded.js';
import { E_LLC_SNAP, E_PBB, E_PPPOE, MAX_DEPTH, S_CISCO_METADATA, S_MACSEC, S_NSH, S_TOO_DEEP, S_VN_TAG } from './encapsulations.js';

/** An Ethernet header at p (no FCS expected; IP lengths bound the payload anyway). */
export function ethernet(b: Buffer, p: number, end: number, out: Decoded, depth: number): number {
  if (depth > MAX_DEPTH) return SKIP_BASE + S_TOO_DEEP;
  if (p + 14 > end) return TRUNCATED;
  return etherPayload(b, p + 14, end, out, (b[p + 12] << 8) | b[p + 13], depth);
}

/**
 * The payload at p of an Ethernet-style header with type/length `etype` (Ethernet, SLL, tags).
 * A value up to 1500 is an 802.3 length: an 802.2 LLC header follows (as does SLL's 0x0004).
 */
export function etherPayload(b: Buffer, p: number, end: number, out: Decoded, etype: number, depth: number): number {
  for (let i = 0; i < 16; i++) {
    switch (etype) {
      case 0x0800:
        return ipv4(b, p, end, out, depth);
      case 0x86dd:
        return ipv6(b, p, end, out, depth);
      case 0x8100:
      case 0x88a8:
      case 0x9100:
        if (p + 4 > end) return TRUNCATED;
        etype = (b[p + 2] << 8) | b[p + 3];
        p += 4;
        continue;
      case 0x8847:
      case 0x8848:
        return carried.mpls(b, p, end, out, depth + 1);
      case 0x8864: {
        // PPPoE session: ver/type, code, session id, length, then the PPP protocol.
        if (p + 8 > end) return TRUNCATED;
        out.opened(E_PPPOE);
        return pppPayload(b, p + 6, end, out, depth + 1);
      }
      case 0x88e7:
        // PBB: I-TAG (4 bytes), then the customer destination, source and type.
        if (p + 18 > end) return TRUNCATED;
        out.opened(E_PBB);
        etype = (b[p + 16] << 8) | b[p + 17];
        p += 18;
        depth++;
        continue;
      case 0x88e5:
        return SKIP_BASE + S_MACSEC;
      case 0x894f:
        return SKIP_BASE + S_NSH;
      case 0x8926:
      case 0x893f:
        return SKIP_BASE + S_VN_TAG;
      case 0x8909:
        return SKIP_BASE + S_CISCO_METADATA;
      default:
        if (etype <= 1500) return llc(b, p, end, out, depth);
        return NON_IP;
    }
  }
  return SKIP_BASE + S_TOO_DEEP;
}

/** 802.2 LLC: SNAP with the zero OUI carries an ethertype; SAP 0x06 is IPv4. */
function llc(b: Buffer, p: number, end: number, out: Decoded, depth: number): number {
  if (p + 3 > end) return TRUNCATED;
  const dsap = b[p];
  const ssap = b[p + 1];
  if (dsap === 0xaa && (ssap & 0xfe) === 0xaa && b[p + 2] === 0x03) {
    if (p + 8 > end) return TRUNCATED;
    const oui = (b[p + 3] << 16) | (b[p + 4] << 8) | b[p + 5];
    // OUI 0 (RFC 1042) and 00-00-F8 (Cisco's "90-compatible") carry an ethertype.
    if (oui !== 0 && oui !== 0xf8) return NON_IP;
    const etype = (b[p + 6] << 8) | b[p + 7];
    if (etype <= 1500) return NON_IP;
    out.opened(E_LLC_SNAP);
    return etherPayload(b, p + 8, end, out, etype, depth + 1);
  }
  if (dsap === 0x06 && ssap === 0x06) {
    out.opened(E_LLC_SNAP);
    return ipv4(b, p + 3, end, out, depth + 1);
  }
  return NON_IP;
}

/**
 * A PPP protocol field at p (after PPPoE, the PPP link type or PPTP's GRE): 0x0021 IPv4,
 * 0x0057 IPv6, 0x0281/0x0283 MPLS; a one-byte (compressed, odd) field is accepted too.
 */
export function pppPayload(b: Buffer, p: number, end: number, out: Decoded, depth: number): number {
  if (p + 1 > end) return TRUNCATED;
  let proto = b[p];
  if (proto & 1) p += 1;
  else {
    if (p + 2 > end) return TRUNCATED;
    proto = (proto << 8) | b[p + 1];
    p += 2;
  }
  if (proto === 0x21) return p < end ? ipv4(b, p, end, out, depth) : TRUNCATED;
  if (proto === 0x57) return p < end ? ipv6(b, p, end, out, depth) : TRUNCATED;
  if (proto === 0x281 || proto === 0x283) return carried.mpls(b, p, end, out, depth + 1);
  return NON_IP;
}
