/**
 * What the decoder made of a packet: TCP (0) when the TCP header is in the Decoded scratch object,
 * otherwise the reason the packet was not analysed (counted by name in the summary).
 */
import { SKIPPED } from './encapsulations.js';

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
