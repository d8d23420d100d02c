/**
 * The pcap command's JSON document (kept apart from the human report so --json loads no chalk):
 * the common envelope (src/core/envelope.ts) with `files`, `summary`, `warnings`.
 * `summary.interrupted` repeats the top-level `interrupted`: deprecated, removed after one release.
 */
import { envelope, type Envelope } from '../core/envelope.js';
import type { AnalysisResult, FileReport, Summary } from './analyse.js';

/** The options that shaped the analysis (`config` in the document). */
export interface PcapConfig {
  stallThresholdS: number;
}

export type PcapDocument = Envelope<'pcap'> & { files: FileReport[]; summary: Summary; warnings: string[] };

export function jsonDocument(res: AnalysisResult, run: { startedAt: Date; config: PcapConfig }): PcapDocument {
  return envelope(
    'pcap',
    { startedAt: run.startedAt, interrupted: res.summary.interrupted, config: { ...run.config }, findings: res.findings },
    { files: res.files, summary: res.summary, warnings: res.warnings },
  );
}
