/**
 * The pcap command's JSON document (kept apart from the human report so --json loads no chalk):
 * the common envelope (src/core/envelope.ts) with `files`, `summary`, `warnings`.
 * `summary.interrupted` repeats the top-level `interrupted`: deprecated, removed after one release.
 */
import { envelope, type Envelope } from '../core/envelope.js';
import type { AnalysisResult, FileReport, Summary } from './analyse.js';
import type { HttpReport } from './http/summary.js';

/** The options that shaped the analysis (`config` in the document). */
export interface PcapConfig {
  stallThresholdS: number;
  /** HTTP/1.x analysis on (false with --no-http). */
  http?: boolean;
  /** `--backend-from` as given. */
  backendFrom?: string;
}

export type PcapDocument = Envelope<'pcap'> & { files: FileReport[]; summary: Summary; warnings: string[]; http?: HttpReport };

export function jsonDocument(res: AnalysisResult, run: { startedAt: Date; config: PcapConfig }): PcapDocument {
  return envelope(
    'pcap',
    { startedAt: run.startedAt, interrupted: res.summary.interrupted, config: { ...run.config }, findings: res.findings },
    { files: res.files, summary: res.summary, warnings: res.warnings, ...(res.http ? { http: res.http } : {}) },
  );
}
