/**
 * `lbdiag pcap`'s analysis of one file with every packet's (frame, stream, analysis flags)
 * recorded, for tests that compare two ways of running it (compact records on and off, Conn reuse
 * on and off). A file the reader refuses gives its one-line error instead; any other error throws.
 */
import { analyse, type AnalysisResult } from '../../src/pcap/analyse.js';
import { isUsageError } from '../../src/core/errors.js';

export interface PerFrameRun {
  /** frame, stream, flags of each TCP packet, in order. */
  perFrame: number[];
  res: AnalysisResult | null;
  error: string | null;
}

export async function analysePerFrame(file: string, opts: { compactRecords: boolean; http?: boolean }): Promise<PerFrameRun> {
  const perFrame: number[] = [];
  try {
    const res = await analyse([file], { stallThresholdS: 0.9, ...(opts.http === false ? { http: false } : {}), compactRecords: opts.compactRecords, onTcpPacket: (fr, st, ta) => perFrame.push(fr, st, ta) });
    return { perFrame, res, error: null };
  } catch (e) {
    if (!isUsageError(e)) throw e;
    return { perFrame, res: null, error: (e as Error).message };
  }
}
