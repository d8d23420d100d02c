/** The pcap command's human report (summary tables) and JSON document. */
import type { ChalkInstance } from 'chalk';
import { makeTable, renderFindings, renderFindingSummary, summaryLine } from '../core/render.js';
import type { Verbosity } from '../core/output-flags.js';
import { PCAP_FINDING_IDS } from './detectors/index.js';
import { renderHttp } from './http/report.js';
import { bar } from '../core/style.js';
import { formatBytes, formatCount, formatDuration } from '../core/units.js';
import type { AnalysisResult } from './analyse.js';

const SERVERS_IN_TABLE = 15;

function counts(rec: Record<string, number>): string {
  const parts = Object.entries(rec).map(([k, v]) => `${k} ${formatCount(v)}`);
  return parts.length ? parts.join(', ') : '-';
}

/** How much the human report shows: quiet (summary line and findings), normal, verbose; --explain. */
export interface PcapRenderOptions {
  verbosity?: Verbosity;
  explain?: boolean;
}

/** What the analysis checked, for "No problems found (...)". */
export function pcapChecked(res: AnalysisResult): string {
  return `${formatCount(res.summary.tcp.connections)} TCP connections in ${formatCount(res.summary.packets)} packets checked for ${PCAP_FINDING_IDS.join(', ')}`;
}

export function renderHuman(res: AnalysisResult, chalk: ChalkInstance, width: number, ro: PcapRenderOptions = {}): string {
  const out: string[] = [];
  const verbosity = ro.verbosity ?? 'normal';
  out.push(summaryLine(res.findings, { chalk, checked: pcapChecked(res) }));
  if (verbosity !== 'quiet') out.push(renderTables(res, chalk));
  if (res.findings.length && verbosity !== 'quiet') out.push(renderFindingSummary(res.findings, { chalk }).trimEnd());
  // TCP findings first; the HTTP exchanges' tables and findings follow (src/pcap/http/report.ts).
  const httpFindings = new Set(res.httpFindings ?? []);
  const showHttp = res.http !== undefined && (res.http.streams > 0 || res.http.undecoded.http2 + res.http.undecoded.tls > 0) && verbosity !== 'quiet';
  const first = showHttp ? res.findings.filter((f) => !httpFindings.has(f)) : res.findings;
  if (first.length) out.push(renderFindings(first, { chalk, width, verbosity, explain: ro.explain }).trimEnd());
  else if (showHttp && httpFindings.size > 0) out.push('No TCP findings.');
  if (showHttp) out.push(renderHttp(res.http!, res.httpFindings ?? [], chalk, width, { verbosity, explain: ro.explain }).trimEnd());
  for (const w of res.warnings) out.push(chalk.yellow(`warning: ${w}`));
  return `${out.join('\n\n')}\n`;
}

/** The capture and server-endpoint tables. */
function renderTables(res: AnalysisResult, chalk: ChalkInstance): string {
  const s = res.summary;
  const out: string[] = [];
  const t = makeTable(['capture', ''], chalk);
  const files = res.files.map((f) => `${f.path} (${f.format ?? '?'}${f.gzip ? ', gzip' : ''}; ${f.linkTypes.join(', ') || 'no interfaces'}; ${formatCount(f.packets)} packets)`);
  t.push(['files', files.join('\n')]);
  t.push(['packets', `${formatCount(s.packets)} (${formatBytes(s.bytes)} on the wire, ${formatBytes(s.capturedBytes)} captured)`]);
  t.push(['time', s.firstTime ? `${s.firstTime} → ${s.lastTime} (${formatDuration(s.durationS * 1000)})` : '-']);
  t.push(['link types', counts(s.linkTypes)]);
  t.push(['protocols', counts(s.protocols)]);
  if (Object.keys(s.encapsulations).length) t.push(['opened', counts(s.encapsulations)]);
  t.push(['skipped', counts(s.skipped)]);
  if (Object.keys(s.skippedInput).length) t.push(['input skipped', counts(s.skippedInput)]);
  t.push([
    'tcp',
    `${formatCount(s.tcp.connections)} connections, ${formatCount(s.tcp.packets)} packets, ${formatCount(s.tcp.retransmissions)} retransmissions, ` +
      `${formatCount(s.tcp.resets)} resets, ${formatCount(s.tcp.reusedPorts)} reused ports`,
  ]);
  out.push(t.toString());
  if (s.servers.length) {
    const st = makeTable(['server endpoint', 'connections', 'share'], chalk);
    const total = s.servers.reduce((n, x) => n + x.connections, 0) + 0;
    const all = s.tcp.connections || total;
    for (const x of s.servers.slice(0, SERVERS_IN_TABLE)) st.push([x.server, String(x.connections), `${bar(x.connections / all, 20)} ${((100 * x.connections) / all).toFixed(1)}%`]);
    if (s.serversTotal > SERVERS_IN_TABLE) st.push([chalk.dim(`… ${s.serversTotal - SERVERS_IN_TABLE} more`), '', '']);
    out.push(st.toString());
  }
  return out.join('\n\n');
}
