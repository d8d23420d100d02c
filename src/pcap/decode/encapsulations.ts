/**
 * Names of the encapsulations the decoder opens (counted per packet and layer in
 * `Decoded.encapsulations`) and of those it recognises but does not open (outcome codes, counted
 * under `summary.skipped` by name). Kept apart from the decoders so the summary and the decoders
 * agree on one list.
 */

/** Layers the decoder opens; index = counter slot in `Decoded.encapsulations`. */
export const OPENED = [
  'ip-in-ip',
  'mpls',
  'mpls-pw-ethernet',
  'pppoe',
  'pbb',
  'llc-snap',
  'gre',
  'gre-ethernet',
  'erspan-i',
  'erspan-ii',
  'erspan-iii',
  'pptp-ppp',
  'vxlan',
  'geneve',
  'gtp-u',
  'nflog',
  'etherip',
] as const;

export const E_IPIP = 0;
export const E_MPLS = 1;
export const E_MPLS_PW_ETH = 2;
export const E_PPPOE = 3;
export const E_PBB = 4;
export const E_LLC_SNAP = 5;
export const E_GRE = 6;
export const E_GRE_ETH = 7;
export const E_ERSPAN_I = 8;
export const E_ERSPAN_II = 9;
export const E_ERSPAN_III = 10;
export const E_PPTP = 11;
export const E_VXLAN = 12;
export const E_GENEVE = 13;
export const E_GTPU = 14;
export const E_NFLOG = 15;
export const E_ETHERIP = 16;

/**
 * Encapsulations recognised but not opened: a packet stopping at one of these is counted under
 * `skipped` as `unsupported-encapsulation:<name>` (outcome code = SKIP_BASE + index).
 */
export const SKIPPED = [
  'gre', // GRE with a payload type, version or routing we do not open
  'mpls-payload', // MPLS whose payload is neither IP nor an Ethernet pseudowire (PW-ACH, GAL, other)
  'l2tp', // UDP port 1701, and IP protocol 115 (L2TPv3)
  'vxlan-gpe', // UDP port 4790
  'udp-8472', // Linux's default VXLAN port (also OTV): Wireshark does not open it by default
  'macsec', // ethertype 0x88e5 (usually encrypted)
  'nsh', // network service header, ethertype 0x894f
  'vn-tag', // Cisco VN-Tag 0x8926 / 802.1BR E-tag 0x893f
  'cisco-metadata', // ethertype 0x8909
  'nflog-payload', // an NFLOG record without a payload TLV, or of another family
  'too-deep', // more than 8 nested encapsulations
] as const;

export const S_GRE = 0;
export const S_MPLS_PAYLOAD = 1;
export const S_L2TP = 2;
export const S_VXLAN_GPE = 3;
export const S_UDP_8472 = 4;
export const S_MACSEC = 5;
export const S_NSH = 6;
export const S_VN_TAG = 7;
export const S_CISCO_METADATA = 8;
export const S_NFLOG_PAYLOAD = 9;
export const S_TOO_DEEP = 10;

/** Nested encapsulations opened at most (a packet deeper than this is counted as too-deep). */
export const MAX_DEPTH = 8;
