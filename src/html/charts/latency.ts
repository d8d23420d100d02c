/**
 * Latency split by phase (connect, TLS when the document has it, server, total), drawn from the
 * histogram summaries the document carries: per phase a line from min to max, a box from p50 to
 * p90, a whisker to p99 and a tick at p50, all on one axis (logarithmic when the values span more
 * than a factor of 30), with the numbers in a table beside it.
 */
import type { ModeReport } from '../document.js';
import { esc, n } from '../escape.js';
import { linearTicks, logTicks, msLabel } from './axis.js';

type Summary = { count: number | null; min: number | null; mean?: number | null; p50: number | null; p90: number | null; p99: number | null; max: number | null };

const PHASES: [string, string, string][] = [
  ['connect', 'connect (TCP handshake)', '#56B4E9'],
  ['tls', 'TLS handshake', '#CC79A7'],
  ['server', 'server (request → first byte)', '#009E73'],
  ['total', 'total', '#0072B2'],
];

const W = 580;
const LABEL = 200;
const ROW = 40;

/** https without a separate `tls` phase: the probe's connect time ends at the TLS handshake's end. */
const CONNECT_WITH_TLS = 'connect (TCP + TLS handshakes)';

function phases(latency: Record<string, Summary | undefined>, tlsInConnect = false): [string, string, string, Summary][] {
  const known = new Set(PHASES.map((p) => p[0]));
  const label = (k: string, l: string): string => (k === 'connect' && tlsInConnect && !latency.tls ? CONNECT_WITH_TLS : l);
  const list: [string, string, string, Summary | undefined][] = [
    ...PHASES.map(([k, l, c]) => [k, label(k, l), c, latency[k]] as [string, string, string, Summary | undefined]),
    ...Object.keys(latency).filter((k) => !known.has(k)).map((k) => [k, k, '#7F7F7F', latency[k]] as [string, string, string, Summary | undefined]),
  ];
  return list.filter((p): p is [string, string, string, Summary] => Boolean(p[3] && p[3].count && p[3].max !== null && p[3].min !== null));
}

export function latencyChart(m: ModeReport, tlsInConnect = false): string {
  const rows = phases((m.latency ?? {}) as unknown as Record<string, Summary | undefined>, tlsInConnect);
  if (rows.length === 0) return '<p class="muted">No latency recorded.</p>';
  const lo = Math.max(0.001, Math.min(...rows.map((r) => r[3].min as number)));
  const hi = Math.max(lo * 1.5, ...rows.map((r) => r[3].max as number));
  const log = hi / lo > 30;
  const plotW = W - LABEL - 30;
  const a = log ? Math.log10(lo / 1.3) : 0;
  const b = log ? Math.log10(hi * 1.3) : hi * 1.05;
  const x = (v: number): number => LABEL + ((log ? Math.log10(Math.max(v, lo / 1.3)) : v) - a) / (b - a) * plotW;
  const top = 10;
  const h = top + rows.length * ROW + 34;
  const out: string[] = [];
  out.push(`<svg class="chart latency" role="img" aria-label="latency by phase" width="${W}" height="${h}" viewBox="0 0 ${W} ${h}">`);
  out.push(`<title>Latency by phase: min–max line, p50–p90 box, whisker to p99</title>`);
  const axisY = top + rows.length * ROW + 2;
  const ticks = log ? logTicks(lo / 1.3, hi * 1.3) : linearTicks(hi * 1.05, 6);
  for (const t of ticks) {
    const tx = x(t);
    out.push(`<line x1="${n(tx)}" y1="${top}" x2="${n(tx)}" y2="${axisY}" class="grid"/><text x="${n(tx)}" y="${axisY + 14}" text-anchor="middle" class="axis">${esc(t === 0 ? '0' : msLabel(t))}</text>`);
  }
  rows.forEach(([key, label, colour, s], i) => {
    const cy = top + i * ROW + ROW / 2;
    const v = (k: keyof Summary): number => Number(s[k] ?? 0);
    const tip = `${label}: ${s.count} samples, min ${msLabel(v('min'))}, p50 ${msLabel(v('p50'))}, p90 ${msLabel(v('p90'))}, p99 ${msLabel(v('p99'))}, max ${msLabel(v('max'))}`;
    out.push(
      `<g class="latency-row" data-phase="${esc(key)}"><title>${esc(tip)}</title>` +
        `<text x="${LABEL - 10}" y="${cy + 4}" text-anchor="end" class="label">${esc(label)}</text>` +
        `<line x1="${n(x(v('min')))}" y1="${cy}" x2="${n(x(v('max')))}" y2="${cy}" stroke="#888" stroke-width="1.5"/>` +
        `<line x1="${n(x(v('p90')))}" y1="${cy}" x2="${n(x(v('p99')))}" y2="${cy}" stroke="${colour}" stroke-width="4"/>` +
        `<rect x="${n(x(v('p50')))}" y="${cy - 9}" width="${n(Math.max(2, x(v('p90')) - x(v('p50'))))}" height="18" fill="${colour}" rx="2"/>` +
        `<line x1="${n(x(v('p50')))}" y1="${cy - 12}" x2="${n(x(v('p50')))}" y2="${cy + 12}" stroke="#000" stroke-width="2"/>` +
        `<line x1="${n(x(v('p99')))}" y1="${cy - 7}" x2="${n(x(v('p99')))}" y2="${cy + 7}" stroke="#000" stroke-width="1.5"/>` +
        `<circle cx="${n(x(v('max')))}" cy="${cy}" r="2.5" fill="#555"/>` +
        `<text x="${n(x(v('p50')))}" y="${cy - 14}" text-anchor="middle" class="tick">p50 ${esc(msLabel(v('p50')))}</text>` +
        `</g>`,
    );
  });
  out.push(`<text x="${W - 10}" y="${axisY + 30}" text-anchor="end" class="axis">${log ? 'logarithmic axis; ' : ''}line min–max · box p50–p90 · whisker to p99 (tick) · dot max</text>`);
  out.push('</svg>');
  return out.join('');
}

export function latencyTable(m: ModeReport, tlsInConnect = false): string {
  const rows = phases((m.latency ?? {}) as unknown as Record<string, Summary | undefined>, tlsInConnect);
  if (rows.length === 0) return '';
  const cell = (x: number | null | undefined): string => (x === null || x === undefined ? '–' : esc(msLabel(x)));
  const body = rows
    .map(([key, label, colour, s]) => `<tr><td title="${esc(label)}"><span class="swatch" style="background:${colour}"></span>${esc(key)}</td><td>${esc(s.count)}</td><td>${cell(s.p50)}</td><td>${cell(s.p90)}</td><td>${cell(s.p99)}</td><td>${cell(s.max)}</td></tr>`)
    .join('');
  return `<table class="num"><thead><tr><th>phase</th><th>count</th><th>p50</th><th>p90</th><th>p99</th><th>max</th></tr></thead><tbody>${body}</tbody></table>`;
}
