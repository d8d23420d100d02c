/**
 * The connection → backend map: every client connection of a mode is a row on the left (its
 * height is the requests it carried), every backend a node on the right, and a ribbon joins them
 * with a width proportional to the requests that connection sent to that backend. A layer-4
 * balancer draws one ribbon per row (each connection pinned); a layer-7 one fans every row out.
 * Requests that failed or named no backend go to a grey "no backend" node.
 */
import type { ModeReport } from '../document.js';
import { clip, esc, n } from '../escape.js';
import { ERROR_COLOUR, type Palette } from '../palette.js';

const W = 1120;
const LEFT_LABEL = 220;
const NODE = 12;
const RIGHT_LABEL = 250;
/** Rows drawn one by one; connections beyond are merged into one row (the largest are kept). */
export const MAP_MAX_ROWS = 150;
const NO_BACKEND = '(no backend)';

type Conn = ModeReport['perConnection'][number];

interface Row {
  key: string;
  label: string;
  tip: string;
  requests: number;
  flows: Map<string, number>;
}

export function connectionMap(m: ModeReport, palette: Palette): string {
  const conns = m.perConnection ?? [];
  if (conns.length === 0) return '';
  let listed: Conn[] = [...conns].sort((a, b) => a.id - b.id);
  let merged: Conn[] = [];
  if (listed.length > MAP_MAX_ROWS) {
    const keep = new Set([...conns].sort((a, b) => b.requests - a.requests || a.id - b.id).slice(0, MAP_MAX_ROWS - 1).map((c) => c.id));
    merged = listed.filter((c) => !keep.has(c.id));
    listed = listed.filter((c) => keep.has(c.id));
  }
  const flowsOf = (c: Conn): Map<string, number> => {
    const f = new Map<string, number>();
    let named = 0;
    for (const [b, v] of Object.entries(c.backends ?? {})) {
      f.set(b, v);
      named += v;
    }
    if (c.requests - named > 0) f.set(NO_BACKEND, c.requests - named);
    return f;
  };
  const rows: Row[] = listed.map((c) => {
    const port = c.localPort ? ` :${c.localPort}` : '';
    const reached = Object.keys(c.backends ?? {}).length;
    return {
      key: String(c.id),
      label: `#${c.id}${port} · ${c.requests} req`,
      tip: `connection #${c.id}${port}${c.address ? ` to ${c.address}` : ''}: ${c.requests} requests, ${c.errors} errors, ${reached} backend${reached === 1 ? '' : 's'} reached${c.serverConnections ? `, ${c.serverConnections} server-side connection${c.serverConnections === 1 ? '' : 's'}` : ''}`,
      requests: c.requests,
      flows: flowsOf(c),
    };
  });
  if (merged.length) {
    const flows = new Map<string, number>();
    for (const c of merged) for (const [b, v] of flowsOf(c)) flows.set(b, (flows.get(b) ?? 0) + v);
    const req = merged.reduce((s, c) => s + c.requests, 0);
    rows.push({ key: 'other', label: `${merged.length} more connections · ${req} req`, tip: `${merged.length} smaller connections merged into one row`, requests: req, flows });
  }
  // Right-hand nodes: backends in the document's order (most answers first), then "no backend".
  const totals = new Map<string, number>();
  for (const r of rows) for (const [b, v] of r.flows) totals.set(b, (totals.get(b) ?? 0) + v);
  const order = [...(m.backends ?? []).map((b) => b.name).filter((b) => totals.has(b))];
  for (const b of totals.keys()) if (!order.includes(b) && b !== NO_BACKEND) order.push(b);
  if (totals.has(NO_BACKEND)) order.push(NO_BACKEND);
  const total = rows.reduce((s, r) => s + r.requests, 0);
  if (total === 0) return '<p class="muted">No request finished on these connections.</p>';

  // Left column: one row per connection, height proportional to its requests (with a floor).
  const gapL = rows.length > 60 ? 1 : rows.length > 20 ? 2 : 4;
  const minH = rows.length <= 40 ? 14 : rows.length <= 80 ? 6 : 2;
  const target = Math.min(680, Math.max(70, rows.length * 26));
  const kL = Math.max(0.01, (target - gapL * (rows.length - 1)) / total);
  const heights = rows.map((r) => Math.max(minH, r.requests * kL));
  const leftH = heights.reduce((s, h) => s + h, 0) + gapL * (rows.length - 1);
  // Right column spans the same height.
  const gapR = 10;
  const kR = Math.max(0.01, (leftH - gapR * (order.length - 1)) / total);
  const top = 24;
  const rightY = new Map<string, number>();
  let y = top;
  for (const b of order) {
    rightY.set(b, y);
    y += (totals.get(b) ?? 0) * kR + gapR;
  }
  const h = top + Math.max(leftH, y - gapR - top) + 30;
  const xL = LEFT_LABEL;
  const xR = W - RIGHT_LABEL - NODE;
  const mid = (xL + NODE + xR) / 2;
  const colourOf = (b: string): string => (b === NO_BACKEND ? ERROR_COLOUR : palette.colour(b));

  const out: string[] = [];
  out.push(`<svg class="chart connmap" role="img" aria-label="connection to backend map" width="${W}" height="${n(h)}" viewBox="0 0 ${W} ${n(h)}">`);
  out.push(`<title>Which backend each connection reached (ribbon width = requests)</title>`);
  out.push(`<text x="${xL + NODE}" y="14" text-anchor="end" class="axis">client connections</text><text x="${xR}" y="14" class="axis">backends</text>`);
  const rightUsed = new Map<string, number>();
  let yl = top;
  rows.forEach((r, i) => {
    const hl = heights[i];
    const parts: string[] = [];
    parts.push(`<g class="conn-row" data-conn="${esc(r.key)}"><title>${esc(r.tip)}</title>`);
    let off = 0;
    for (const b of order) {
      const v = r.flows.get(b);
      if (!v) continue;
      const wl = (v / r.requests) * hl;
      const wr = v * kR;
      const y0 = yl + off;
      const y1 = (rightY.get(b) ?? top) + (rightUsed.get(b) ?? 0);
      rightUsed.set(b, (rightUsed.get(b) ?? 0) + wr);
      off += wl;
      const x0 = xL + NODE;
      parts.push(
        `<path class="ribbon" d="M${n(x0)},${n(y0)} C${n(mid)},${n(y0)} ${n(mid)},${n(y1)} ${n(xR)},${n(y1)} L${n(xR)},${n(y1 + wr)} C${n(mid)},${n(y1 + wr)} ${n(mid)},${n(y0 + wl)} ${n(x0)},${n(y0 + wl)} Z" fill="${colourOf(b)}"><title>${esc(r.label.split(' · ')[0])} → ${esc(b)}: ${v} requests</title></path>`,
      );
    }
    parts.push(`<rect x="${xL}" y="${n(yl)}" width="${NODE}" height="${n(hl)}" class="node"/>`);
    if (hl >= 10) parts.push(`<text x="${xL - 6}" y="${n(yl + hl / 2 + 4)}" text-anchor="end" class="label">${esc(clip(r.label, 34))}</text>`);
    parts.push('</g>');
    out.push(parts.join(''));
    yl += hl + gapL;
  });
  for (const b of order) {
    const v = totals.get(b) ?? 0;
    const yb = rightY.get(b) ?? top;
    const hb = Math.max(1, v * kR);
    const pct = ((100 * v) / total).toFixed(1);
    out.push(
      `<g class="backend-node" data-backend="${esc(b)}"><title>${esc(b)}: ${v} requests from ${rows.length === conns.length ? 'these' : 'the'} connections</title>` +
        `<rect x="${xR}" y="${n(yb)}" width="${NODE}" height="${n(hb)}" fill="${colourOf(b)}"/>` +
        `<text x="${xR + NODE + 8}" y="${n(yb + hb / 2 + 4)}" class="label">${esc(clip(b, 22))}<tspan class="value"> ${v} req · ${pct}%</tspan></text></g>`,
    );
  }
  out.push('</svg>');
  return out.join('');
}

/** One line under the map: how many connections stayed on one backend. */
export function connectionMapCaption(m: ModeReport): string {
  const conns = m.perConnection ?? [];
  const withOk = conns.filter((c) => Object.keys(c.backends ?? {}).length > 0);
  const single = withOk.filter((c) => Object.keys(c.backends).length === 1).length;
  const parts = [`${conns.length} connection${conns.length === 1 ? '' : 's'}: ${single} of ${withOk.length} with answers reached one backend only, ${withOk.length - single} reached several.`];
  if (conns.length > MAP_MAX_ROWS) parts.push(`The ${MAP_MAX_ROWS - 1} busiest are drawn one per row; the other ${conns.length - (MAP_MAX_ROWS - 1)} are merged into the last row.`);
  if (m.perConnectionOmitted) parts.push(`${m.perConnectionOmitted} more connections were counted but not detailed by the probe.`);
  return parts.join(' ');
}
