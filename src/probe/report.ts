/**
 * The probe's human report, rendered from the JSON document (so `lab` can render a stored one):
 * per mode a backend table with bars, the per-connection view, a timeline, latency split into
 * connect and server time, then the findings.
 */
import type { ChalkInstance } from 'chalk';
import { makeTable as baseTable, renderFindings, summaryLine } from '../core/render.js';
import type { Verbosity } from '../core/output-flags.js';
import { probeCauseRules } from './causes.js';
import { bar } from '../core/style.js';
import { formatDuration, formatPercent } from '../core/units.js';
import type { ProbeMode } from './record.js';
import type { ModeReport, ProbeReport } from './summary.js';

export interface ProbeRenderOptions {
  chalk: ChalkInstance;
  width?: number;
  /** Unicode bars and sparklines (default true). */
  unicode?: boolean;
  /** quiet: summary line and findings only; verbose: every finding in full (default normal). */
  verbosity?: Verbosity;
  /** --explain: each finding's meaning every time. */
  explain?: boolean;
  /** Ids whose meaning this run already printed (lab shares one across its reports). */
  explained?: Set<string>;
  /** Replaces the `lbdiag probe <target> …` line (lbdiag merge describes its merged view there). */
  headerLine?: string;
}

/** What a probe run checked, for "No problems found (...)". */
export function probeChecked(report: ProbeReport): string {
  const modes = Object.entries(report.modes) as [ProbeMode, ModeReport][];
  const requests = modes.reduce((n, [, m]) => n + m.requests, 0);
  const backends = new Set(modes.flatMap(([, m]) => m.backends.map((b) => b.name)));
  return `${requests} requests in ${modes.map(([k]) => k).join(', ') || 'no'} mode${modes.length === 1 ? '' : 's'}, ${backends.size} backend${backends.size === 1 ? '' : 's'} answered`;
}

/** The probe's findings grouped under their causes (the run's --weights decide the imbalance links). */
export function probeRules(report: ProbeReport) {
  return probeCauseRules((report.config.weights ?? null) as Record<string, number> | null);
}

/** lbdiag's tables, compact (no rule between rows): these reports have many rows. */
function makeTable(head: string[], chalk: ChalkInstance, extra: Record<string, unknown> = {}) {
  return baseTable(head, chalk, { style: { head: [], border: [], compact: true }, ...extra });
}

const MODE_TEXT: Record<ProbeMode, string> = {
  keepalive: 'keep-alive connections',
  short: 'a new connection per request',
  rotate: 'keep-alive, connections rotated',
};

const ms = (x: number | null | undefined): string => (x === null || x === undefined ? '-' : formatDuration(x));

export function renderProbeReport(report: ProbeReport, opts: ProbeRenderOptions): string {
  const { chalk } = opts;
  const unicode = opts.unicode ?? true;
  const out: string[] = [];
  const verbosity = opts.verbosity ?? 'normal';
  const rules = probeRules(report);
  out.push(summaryLine(report.findings, { chalk, rules, checked: probeChecked(report) }));
  const c = report.config;
  const load = c.durationMs !== null ? `${formatDuration(c.durationMs as number)} per mode` : `${c.requests} requests per mode`;
  const pace = c.rate !== null ? `, ${c.rate}/s` : c.intervalMs !== null ? `, every ${formatDuration(c.intervalMs as number)} per connection` : '';
  const proto = c.protocol === 'grpc' ? `, gRPC ${c.grpcMethod} over HTTP/2, ${c.concurrency} connections x ${c.streams} streams` : c.protocol === 'h2' ? `, HTTP/2, ${c.concurrency} connections x ${c.streams} streams` : `, ${c.concurrency} concurrent`;
  out.push(opts.headerLine ?? `${chalk.bold('lbdiag probe')} ${report.target.url}  (${report.target.addresses.join(', ')})  ${load}${proto}${pace}`);
  if (report.interrupted) out.push(chalk.yellow('interrupted: the report covers what ran before Ctrl-C'));
  if (verbosity !== 'quiet') {
    for (const [mode, m] of Object.entries(report.modes) as [ProbeMode, ModeReport][]) {
      out.push('');
      out.push(renderMode(mode, m, report, opts, unicode));
    }
    out.push('');
    out.push(chalk.bold('Findings'));
  } else out.push('');
  out.push(renderFindings(report.findings, { chalk, width: opts.width, verbosity, explain: opts.explain, explained: opts.explained, rules }));
  return `${out.join('\n').replace(/\n+$/, '')}\n`;
}

export function renderMode(mode: ProbeMode, m: ModeReport, report: ProbeReport, opts: ProbeRenderOptions, unicode: boolean): string {
  const { chalk } = opts;
  const lines: string[] = [];
  const errs = m.errors ? chalk.red(`${m.errors} errors`) : '0 errors';
  lines.push(
    `${chalk.bold.underline(mode)} (${MODE_TEXT[mode]}): ${m.requests} requests, ${m.ok} ok, ${errs}, ${m.connections} connection${m.connections === 1 ? '' : 's'} opened, ${formatDuration(m.durationMs)} (${m.rate} req/s)`,
  );
  // Backends.
  const t = makeTable(['backend', 'requests', 'share', '', 'p50', 'p99', 'errors'], chalk, { colAligns: ['left', 'right', 'right', 'left', 'right', 'right', 'right'] });
  const okIdentified = m.backends.reduce((s, b) => s + b.count, 0);
  for (const b of m.backends) {
    const inst = b.instances.length > 1 ? chalk.yellow(` (${b.instances.length} instances)`) : '';
    t.push([b.name + inst, String(b.count), formatPercent(b.share), bar(b.share, 20, unicode), ms(b.p50Ms), ms(b.p99Ms), b.errors ? chalk.red(String(b.errors)) : '0']);
  }
  if (m.unidentified) t.push([chalk.dim('(unidentified)'), String(m.unidentified), '', '', '', '', '']);
  const failedNoBackend = m.errors - m.backends.reduce((s, b) => s + b.errors, 0);
  if (failedNoBackend > 0) t.push([chalk.red('(failed, no backend)'), '', '', '', '', '', chalk.red(String(failedNoBackend))]);
  t.push([chalk.bold('total'), String(okIdentified), okIdentified ? '100%' : '-', '', ms(m.latency.total.p50), ms(m.latency.total.p99), String(m.errors)]);
  lines.push(t.toString());
  // Errors by kind.
  const kinds = Object.entries(m.errorKinds);
  const statuses = Object.entries(m.statuses).filter(([s]) => Number(s) >= 500);
  if (kinds.length || statuses.length) {
    const parts = [
      ...statuses.map(([s, n]) => `HTTP ${s}: ${n}`),
      ...kinds.map(([k, v]) => `${k}: ${v.count} (${v.onNew} on new, ${v.onReused} on reused connections${v.inConnect ? `, ${v.inConnect} while connecting` : ''})`),
    ];
    lines.push(`${chalk.red('errors')}  ${parts.join('; ')}`);
    lines.push(`        on new connections ${m.errorsOnNewConnections}/${m.requestsOnNewConnections}, on reused ${m.errorsOnReusedConnections}/${m.requestsOnReusedConnections}`);
  }
  if (m.http2 && (m.http2.goaways || m.http2.retried))
    lines.push(`http/2  ${m.http2.goaways} GOAWAY received (a new connection opened in place of each); ${m.http2.retried} streams refused by the server (REFUSED_STREAM or past GOAWAY's last stream, never processed) sent again, not counted as errors`);
  if (m.inFlightAborted) lines.push(chalk.dim(`cut off: ${m.inFlightAborted} requests still in flight when the run stopped (-d deadline or Ctrl-C), counted neither as answers nor as errors`));
  if (report.target.addresses.length > 1 && m.addresses.length > 1) {
    const at = makeTable(['address', 'requests', 'ok', 'errors', 'backends'], chalk);
    for (const a of m.addresses) at.push([a.address, String(a.requests), String(a.ok), String(a.errors), backendsText(a.backends)]);
    lines.push(at.toString());
  }
  if (m.sources && m.sources.length > 1) lines.push(renderSourceMatrix(m, opts));
  if (m.tls) lines.push(renderTls(m, opts));
  if (mode !== 'short' && m.perConnection.length) lines.push(renderConnections(mode, m, report, opts));
  lines.push(renderTimeline(m, opts, unicode));
  lines.push(renderLatency(m, opts));
  return lines.join('\n');
}

/** `AB:CD:...:EF` shortened to its first and last 4 bytes (the JSON has it whole). */
export function shortFingerprint(fp: string): string {
  const p = fp.split(':');
  return p.length > 10 ? `${p.slice(0, 4).join(':')}…${p.slice(-4).join(':')}` : fp;
}

/** Subject and names for the table: at most 3 names shown (all of them in --json). */
function certText(c: { subject: string; sans: string[] }): string {
  const names = c.sans.map((n) => n.replace(/^DNS:/, '').replace(/^IP Address:/, 'IP:'));
  return `${c.subject}; ${names.slice(0, 3).join(' ') || '-'}${names.length > 3 ? ` +${names.length - 3} more` : ''}`;
}

function countsText(r: Record<string, number>): string {
  const e = Object.entries(r).sort((a, b) => b[1] - a[1]);
  return e.length === 1 ? e[0][0] : e.map(([k, n]) => `${k} ×${n}`).join(', ');
}

/** https: per backend the certificate it presented, and the handshake's version, cipher, ALPN and SNI. */
function renderTls(m: ModeReport, opts: ProbeRenderOptions): string {
  const { chalk } = opts;
  const tls = m.tls!;
  const sum = (pick: (b: NonNullable<ModeReport['tls']>['backends'][number]) => Record<string, number>): Record<string, number> => {
    const out: Record<string, number> = {};
    for (const b of tls.backends) for (const [k, n] of Object.entries(pick(b))) out[k] = (out[k] ?? 0) + n;
    return out;
  };
  const sni = countsText(sum((b) => b.sni)).replace(/^$/, 'none');
  const head = `TLS: ${tls.handshakes} handshake${tls.handshakes === 1 ? '' : 's'}${tls.backends.length ? `; ${countsText(sum((b) => b.versions))}, ${countsText(sum((b) => b.ciphers))}, ALPN ${countsText(sum((b) => b.alpn))}, SNI ${sni}` : ''}`;
  const byFp = new Map(tls.certificates.map((c) => [c.fingerprint256, c]));
  const t = makeTable(['backend', 'conns', 'certificate (subject; names)', 'SHA-256', 'not after', 'verify'], chalk, { colAligns: ['left', 'right', 'left', 'left', 'left', 'left'] });
  const verifyText = (v: string[] | undefined): string => (!v ? '?' : v.length ? chalk.yellow(v.join(', ')) : 'ok');
  for (const b of tls.backends) {
    for (const [fp, n] of Object.entries(b.certificates)) {
      const c = byFp.get(fp);
      t.push([b.name, String(n), c ? certText(c) : '?', shortFingerprint(fp), c ? c.notAfter.slice(0, 10) : '?', verifyText(c?.verify)]);
    }
  }
  // Certificates that came with no answering backend (the request failed on them).
  for (const c of tls.certificates) {
    if (Object.keys(c.backends).length) continue;
    t.push([chalk.red('(failed)'), String(c.connections), certText(c), shortFingerprint(c.fingerprint256), c.notAfter.slice(0, 10), verifyText(c.verify)]);
  }
  const errors = tls.errors.map((e) => `${chalk.red(e.kind)} ${e.count}: ${Object.keys(e.details)[0]}`);
  return [head, ...(t.length ? [t.toString()] : []), ...errors].join('\n');
}

function backendsText(b: Record<string, number>, limit = 4): string {
  const e = Object.entries(b).sort((x, y) => y[1] - x[1]);
  const shown = e.slice(0, limit).map(([n, c]) => `${n}×${c}`);
  if (e.length > limit) shown.push(`+${e.length - limit} more`);
  return shown.join(' ') || '-';
}

function renderConnections(mode: ProbeMode, m: ModeReport, report: ProbeReport, opts: ProbeRenderOptions): string {
  const { chalk } = opts;
  const conns = m.perConnection;
  const withOk = conns.filter((c) => Object.keys(c.backends).length > 0);
  const single = withOk.filter((c) => Object.keys(c.backends).length === 1).length;
  // Only say "layer-4 signature" when the analysis proved it (keepalive-pinning): a few requests per
  // connection stay on one backend by chance too.
  const l4 = single === withOk.length && withOk.length > 0 && report.findings.some((f) => f.id === 'keepalive-pinning' && f.mode === mode);
  const h2 = m.http2 !== undefined;
  const head = `per connection: ${conns.length + m.perConnectionOmitted} ${h2 ? `HTTP/2 connections (up to ${m.http2!.streamsPerConnection} concurrent streams each)` : 'connections'}; ${single} of ${withOk.length} reached one backend only${l4 ? chalk.yellow(' (layer-4 signature)') : ''}, ${withOk.length - single} reached several${withOk.length - single > 0 ? (h2 ? ' (per-stream balancing)' : ' (per-request balancing)') : ''}`;
  const limit = 12;
  const t = makeTable(['conn', 'local port', h2 ? 'streams' : 'requests', 'errors', 'backends reached', 'server conns'], chalk, { colAligns: ['right', 'right', 'right', 'right', 'left', 'right'] });
  const shown = conns.length > limit ? [...conns].sort((a, b) => b.requests - a.requests).slice(0, limit) : conns;
  for (const c of shown.sort((a, b) => a.id - b.id)) {
    t.push([`#${c.id}`, String(c.localPort || '-'), String(c.requests), c.errors ? chalk.red(String(c.errors)) : '0', backendsText(c.backends), c.serverConnections ? String(c.serverConnections) : '-']);
  }
  const more = conns.length > limit ? `\n${chalk.dim(`(${conns.length - limit} more connections not shown; all in --json)`)}` : '';
  return `${head}\n${t.toString()}${more}`;
}

/** `--source` over several addresses: which backends each source address reached (connections, by their first answer). */
function renderSourceMatrix(m: ModeReport, opts: ProbeRenderOptions): string {
  const { chalk } = opts;
  const sources = m.sources!;
  const backends = [...new Set(sources.flatMap((s) => Object.keys(s.connectionBackends)))].sort();
  const limitB = 8;
  const shownB = backends.slice(0, limitB);
  const t = makeTable(['source', 'conns', ...shownB, ...(backends.length > limitB ? ['other'] : [])], chalk);
  const limitS = 24;
  for (const s of sources.slice(0, limitS)) {
    const cb = s.connectionBackends;
    const total = Object.values(cb).reduce((a, b) => a + b, 0);
    const other = backends.slice(limitB).reduce((a, b) => a + (cb[b] ?? 0), 0);
    t.push([s.source, String(total), ...shownB.map((b) => (cb[b] ? String(cb[b]) : chalk.dim('.'))), ...(backends.length > limitB ? [String(other)] : [])]);
  }
  const more = sources.length > limitS ? `\n${chalk.dim(`(${sources.length - limitS} more sources not shown; all in --json)`)}` : '';
  return `source x backend (connections by the backend of their first answer):\n${t.toString()}${more}`;
}

const SPARK = ' ▁▂▃▄▅▆▇█';

function renderTimeline(m: ModeReport, opts: ProbeRenderOptions, unicode: boolean): string {
  const { chalk } = opts;
  const buckets = m.timeline.buckets;
  if (buckets.length < 2) return '';
  const names = m.backends.map((b) => b.name).slice(0, 12);
  const max = Math.max(1, ...buckets.map((b) => Math.max(b.errors, ...Object.values(b.backends))));
  const cell = (n: number): string => {
    if (n === 0) return unicode ? '·' : '.';
    if (!unicode) return n >= max / 2 ? '#' : '+';
    return SPARK[Math.max(1, Math.round((n / max) * 8))];
  };
  const width = Math.max(...names.map((n) => n.length), 6);
  const rows = names.map((n) => `  ${n.padEnd(width)} ${buckets.map((b) => cell(b.backends[n] ?? 0)).join('')}`);
  if (m.errors) rows.push(`  ${chalk.red('errors'.padEnd(width))} ${buckets.map((b) => cell(b.errors)).join('')}`);
  const span = buckets.length * m.timeline.bucketMs;
  return `timeline: one column per ${formatDuration(m.timeline.bucketMs)}, 0 → ${formatDuration(span)} (height = requests in the column)\n${rows.join('\n')}`;
}

function renderLatency(m: ModeReport, opts: ProbeRenderOptions): string {
  const t = makeTable(['latency', 'count', 'p50', 'p90', 'p99', 'max'], opts.chalk, { colAligns: ['left', 'right', 'right', 'right', 'right', 'right'] });
  const rows: [string, ModeReport['latency']['connect']][] = [
    ['connect (TCP handshake)', m.latency.connect],
    ...(m.latency.tls ? [['TLS handshake', m.latency.tls] as [string, ModeReport['latency']['connect']]] : []),
    ['server (request → first byte)', m.latency.server],
    ['total', m.latency.total],
  ];
  for (const [name, h] of rows) if (h.count) t.push([name, String(h.count), ms(h.p50), ms(h.p90), ms(h.p99), ms(h.max)]);
  return t.toString();
}
