/**
 * The probe's sections (also used for `merge`, for each lab step and for the HTTP part of a
 * capture): per mode the shares, the connection → backend map, the timeline and the latency by
 * phase, then the findings.
 */
import type { ModeReport, ProbeDocument } from './document.js';
import { esc } from './escape.js';
import { findingCards, findingStrip } from './findings.js';
import { Palette } from './palette.js';
import { connectionMap, connectionMapCaption } from './charts/connection-map.js';
import { latencyChart, latencyTable } from './charts/latency.js';
import { sharesChart } from './charts/shares.js';
import { timelineChart } from './charts/timeline.js';
import { msLabel } from './charts/axis.js';

const MODE_TEXT: Record<string, string> = {
  keepalive: 'keep-alive connections',
  short: 'a new connection per request',
  rotate: 'keep-alive, connections rotated',
};

export function modeEntries(modes: Partial<Record<string, ModeReport>> | undefined): [string, ModeReport][] {
  return Object.entries(modes ?? {}).filter((e): e is [string, ModeReport] => Boolean(e[1]));
}

/** Every backend name in these modes (for one palette over the whole page). */
export function backendNames(modes: Iterable<ModeReport>): string[] {
  const names: string[] = [];
  for (const m of modes) {
    for (const b of m.backends ?? []) names.push(b.name);
    for (const c of m.perConnection ?? []) names.push(...Object.keys(c.backends ?? {}));
  }
  return names;
}

function errorsLine(m: ModeReport): string {
  const statuses = Object.entries(m.statuses ?? {}).filter(([s]) => Number(s) >= 500);
  const kinds = Object.entries(m.errorKinds ?? {});
  if (!statuses.length && !kinds.length) return '';
  const parts = [
    ...statuses.map(([s, c]) => `HTTP ${esc(s)}: ${esc(c)}`),
    ...kinds.map(([k, v]) => `${esc(k)}: ${esc(v.count)} (${esc(v.onNew)} on new, ${esc(v.onReused)} on reused connections${v.inConnect ? `, ${esc(v.inConnect)} while connecting` : ''})`),
  ];
  return `<p class="meta"><b>Errors</b> ${parts.join('; ')}. On new connections ${esc(m.errorsOnNewConnections)}/${esc(m.requestsOnNewConnections)}, on reused ${esc(m.errorsOnReusedConnections)}/${esc(m.requestsOnReusedConnections)}.</p>`;
}

export interface ModeSectionOptions {
  palette: Palette;
  expectedBackends?: string[];
  /** https target: the connect phase includes the TLS handshake (unless the document splits it out). */
  tlsInConnect?: boolean;
  /** Text after the mode name (default: the probe's mode descriptions). */
  describe?: string;
}

export function modeSection(mode: string, m: ModeReport, o: ModeSectionOptions): string {
  const describe = o.describe ?? MODE_TEXT[mode] ?? mode;
  const out: string[] = [];
  out.push(`<section class="card mode" data-mode="${esc(mode)}">`);
  out.push(`<h3>${esc(mode)} <span class="muted">— ${esc(describe)}</span></h3>`);
  out.push(
    `<p class="meta">${esc(m.requests)} requests, ${esc(m.ok)} ok, ${esc(m.errors)} errors, ${esc(m.connections)} connection${m.connections === 1 ? '' : 's'} opened, ` +
      `${esc(msLabel(m.durationMs ?? 0))} (${esc(m.rate)} req/s)${m.unidentified ? `, ${esc(m.unidentified)} answers named no backend` : ''}${m.inFlightAborted ? `, ${esc(m.inFlightAborted)} cut off in flight` : ''}</p>`,
  );
  out.push(errorsLine(m));
  out.push(`<div class="row"><div><h5>Share of answers per backend</h5>${sharesChart(m, o.palette, o.expectedBackends)}</div>`);
  if ((m.addresses ?? []).length > 1) {
    const rows = m.addresses.map((a) => `<tr><td>${esc(a.address)}</td><td>${esc(a.requests)}</td><td>${esc(a.ok)}</td><td>${esc(a.errors)}</td><td>${esc(Object.keys(a.backends ?? {}).length)}</td></tr>`).join('');
    out.push(`<div><h5>Per resolved address</h5><table class="num"><thead><tr><th>address</th><th>requests</th><th>ok</th><th>errors</th><th>backends</th></tr></thead><tbody>${rows}</tbody></table></div>`);
  }
  out.push('</div>');
  const map = connectionMap(m, o.palette);
  if (map) {
    out.push(`<h5>Connection → backend map</h5>${map}<p class="caption">${esc(connectionMapCaption(m))} Each row on the left is one client connection (height = requests it carried); each ribbon goes to the backend that answered, its width the number of requests.</p>`);
  } else if ((m.connections ?? 0) > 0) {
    out.push(`<p class="caption">Connection → backend map: not drawn for this mode (${mode === 'short' ? 'one request per connection: every connection reaches one backend by construction, the shares above are the whole story' : 'the document lists no connections'}).</p>`);
  }
  if (m.tls) out.push(tlsTable(m.tls));
  out.push(`<h5>Timeline per backend</h5>${timelineChart(m, o.palette)}`);
  out.push(`<h5>Latency by phase</h5><div class="row"><div>${latencyChart(m, o.tlsInConnect)}</div><div>${latencyTable(m, o.tlsInConnect)}</div></div>`);
  out.push('</section>');
  return out.join('\n');
}

/** https: per backend the certificate it presented (subject, names, SHA-256, expiry, problems) and the handshake's version and ALPN. */
function tlsTable(t: NonNullable<ModeReport['tls']>): string {
  const byFp = new Map(t.certificates.map((c) => [c.fingerprint256, c]));
  const keys = (r: Record<string, number>): string => Object.keys(r).join(', ');
  const row = (name: string, n: number, fp: string, version: string, alpn: string): string => {
    const c = byFp.get(fp);
    return `<tr><td>${esc(name)}</td><td>${esc(n)}</td><td>${esc(c ? `${c.subject}; ${c.sans.join(' ')}` : '?')}</td><td><code>${esc(fp)}</code></td><td>${esc(c?.notAfter.slice(0, 10) ?? '?')}</td><td>${esc(version)}</td><td>${esc(alpn)}</td><td>${esc(c ? c.verify.join(', ') || 'ok' : '?')}</td></tr>`;
  };
  const rows = t.backends.flatMap((b) => Object.entries(b.certificates).map(([fp, n]) => row(b.name, n, fp, keys(b.versions), keys(b.alpn))));
  for (const c of t.certificates) if (Object.keys(c.backends).length === 0) rows.push(row('(failed)', c.connections, c.fingerprint256, '', ''));
  const errors = t.errors.map((e) => `<li><b>${esc(e.kind)}</b> ${esc(e.count)}: ${esc(Object.keys(e.details)[0] ?? '')}</li>`).join('');
  return (
    `<h5>TLS per backend</h5><p class="caption">${esc(t.handshakes)} handshakes; the certificate each backend presented (one row per certificate).</p>` +
    (rows.length ? `<table><thead><tr><th>backend</th><th>conns</th><th>certificate (subject; names)</th><th>SHA-256</th><th>not after</th><th>version</th><th>ALPN</th><th>verify</th></tr></thead><tbody>${rows.join('')}</tbody></table>` : '') +
    (errors ? `<ul>${errors}</ul>` : '')
  );
}

function configLine(doc: Pick<ProbeDocument, 'config'>): string {
  const c = doc.config ?? {};
  const bits: string[] = [];
  if (c.durationMs !== null && c.durationMs !== undefined) bits.push(`${msLabel(Number(c.durationMs))} per mode`);
  else if (c.requests !== null && c.requests !== undefined) bits.push(`${c.requests} requests per mode`);
  if (c.concurrency !== undefined) bits.push(`${c.concurrency} concurrent`);
  if (c.rate !== null && c.rate !== undefined) bits.push(`${c.rate}/s`);
  if (c.method) bits.push(String(c.method));
  return bits.join(', ');
}

function expectedBackends(doc: Pick<ProbeDocument, 'config'>): string[] {
  const e = doc.config?.expectBackends;
  return Array.isArray(e) ? e.map(String) : [];
}

/** The body of a probe (or merge) document; `prefix` keeps anchors unique when several are on a page. */
export function probeBody(doc: Omit<ProbeDocument, 'command'>, palette: Palette, prefix = ''): string {
  const out: string[] = [];
  const findings = doc.findings ?? [];
  out.push(findingStrip(findings, prefix));
  if (doc.interrupted) out.push('<p class="meta"><span class="badge sev-warn">INTERRUPTED</span> the report covers what ran before Ctrl-C.</p>');
  for (const e of doc.inputErrors ?? []) out.push(`<p class="meta"><span class="badge sev-error">INPUT</span> ${esc(e)}</p>`);
  const tlsInConnect = /^https:/i.test(doc.target?.url ?? '');
  for (const [mode, m] of modeEntries(doc.modes)) out.push(modeSection(mode, m, { palette, expectedBackends: expectedBackends(doc), tlsInConnect }));
  out.push(`<h3>Findings</h3>`);
  out.push(findingCards(findings, prefix));
  return out.join('\n');
}

export function probePage(doc: ProbeDocument): { title: string; body: string } {
  const palette = new Palette(backendNames(modeEntries(doc.modes).map((e) => e[1])));
  const cmd = doc.command === 'merge' ? 'merge' : 'probe';
  const target = doc.target?.url ?? '';
  const head = [
    `<header class="top"><h1><span class="cmd">lbdiag ${cmd}</span> ${esc(target)}</h1>`,
    doc.target?.addresses?.length ? `<p class="meta">addresses ${esc(doc.target.addresses.join(', '))}</p>` : '',
    `<p class="meta">${esc(configLine(doc))}${doc.startedAt ? ` · started ${esc(doc.startedAt)}` : ''}${doc.durationMs !== undefined ? ` · ran ${esc(msLabel(doc.durationMs))}` : ''}</p>`,
    Array.isArray(doc.sources) ? `<p class="meta">${doc.sources.length} runs merged</p>` : '',
    '</header>',
  ].join('');
  return { title: `lbdiag ${cmd} ${target}`, body: `${head}\n${probeBody(doc, palette)}` };
}
