/**
 * Per-backend shares of one mode as a horizontal bar chart: one bar per backend (requests it
 * answered / all identified answers), a dashed line at the even split over the backends seen, and a
 * "not seen" row for every expected backend (--expect-backends) that never answered.
 */
import type { ModeReport } from '../document.js';
import { clip, esc, n } from '../escape.js';
import type { Palette } from '../palette.js';

const W = 580;
const LABEL = 150;
const ROW = 26;
const TOP = 22;

export function sharesChart(m: ModeReport, palette: Palette, expectedNames: string[] = []): string {
  const backends = m.backends ?? [];
  const seen = new Set(backends.map((b) => b.name));
  const missing = expectedNames.filter((x) => !seen.has(x));
  const rows = backends.length + missing.length;
  if (rows === 0) return '<p class="muted">No backend identified an answer in this mode.</p>';
  const even = backends.length ? 1 / backends.length : 0;
  const maxShare = Math.max(even, ...backends.map((b) => b.share));
  const scaleMax = Math.min(1, Math.max(maxShare * 1.12, even * 1.3, 0.05));
  const barW = W - LABEL - 130;
  const x = (share: number): number => LABEL + (share / scaleMax) * barW;
  const h = TOP + rows * ROW + 8;
  const out: string[] = [];
  out.push(`<svg class="chart shares" role="img" aria-label="requests per backend" width="${W}" height="${h}" viewBox="0 0 ${W} ${h}">`);
  out.push(`<title>Share of identified answers per backend</title>`);
  backends.forEach((b, i) => {
    const y = TOP + i * ROW;
    const colour = palette.colour(b.name);
    const label = `${(b.share * 100).toFixed(1)}%  ${b.count} req${b.errors ? `, ${b.errors} 5xx` : ''}`;
    out.push(
      `<g class="share-row" data-backend="${esc(b.name)}"><title>${esc(b.name)}: ${esc(label)}</title>` +
        `<text x="${LABEL - 8}" y="${y + 16}" text-anchor="end" class="label">${esc(clip(b.name, 20))}</text>` +
        `<rect x="${LABEL}" y="${y + 4}" width="${n(Math.max(1, x(b.share) - LABEL))}" height="${ROW - 8}" fill="${colour}" rx="2"/>` +
        `<text x="${n(x(b.share) + 6)}" y="${y + 16}" class="value">${esc(label)}</text></g>`,
    );
  });
  missing.forEach((name, j) => {
    const y = TOP + (backends.length + j) * ROW;
    out.push(
      `<g class="share-row missing" data-backend="${esc(name)}"><title>${esc(name)}: expected, never answered</title>` +
        `<text x="${LABEL - 8}" y="${y + 16}" text-anchor="end" class="label">${esc(clip(name, 20))}</text>` +
        `<rect x="${LABEL}" y="${y + 4}" width="${n(barW)}" height="${ROW - 8}" fill="none" stroke="#999" stroke-dasharray="3 3"/>` +
        `<text x="${LABEL + 8}" y="${y + 16}" class="value">not seen (expected)</text></g>`,
    );
  });
  if (even > 0 && backends.length > 1) {
    const ex = x(even);
    out.push(`<line x1="${n(ex)}" y1="${TOP - 4}" x2="${n(ex)}" y2="${TOP + backends.length * ROW}" class="even"/>`);
    out.push(`<text x="${n(ex)}" y="${TOP - 8}" text-anchor="middle" class="axis">even ${(even * 100).toFixed(1)}%</text>`);
  }
  out.push('</svg>');
  return out.join('');
}
