/**
 * The timeline of one mode as small multiples: one row per backend (and one for errors), one bar
 * per time bucket of the probe's timeline, all rows on the same scale, so a backend that joins
 * late, drains or takes over shows as a row that starts, stops or grows.
 */
import type { ModeReport } from '../document.js';
import { clip, esc, n } from '../escape.js';
import { ERROR_COLOUR, HATCH_ID, type Palette } from '../palette.js';
import { linearTicks, msLabel } from './axis.js';

const W = 1120;
const LABEL = 170;
const RIGHT = 70;
const ROW = 30;
const MAX_ROWS = 16;

export function timelineChart(m: ModeReport, palette: Palette): string {
  const tl = m.timeline;
  const buckets = tl?.buckets ?? [];
  if (buckets.length === 0) return '<p class="muted">No timeline (no request finished).</p>';
  const names = (m.backends ?? []).map((b) => b.name);
  const shown = names.slice(0, MAX_ROWS);
  const rest = names.slice(MAX_ROWS);
  type Row = { key: string; label: string; colour: string; values: number[]; error?: boolean };
  const rows: Row[] = shown.map((name) => ({ key: name, label: name, colour: palette.colour(name), values: buckets.map((b) => b.backends?.[name] ?? 0) }));
  if (rest.length) rows.push({ key: '(other)', label: `${rest.length} other backends`, colour: '#999999', values: buckets.map((b) => rest.reduce((s, r) => s + (b.backends?.[r] ?? 0), 0)) });
  const unidentified = buckets.map((b) => Math.max(0, b.requests - b.errors - Object.values(b.backends ?? {}).reduce((s, v) => s + v, 0)));
  if (unidentified.some((v) => v > 0)) rows.push({ key: '(unidentified)', label: 'unidentified', colour: '#999999', values: unidentified });
  if (buckets.some((b) => b.errors > 0)) rows.push({ key: '(errors)', label: 'errors', colour: ERROR_COLOUR, values: buckets.map((b) => b.errors), error: true });
  const max = Math.max(1, ...rows.flatMap((r) => r.values));
  const plotW = W - LABEL - RIGHT;
  const bw = plotW / buckets.length;
  const top = 8;
  const h = top + rows.length * ROW + 34;
  const span = buckets.length * tl.bucketMs;
  const out: string[] = [];
  out.push(`<svg class="chart timeline" role="img" aria-label="requests per backend over time" width="${W}" height="${h}" viewBox="0 0 ${W} ${h}">`);
  out.push(`<title>Requests per backend per ${esc(msLabel(tl.bucketMs))}</title>`);
  rows.forEach((r, i) => {
    const y0 = top + i * ROW;
    const base = y0 + ROW - 4;
    const total = r.values.reduce((s, v) => s + v, 0);
    const parts: string[] = [];
    parts.push(`<g class="timeline-row" data-row="${esc(r.key)}"><title>${esc(r.label)}: ${total} requests</title>`);
    parts.push(`<text x="${LABEL - 8}" y="${base - 6}" text-anchor="end" class="label">${esc(clip(r.label, 22))}</text>`);
    parts.push(`<line x1="${LABEL}" y1="${base}" x2="${LABEL + plotW}" y2="${base}" class="baseline"/>`);
    r.values.forEach((v, j) => {
      if (v <= 0) return;
      const bh = Math.max(1.5, (v / max) * (ROW - 8));
      parts.push(`<rect x="${n(LABEL + j * bw + 0.5)}" y="${n(base - bh)}" width="${n(Math.max(1, bw - 1))}" height="${n(bh)}" fill="${r.error ? `url(#${HATCH_ID})` : r.colour}"><title>${esc(r.label)} ${esc(msLabel(buckets[j].t))}–${esc(msLabel(buckets[j].t + tl.bucketMs))}: ${v}</title></rect>`);
    });
    parts.push(`<text x="${LABEL + plotW + 8}" y="${base - 6}" class="value">${total}</text></g>`);
    out.push(parts.join(''));
  });
  const axisY = top + rows.length * ROW + 2;
  out.push(`<line x1="${LABEL}" y1="${axisY}" x2="${LABEL + plotW}" y2="${axisY}" class="axisline"/>`);
  for (const t of linearTicks(span, 8)) {
    const tx = LABEL + (t / span) * plotW;
    out.push(`<line x1="${n(tx)}" y1="${axisY}" x2="${n(tx)}" y2="${axisY + 4}" class="axisline"/><text x="${n(tx)}" y="${axisY + 16}" text-anchor="middle" class="axis">${esc(t === 0 ? '0' : msLabel(t))}</text>`);
  }
  out.push(`<text x="${LABEL + plotW}" y="${axisY + 30}" text-anchor="end" class="axis">time since the mode started; one bar = ${esc(msLabel(tl.bucketMs))}; bar height = requests (same scale in every row, max ${max})</text>`);
  out.push('</svg>');
  return out.join('');
}
