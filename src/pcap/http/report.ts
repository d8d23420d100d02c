/**
 * The HTTP part of `lbdiag pcap`'s human report: the probe's own per-mode tables (backends,
 * per-connection, timeline, latency; src/probe/report.ts) for the capture's keep-alive and
 * one-request connections, what the capture can and cannot conclude, then the HTTP findings.
 */
import type { ChalkInstance } from 'chalk';
import { renderFindings } from '../../core/render.js';
import type { Verbosity } from '../../core/output-flags.js';
import { renderMode } from '../../probe/report.js';
import type { ProbeReport } from '../../probe/summary.js';
import type { Finding } from '../../core/finding.js';
import type { HttpReport } from './summary.js';

const IDENTITY: Record<HttpReport['identity'], string> = {
  response: 'from the responses',
  'server-address': 'by server address',
  none: 'not named by the responses',
};

/** `fo`: the report's verbosity and --explain, for the HTTP findings as for the TCP ones (-v: every evidence line). */
export function renderHttp(h: HttpReport, findings: Finding[], chalk: ChalkInstance, width: number, fo: { verbosity?: Verbosity; explain?: boolean } = {}): string {
  const out: string[] = [];
  out.push(chalk.bold('HTTP/1.x'));
  const parts = [`${h.streams} HTTP connections, ${h.requests} requests, ${h.responses} responses`, `backends ${IDENTITY[h.identity]}`];
  if (h.gaps) parts.push(chalk.yellow(`${h.gaps} connections given up on a hole in the captured data (segments missing)`));
  if (h.snaplenCut) parts.push(chalk.yellow(`${h.snaplenCut} connections given up because the capture's snaplen cut their payload (capture with -s 0)`));
  if (h.unanswered) parts.push(`${h.unanswered} requests unanswered when the capture ended`);
  if (h.orphanResponses) parts.push(`${h.orphanResponses} responses without their request (connections older than the capture, or requests the capture missed)`);
  out.push(parts.join('; '));
  if (h.streams === 0) {
    // No HTTP/1.x, but HTTP/2 or TLS connections: say why nothing is tallied.
    for (const n of h.notes) out.push(`note: ${n}`);
    return out.join('\n');
  }
  out.push(chalk.dim('keepalive = connections that carried several requests, short = one-request connections (the probe\'s two modes); conn # = tcp.stream'));
  for (const n of h.notes) out.push(`note: ${n}`);
  const report = { target: { addresses: h.servers }, modes: h.modes, findings } as unknown as ProbeReport;
  for (const mode of ['keepalive', 'short'] as const) {
    const m = h.modes[mode];
    if (!m) continue;
    out.push('');
    out.push(renderMode(mode, m, report, { chalk, width }, true).replace(/\n+$/, ''));
  }
  out.push('');
  out.push(chalk.bold('HTTP findings'));
  out.push(renderFindings(findings, { chalk, width, verbosity: fo.verbosity, explain: fo.explain }).trimEnd());
  return out.join('\n');
}
