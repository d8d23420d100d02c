import { NON_IP, TCP, TRUNCATED, UNKNOWN_LINK, CAPTURED_TWICE } from './decode/outcomes.js';
import type { Decoded } from './decode/decoded.js';
import { carried, ipv4, ipv6, u32 } from './decode/ip.js';
import { etherPayload, ethernet, pppPayload } from './decode/ether.js';
import { gre } from './decode/gre.js';
import { mpls } from './decode/mpls.js';
import { nflog } from './decode/nflog.js';
import { udp } from './decode/udp-tunnels.js';

export * from './decode/outcomes.js';
export { Decoded, FIN, SYN, RST, ACK } from './decode/decoded.js';

/**
 * Link layer → IPv4/IPv6 → TCP, decoded into one reusable scratch object (decode/decoded.ts, no
 * allocation per packet). `decode` returns TCP (0) when the TCP header is in `out`, otherwise the
 * reason the packet was not analysed (decode/outcomes.ts); unknown content is counted by the
 * caller, never fatal. This file reads the link layers; IPv4/IPv6 → TCP (the hot path) is in
 * decode/ip.ts; everything else (tags past the first, MPLS, PPPoE, PBB, LLC/SNAP, GRE/ERSPAN, UDP
 * tunnels, NFLOG) is in decode/, reached only from the branches plain IP does not take.
 */

// The encapsulations call back into ipv4()/ipv6() and one another; decode/ip.ts reaches them
// through this table so that no decoder file imports one that imports it back.
carried.udp = udp;
carried.gre = gre;
carried.mpls = mpls;
carried.ethernet = ethernet;

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

