/** A plain horizontal bar list (label, bar, value): the capture's connections per server endpoint. */
import { clip, esc, n } from '../escape.js';

const W = 640;
const LABEL = 220;
const ROW = 24;

export function barList(rows: { label: string; value: number; colour: string }[], total: number, unit: string): string {
  if (rows.length === 0) return '';
  const max = Math.max(1, ...rows.map((r) => r.value));
  const barW = W - LABEL - 150;
  const h = rows.length * ROW + 8;
  const out: string[] = [`<svg class="chart bars" role="img" aria-label="${esc(unit)} per item" width="${W}" height="${h}" viewBox="0 0 ${W} ${h}">`];
  rows.forEach((r, i) => {
    const y = 4 + i * ROW;
    const w = Math.max(1, (r.value / max) * barW);
    const pct = total > 0 ? ` · ${((100 * r.value) / total).toFixed(1)}%` : '';
    out.push(
      `<g class="bar-row"><title>${esc(r.label)}: ${r.value} ${esc(unit)}${pct}</title>` +
        `<text x="${LABEL - 8}" y="${y + 15}" text-anchor="end" class="label">${esc(clip(r.label, 30))}</text>` +
        `<rect x="${LABEL}" y="${y + 3}" width="${n(w)}" height="${ROW - 7}" fill="${r.colour}" rx="2"/>` +
        `<text x="${n(LABEL + w + 6)}" y="${y + 15}" class="value">${r.value} ${esc(unit)}${pct}</text></g>`,
    );
  });
  out.push('</svg>');
  return out.join('');
}
