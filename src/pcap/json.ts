/** The pcap command's JSON document (kept apart from the human report so --json loads no chalk). */
import { sortFindings } from '../core/finding.js';
import type { AnalysisResult } from './analyse.js';

export function jsonDocument(res: AnalysisResult): unknown {
  return {
    command: 'pcap',
    files: res.files,
    summary: res.summary,
    findings: sortFindings(res.findings),
    warnings: res.warnings,
    ...(res.http ? { http: res.http } : {}),
  };
}
