/**
 * The lab's page: the scenario summary (what a naive check shows, what lbdiag found, the fix),
 * then each step (one probe run) with what it expected and found and the probe's charts, and the
 * capture analysis of the stall scenario.
 */
import type { LabDocument } from './document.js';
import { esc } from './escape.js';
import { findingCards, findingStrip } from './findings.js';
import { Palette } from './palette.js';
import { backendNames, modeEntries, probeBody } from './probe.js';
import { msLabel } from './charts/axis.js';

const okBadge = (ok: boolean | undefined, skipped?: string): string =>
  skipped ? '<span class="badge skip">SKIPPED</span>' : ok ? '<span class="badge ok">OK</span>' : '<span class="badge fail">NOT SHOWN</span>';

const ids = (list: string[] | undefined): string => (list?.length ? list.map((x) => `<code>${esc(x)}</code>`).join(' ') : '–');

export function labPage(doc: LabDocument): { title: string; body: string } {
  const steps = doc.scenarios ?? [];
  const opts = doc.config ?? doc.options ?? {};
  const palette = new Palette(backendNames(steps.flatMap((s) => modeEntries(s.probe?.modes).map((e) => e[1]))));
  const out: string[] = [];
  out.push(`<header class="top"><h1><span class="cmd">lbdiag lab</span> ${esc(opts.scenario ?? '')}</h1>`);
  out.push(
    `<p class="meta">balancer ${esc(opts.balancer ?? '?')} · ${esc(opts.backends ?? '?')} backends · addresses ${esc(opts.addresses ?? '?')}${doc.startedAt ? ` · started ${esc(doc.startedAt)}` : ''}${doc.durationMs !== undefined ? ` · ran ${esc(msLabel(doc.durationMs))}` : ''}</p></header>`,
  );
  if (doc.interrupted) out.push('<p class="meta"><span class="badge sev-warn">INTERRUPTED</span> the scenarios that ran are shown.</p>');
  const summary = doc.summary ?? [];
  if (summary.length) {
    const rows = summary
      .map((s) => `<tr><td><b>${esc(s.scenario)}</b></td><td>${okBadge(s.ok, s.skipped)}</td><td>${esc(s.naive ?? '')}</td><td>${esc(s.finding ?? '')}</td><td>${esc(s.fix ?? '')}${s.skipped ? `<br><span class="muted">skipped: ${esc(s.skipped)}</span>` : ''}${s.error ? `<br><span class="muted">error: ${esc(s.error)}</span>` : ''}</td></tr>`)
      .join('');
    out.push(`<section class="card"><h3>Scenarios</h3><table><thead><tr><th>scenario</th><th></th><th>a naive check shows</th><th>lbdiag finds</th><th>fix</th></tr></thead><tbody>${rows}</tbody></table></section>`);
  }
  steps.forEach((s, i) => {
    const prefix = `s${i + 1}-`;
    out.push(`<h2 id="step-${i + 1}">${esc(s.name)} · ${esc(s.step)} <span class="muted">(${esc(s.balancer)})</span> ${okBadge(s.ok, s.skipped)}</h2>`);
    out.push(`<p class="meta">expected ${ids(s.expected)}${s.absent?.length ? ` · must be absent ${ids(s.absent)}` : ''} · found ${ids(s.found)}</p>`);
    for (const c of s.checks ?? []) out.push(`<p class="meta">${c.ok ? '✔' : '✘'} ${esc(c.what)}</p>`);
    if (s.skipped) out.push(`<p class="muted">skipped: ${esc(s.skipped)}</p>`);
    if (s.probe) out.push(probeBody(s.probe, palette, prefix));
    if (s.pcap) {
      out.push(`<h3>Capture analysis${s.pcap.file ? ` <span class="muted">(${esc(s.pcap.file)})</span>` : ''}</h3>`);
      if (s.pcap.skipped) out.push(`<p class="muted">${esc(s.pcap.skipped)}</p>`);
      else out.push(findingStrip(s.pcap.findings ?? [], `${prefix}pcap-`), findingCards(s.pcap.findings ?? [], `${prefix}pcap-`));
    }
  });
  // The document's top-level findings are those of its steps, each already shown under its step.
  return { title: `lbdiag lab ${opts.scenario ?? ''}`, body: out.join('\n') };
}
