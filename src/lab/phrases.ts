/**
 * Measured numbers turned into the story's phrases ("alpha 34%, bravo 33%"), so every sentence the
 * lab prints about a run comes from that run's probe report.
 */
import type { ModeReport } from '../probe/summary.js';
import { formatDuration } from '../core/units.js';

export function pct(x: number): string {
  return `${Math.round(x * 100)}%`;
}

/** "alpha 34%, bravo 33%, charlie 33%" (names in the given order, missing ones at 0%). */
export function sharesText(m: ModeReport | undefined, names?: string[]): string {
  if (!m) return 'no data';
  const by = new Map(m.backends.map((b) => [b.name, b.share]));
  const list = names ?? [...by.keys()].sort();
  if (list.length === 0) return 'no backend identified';
  return list.map((n) => `${n} ${pct(by.get(n) ?? 0)}`).join(', ');
}

/** Distinct backends that answered in a mode. */
export function backendsReached(m: ModeReport | undefined): string[] {
  return (m?.backends ?? []).filter((b) => b.count > 0).map((b) => b.name).sort();
}

/** "4 connections: 4 reached one backend each" style summary of pooled connections. */
export function connectionsText(m: ModeReport | undefined): string {
  if (!m) return 'no data';
  const withOk = m.perConnection.filter((c) => Object.keys(c.backends).length > 0);
  const single = withOk.filter((c) => Object.keys(c.backends).length === 1).length;
  const several = withOk.length - single;
  const parts = withOk.map((c) => Object.keys(c.backends).sort().join('+'));
  const shown = parts.length <= 8 ? ` (${parts.join(', ')})` : '';
  if (several === 0) return `each of the ${withOk.length} keep-alive connections stayed on one backend${shown}`;
  if (single === 0) return `every one of the ${withOk.length} keep-alive connections reached several backends`;
  return `${single} of ${withOk.length} keep-alive connections stayed on one backend, ${several} reached several`;
}

/** "12 of 200 failed (6%)". */
export function errorsText(m: ModeReport | undefined): string {
  if (!m) return 'no data';
  return `${m.errors} of ${m.requests} failed (${pct(m.requests ? m.errors / m.requests : 0)})`;
}

export function ms(x: number | null | undefined): string {
  return x === null || x === undefined ? '-' : formatDuration(x);
}
