import { OPENED, SKIPPED, E_IPIP, E_ETHERIP, S_L2TP } from './decode/encapsulations.js';
import { etherPayload, ethernet, pppPayload } from './decode/ether.js';
import { gre } from './decode/gre.js';
import { mpls } from './decode/mpls.js';
import { nflog } from './decode/nflog.js';
import { udp } from './decode/udp-tunnels.js';
import { BothViews } from './decode/both-views.js';

/**
 * Link layer → IPv4/IPv6 → TCP, decoded into one reusable scratch object (no allocation per
 * packet). `decode` returns TCP (0) when the TCP header is in `out`, otherwise the reason the
 * packet was not analysed; unknown content is counted by the caller, never fatal.
 * Plain Ethernet/SLL/raw → IPv4/IPv6 → TCP stays in this file (the hot path); everything else
 * (tags past the first, MPLS, PPPoE, PBB, LLC/SNAP, GRE/ERSPAN, UDP tunnels, NFLOG) is in
 * decode/, reached only from the branches plain IP does not take.
 *
 * Over 400 lines with the link-layer table: the encapsulations already live in decode/; what stays
 * is the per-packet link → IP → TCP path and the outcome codes (see test/layout.test.ts for the
 * decode.ts ↔ decode/ cycle and its fix).
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
/** An encapsulation recognised but not opened: SKIP_BASE + index in SKIPPED (decode/encapsulations.ts). */
export const SKIP_BASE = 10;
/** A TCP segment already seen through the other view of a tunnel (decode/both-views.ts). */
export const CAPTURED_TWICE = SKIP_BASE + SKIPPED.length;

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
  ...SKIPPED.map((n) => `unsupported-encapsulation:${n}`),
  'tcp-captured-twice',
];

export const LINK_NAMES: Record<number, string> = {
  0: 'null',
  1: 'ethernet',
  12: 'raw',
  14: 'raw',
  101: 'raw',
  108: 'loop',
  9: 'ppp',
  50: 'ppp-hdlc',
  104: 'cisco-hdlc',
  113: 'linux-sll',
  228: 'ipv4',
  229: 'ipv6',
  239: 'nflog',
  242: 'ipoib',
  276: 'linux-sll2',
};

export function linkName(t: number): string {
  return LINK_NAMES[t] ?? UNSUPPORTED_LINK_NAMES[t] ?? `linktype-${t}`;
}

/** Names of link types that are not decoded, for the summary (LINKTYPE_* names in lower case). */
const UNSUPPORTED_LINK_NAMES: Record<number, string> = {
  3: 'ax25',
  6: 'ieee802-5',
  7: 'arcnet-bsd',
  8: 'slip',
  10: 'fddi',
  105: 'ieee802-11',
  107: 'frame-relay',
  117: 'pflog',
  119: 'prism-header',
  122: 'ip-over-fc',
  127: 'ieee802-11-radiotap',
  129: 'arcnet-linux',
  138: 'apple-ip-over-ieee1394',
  139: 'mtp2-with-phdr',
  140: 'mtp2',
  141: 'mtp3',
  143: 'docsis',
  163: 'ieee802-11-avs',
  165: 'bacnet-ms-tp',
  166: 'ppp-pppd',
  177: 'linux-lapd',
  178: 'juniper-ether',
  183: 'juniper-ppp',
  187: 'bluetooth-hci-h4',
  189: 'usb-linux',
  192: 'ppi',
  195: 'ieee802-15-4',
  197: 'erf',
  201: 'bluetooth-hci-h4-with-phdr',
  209: 'ipmb-linux',
  215: 'ieee802-15-4-nonask-phy',
  220: 'usb-linux-mmapped',
  227: 'can-socketcan',
  230: 'ieee802-15-4-nofcs',
  231: 'dbus',
  235: 'dvb-ci',
  240: 'netanalyzer',
  247: 'ipnet',
  249: 'usbpcap',
  251: 'bluetooth-le-ll',
  253: 'netlink',
  254: 'bluetooth-linux-monitor',
  256: 'bluetooth-le-ll-with-phdr',
  263: 'profibus-dl',
  264: 'pktap',
  274: 'ieee802-15-4-tap',
  279: 'nordic-ble',
  281: 'sdlc',
  283: 'loratap',
  285: 'vsock',
  288: 'ebhscr',
  289: 'vpp-dispatch',
  290: 'dsa-tag-brcm',
  292: 'dsa-tag-dsa',
  294: 'dsa-tag-edsa',
  297: 'zwave-r1-r2',
};

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

/** Big-endian u32 without Buffer's argument checks (hot path). */
function u32(b: Buffer, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) >>> 0;
}

const ETH_IPV4 = 0x0800;
const ETH_IPV6 = 0x86dd;

/**
 * Decodes one frame of `caplen` captured bytes at `off`; `wirelen` is its length on the wire (the
 * record's original length; never taken as less than what was captured).
 */
export function decode(b: Buffer, off: number, caplen: number, linkType: number, out: Decoded, wirelen = caplen): number {
  out.tunnelled = false;
  out.rend = off + (wirelen > caplen ? wirelen : caplen);
  const r = decodeLink(b, off, caplen, linkType, out);
  if (r === TCP && out.bothViews.isCopy(out, out.tunnelled)) return CAPTURED_TWICE;
  return r;
}

function decodeLink(b: Buffer, off: number, caplen: number, linkType: number, out: Decoded): number {
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
      if (v === 4) etype = ETH_IPV4;
      else if (v === 6) etype = ETH_IPV6;
      else return NON_IP;
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
      if (fam === 2) etype = ETH_IPV4;
      else if (fam === 24 || fam === 28 || fam === 30) etype = ETH_IPV6;
      else return NON_IP;
      break;
    }
    case 239:
      return nflog(b, p, end, out);
    case 9:
    case 50:
      // PPP, with or without the HDLC-like address and control bytes.
      if (caplen >= 2 && b[p] === 0xff && b[p + 1] === 0x03) p += 2;
      return pppPayload(b, p, end, out, 0);
    case 104:
      // Cisco HDLC: address, control, ethertype.
      if (caplen < 4) return TRUNCATED;
      etype = (b[p + 2] << 8) | b[p + 3];
      p += 4;
      break;
    case 242: {
      // IP over InfiniBand: ethertype and 2 reserved bytes (RFC 4391), after the 40-byte
      // address pseudo-header Linux adds (taken when the short form does not hold IP).
      if (caplen < 4) return TRUNCATED;
      etype = (b[p] << 8) | b[p + 1];
      if (etype !== ETH_IPV4 && etype !== ETH_IPV6 && caplen >= 44) {
        etype = (b[p + 40] << 8) | b[p + 41];
        p += 40;
      }
      p += 4;
      break;
    }
    default:
      return UNKNOWN_LINK;
  }
  if (etype === ETH_IPV4) return ipv4(b, p, end, out, 0);
  if (etype === ETH_IPV6) return ipv6(b, p, end, out, 0);
  return etherPayload(b, p, end, out, etype, 0);
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
  if (proto === 17) return udp(b, p, end, out, depth + 1);
  if (proto === 1 || proto === 58) return ICMP;
  // IP-in-IP and IPv6-in-IP: decoded once, as Wireshark does.
  if ((proto === 4 || proto === 41) && depth < 2) {
    if (p >= end) return TRUNCATED;
    out.opened(E_IPIP);
    return proto === 4 ? ipv4(b, p, end, out, depth + 1) : ipv6(b, p, end, out, depth + 1);
  }
  if (proto === 47) return gre(b, p, end, out, depth + 1);
  if (proto === 137) return mpls(b, p, end, out, depth + 1);
  if (proto === 97) {
    // EtherIP (RFC 3378): a 2-byte header, then an Ethernet frame.
    if (p + 2 > end) return TRUNCATED;
    out.opened(E_ETHERIP);
    return ethernet(b, p + 2, end, out, depth + 1);
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
