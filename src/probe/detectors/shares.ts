/** Backend shares of a mode's tally, and the connection views several detectors read. */
import { formatPercent } from '../../core/units.js';
import type { BackendTally, ModeTally } from '../tally.js';

/** A share in percent with one decimal. */
export const pct = (x: number): string => formatPercent(x, 1);

/** Backends that answered successfully in this mode, most answers first (ties by name). */
export function okBackends(t: ModeTally): BackendTally[] {
  return [...t.backends.values()].filter((b) => b.ok > 0).sort((a, b) => b.ok - a.ok || a.name.localeCompare(b.name));
}

/** `a 50.0%, b 25.0%, …`: the mode's shares, largest first, at most `limit` named. */
export function shareList(t: ModeTally, limit = 6): string {
  const bs = okBackends(t);
  const total = bs.reduce((s, b) => s + b.ok, 0);
  const shown = bs.slice(0, limit).map((b) => `${b.name} ${pct(b.ok / total)}`);
  if (bs.length > limit) shown.push(`… ${bs.length - limit} more`);
  return shown.join(', ');
}

/** Modes that keep connections open (keep-alive, rotate): requests follow connections. */
export function pooled(t: ModeTally): boolean {
  return t.mode === 'keepalive' || t.mode === 'rotate';
}

/** Connections (with detail kept) that carried at least `min` successful, identified requests. */
export function connsWithOk(t: ModeTally, min: number) {
  return [...t.conns.values()].filter((c) => [...c.backends.values()].reduce((a, b) => a + b, 0) >= min);
}

/** Backends that answered successfully in any mode. */
export function allBackendNames(modes: readonly ModeTally[]): Set<string> {
  const names = new Set<string>();
  for (const m of modes) for (const b of m.backends.values()) if (b.ok > 0) names.add(b.name);
  return names;
}

/** How many backends each `--source` address reached in the whole run (every mode, successful answers). */
export function sourceBackends(modes: readonly ModeTally[]): Map<string, number> {
  const reached = new Map<string, Set<string>>();
  for (const m of modes)
    for (const [src, t] of m.sources) {
      let r = reached.get(src);
      if (!r) reached.set(src, (r = new Set()));
      for (const [b, n] of t.backends) if (n > 0) r.add(b);
    }
  return new Map([...reached].map(([src, r]) => [src, r.size]));
}
