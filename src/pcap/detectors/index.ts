/** The detectors, run once per finished connection, in a fixed order. */
import type { Detector as CoreDetector } from '../../core/detector.js';
import type { Finding } from '../../core/finding.js';
import type { Conn } from '../connection.js';
import type { DetectorContext } from './context.js';
import { detectFinRetransmit } from './fin-retransmit.js';
import { detectStall } from './stall.js';
import { detectSynPortReuseDrop } from './syn-port-reuse-drop.js';
import { detectSynRetransmit } from './syn-retransmit.js';

/** The core detector shape (src/core/detector.ts) on one finished connection: one finding or none. */
export type Detector = CoreDetector<Conn, DetectorContext, Finding | null>;

export const DETECTORS: readonly Detector[] = [detectFinRetransmit, detectSynPortReuseDrop, detectSynRetransmit, detectStall];

/** The ids the TCP detectors above can raise (what a clean capture was checked for). */
export const PCAP_FINDING_IDS = ['fin-retransmit', 'syn-port-reuse-drop', 'syn-retransmit', 'tcp-stall'] as const;
