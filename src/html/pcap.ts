/**
 * The capture's page: what was read (files, packets, protocols, TCP counters), connections per
 * server endpoint, the findings with their Wireshark filters, the HTTP/1.x part (the probe's
 * per-mode charts) when the document has one, and the reader's warnings.
 */
import type { PcapDocument } from './document.js';
import { esc } from './escape.js';
import { findingCards, findingStrip } from './findings.js';
import { Palette } from './palette.js';
import { backendNames, modeEntries, modeSection } from './probe.js';
import { barList } from './charts/bars.js';
import { msLabel } from './charts/axis.js';

const counts = (r: Record<string, number> | undefined): string => {
  const e = Object.entries(r ?? {});
  return e.length ? e.map(([k, v]) => `${esc(k)} ${esc(v)}`).join(', ') : '–';
};

const HTTP_MODES: Record<string, string> = {
  keepalive: 'connections that carried several requests',
  short: 'one-request connections',
};

export function pcapPage(doc: PcapDocument): { title: string; body: string } {
  const s = doc.summary ?? {};
  const files = doc.files ?? [];
  const findings = doc.findings ?? [];
  const out: string[] = [];
  out.push(`<header class="top"><h1><span class="cmd">lbdiag pcap</span> ${esc(files.map((f) => f.path).join(', '))}</h1>`);
  out.push(`<p class="meta">${esc(s.packets ?? 0)} packets${s.durationS !== undefined ? ` over ${esc(msLabel(s.durationS * 1000))}` : ''}${s.firstTime ? ` · ${esc(s.firstTime)} → ${esc(s.lastTime ?? '')}` : ''}</p></header>`);
  out.push(findingStrip(findings, ''));
  if (s.interrupted || doc.interrupted) out.push('<p class="meta"><span class="badge sev-warn">INTERRUPTED</span> the report covers the packets read before Ctrl-C.</p>');
  // Summary.
  const tcp = s.tcp ?? {};
  const kv: [string, string][] = [
    ['files', files.map((f) => `${esc(f.path)} (${esc(f.format ?? '?')}${f.gzip ? ', gzip' : ''}; ${esc((f.linkTypes ?? []).join(', ') || 'no interfaces')}; ${esc(f.packets ?? 0)} packets)`).join('<br>')],
    ['packets', `${esc(s.packets ?? 0)} (${esc(s.bytes ?? 0)} bytes on the wire, ${esc(s.capturedBytes ?? 0)} captured)`],
    ['link types', counts(s.linkTypes)],
    ['protocols', counts(s.protocols)],
    ['tcp', `${esc(tcp.connections ?? 0)} connections, ${esc(tcp.packets ?? 0)} packets, ${esc(tcp.retransmissions ?? 0)} retransmissions, ${esc(tcp.resets ?? 0)} resets, ${esc(tcp.reusedPorts ?? 0)} reused ports`],
    ['skipped', counts(s.skipped)],
  ];
  if (Object.keys(s.encapsulations ?? {}).length) kv.push(['opened', counts(s.encapsulations)]);
  if (Object.keys(s.skippedInput ?? {}).length) kv.push(['input skipped', counts(s.skippedInput)]);
  if (s.findingsOmitted) kv.push(['findings omitted', `${esc(s.findingsOmitted)} (beyond the per-id cap)`]);
  out.push(`<section class="card"><h3>Summary</h3><table class="kv">${kv.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${v}</td></tr>`).join('')}</table></section>`);
  // Servers.
  const servers = s.servers ?? [];
  if (servers.length) {
    const palette = new Palette(servers.map((x) => x.server));
    const total = tcp.connections ?? servers.reduce((a, x) => a + x.connections, 0);
    const rows = servers.map((x) => `<tr><td><span class="swatch" style="background:${palette.colour(x.server)}"></span>${esc(x.server)}</td><td>${esc(x.connections)}</td><td>${total ? ((100 * x.connections) / total).toFixed(1) : '0'}%</td></tr>`).join('');
    out.push(
      `<section class="card servers"><h3>Server endpoints</h3><p class="caption">TCP connections per server address:port (the distribution the capture shows)${(s.serversTotal ?? servers.length) > servers.length ? `; ${esc((s.serversTotal ?? 0) - servers.length)} more endpoints not listed` : ''}.</p>` +
        `<div class="row"><div>${barList(servers.slice(0, 30).map((x) => ({ label: x.server, value: x.connections, colour: palette.colour(x.server) })), total, 'connections')}</div>` +
        `<div><table class="num"><thead><tr><th>server endpoint</th><th>connections</th><th>share</th></tr></thead><tbody>${rows}</tbody></table></div></div></section>`,
    );
  }
  // HTTP.
  const http = doc.http;
  if (http) {
    out.push('<h2>HTTP/1.x</h2>');
    const parts = [`${esc(http.streams ?? 0)} HTTP connections, ${esc(http.requests ?? 0)} requests, ${esc(http.responses ?? 0)} responses`, `backends named ${esc(http.identity ?? '?')}`];
    if (http.gaps) parts.push(`${esc(http.gaps)} connections given up on a hole in the captured data`);
    if (http.snaplenCut) parts.push(`${esc(http.snaplenCut)} connections given up because the snaplen cut their payload`);
    if (http.unanswered) parts.push(`${esc(http.unanswered)} requests unanswered when the capture ended`);
    if (http.orphanResponses) parts.push(`${esc(http.orphanResponses)} responses without their request`);
    out.push(`<p class="meta">${parts.join('; ')}</p>`);
    for (const note of http.notes ?? []) out.push(`<p class="caption">note: ${esc(note)}</p>`);
    const modes = modeEntries(http.modes);
    const palette = new Palette(backendNames(modes.map((e) => e[1])));
    for (const [mode, m] of modes) out.push(modeSection(mode, m, { palette, describe: HTTP_MODES[mode] }));
  }
  out.push('<h2>Findings</h2>');
  out.push(findingCards(findings, ''));
  const warnings = doc.warnings ?? [];
  if (warnings.length) out.push(`<h3>Warnings</h3><ul class="warnings">${warnings.map((w) => `<li>${esc(w)}</li>`).join('')}</ul>`);
  return { title: `lbdiag pcap ${files.map((f) => f.path).join(', ')}`, body: out.join('\n') };
}
