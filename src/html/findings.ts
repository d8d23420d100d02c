/**
 * Findings in the HTML report: a summary strip (worst first, each a link to its card) and one card
 * per finding with its evidence, where it was seen (mode, backend, tcp.stream, frames, Wireshark
 * filter), what it means, the fix, and the machine-readable metrics folded away.
 */
import type { Finding } from '../core/finding.js';
import { esc } from './escape.js';

const LABEL: Record<string, string> = { error: 'ERROR', warn: 'WARN', info: 'INFO' };

/** Anchors are unique per page: `prefix` tells apart the findings of lab steps. */
export function findingAnchor(prefix: string, i: number): string {
  return `${prefix}f${i + 1}`;
}

export function findingStrip(findings: readonly Finding[], prefix: string): string {
  if (findings.length === 0) return '<p class="ok-line">No findings.</p>';
  const sorted = findings; // documents come sorted (the envelope sorts, worst first)
  const counts = { error: 0, warn: 0, info: 0 } as Record<string, number>;
  for (const f of sorted) counts[f.severity] = (counts[f.severity] ?? 0) + 1;
  const head = (['error', 'warn', 'info'] as const).filter((s) => counts[s]).map((s) => `${counts[s]} ${LABEL[s]}`).join(', ');
  const chips = sorted
    .map((f, i) => `<a class="chip sev-${esc(f.severity)}" href="#${findingAnchor(prefix, i)}"><span class="badge sev-${esc(f.severity)}">${LABEL[f.severity] ?? esc(f.severity)}</span> ${esc(f.id)}${f.mode ? ` <span class="muted">(${esc(f.mode)})</span>` : ''}</a>`)
    .join(' ');
  return `<p class="strip"><strong>${sorted.length} finding${sorted.length === 1 ? '' : 's'}</strong> (${head}): ${chips}</p>`;
}

export function findingCards(findings: readonly Finding[], prefix: string): string {
  if (findings.length === 0) return '<p class="ok-line">No findings.</p>';
  return findings
    .map((f, i) => {
      const where: string[] = [];
      if (f.mode) where.push(`mode <b>${esc(f.mode)}</b>`);
      if (f.backend) where.push(`backend <b>${esc(f.backend)}</b>`);
      if (f.stream !== undefined) where.push(`tcp.stream <b>${esc(f.stream)}</b>`);
      if (f.client && f.server) where.push(`${esc(f.client)} → ${esc(f.server)}`);
      if (f.frames?.length) where.push(`frames ${esc(f.frames.slice(0, 20).join(', '))}${f.frames.length > 20 ? ` … (${f.frames.length})` : ''}`);
      const metrics = f.metrics && Object.keys(f.metrics).length
        ? `<details><summary>metrics</summary><table class="kv">${Object.entries(f.metrics).map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(Array.isArray(v) ? v.join(', ') : v)}</td></tr>`).join('')}</table></details>`
        : '';
      return (
        `<article class="finding sev-${esc(f.severity)}" id="${findingAnchor(prefix, i)}" data-finding-id="${esc(f.id)}">` +
        `<h4><span class="badge sev-${esc(f.severity)}">${LABEL[f.severity] ?? esc(f.severity)}</span> <code>${esc(f.id)}</code> ${esc(f.title)}</h4>` +
        (where.length ? `<p class="where">${where.join(' · ')}</p>` : '') +
        (f.filter ? `<p class="where">Wireshark filter: <code>${esc(f.filter)}</code></p>` : '') +
        `<h5>Evidence</h5><ul class="evidence">${(f.evidence ?? []).map((e) => `<li>${esc(e)}</li>`).join('')}</ul>` +
        `<h5>What it means</h5><p>${esc(f.explanation)}</p>` +
        `<h5>Fix</h5><p>${esc(f.remedy)}</p>` +
        metrics +
        `</article>`
      );
    })
    .join('\n');
}
