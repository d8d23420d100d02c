/**
 * `stale-instance` and `backend-restarted`: one backend name answered from several process
 * generations (lbdiag whoami's X-Lbdiag-Instance, ordered by X-Lbdiag-Started when sent). An older
 * generation still accepting new connections after a newer one answered is stale; a clean
 * handover is a restart (info).
 */
import type { Finding } from '../../core/finding.js';
import { formatDuration } from '../../core/units.js';
import type { ModeTally } from '../tally.js';
import type { RunDetector } from './context.js';

interface Generation {
  instance: string;
  started?: number;
  pids: Set<number>;
  count: number;
  fresh: number;
  firstT: number;
  lastT: number;
}

/**
 * For one backend name: its generations (lbdiag whoami's X-Lbdiag-Instance is one value per start,
 * shared by its --workers processes), and for each ordered pair how many new connections the
 * first accepted after the second first answered.
 */
function generationsOf(modes: readonly ModeTally[]): Map<string, { gens: Map<string, Generation>; freshAfter: (older: string, newer: string) => number }> {
  const out = new Map<string, { gens: Map<string, Generation>; freshAfter: (o: string, n: string) => number }>();
  const ordered = [...modes].sort((a, b) => a.startT - b.startT);
  const names = new Set<string>();
  for (const m of ordered) for (const b of m.backends.values()) if (b.instances.size) names.add(b.name);
  for (const name of names) {
    const gens = new Map<string, Generation>();
    for (const m of ordered) {
      const b = m.backends.get(name);
      for (const i of b?.instances.values() ?? []) {
        const g = gens.get(i.instance);
        if (!g) gens.set(i.instance, { instance: i.instance, started: i.started, pids: new Set(i.pids), count: i.count, fresh: i.fresh, firstT: i.firstT, lastT: i.lastT });
        else {
          g.count += i.count;
          g.fresh += i.fresh;
          g.firstT = Math.min(g.firstT, i.firstT);
          g.lastT = Math.max(g.lastT, i.lastT);
          g.started ??= i.started;
          for (const p of i.pids) g.pids.add(p);
        }
      }
    }
    const freshAfter = (older: string, newer: string): number => {
      let n = 0;
      let newerSeen = false;
      for (const m of ordered) {
        const b = m.backends.get(name);
        const o = b?.instances.get(older);
        const appearsHere = b?.instances.has(newer) ?? false;
        if (o) {
          if (newerSeen) n += o.fresh; // the newer one answered in an earlier mode already
          else if (appearsHere) n += o.fresh - (o.freshBefore.get(newer) ?? 0);
        }
        if (appearsHere) newerSeen = true;
      }
      return n;
    };
    out.set(name, { gens, freshAfter });
  }
  return out;
}

export const staleInstance: RunDetector = (modes): Finding[] => {
  const out: Finding[] = [];
  for (const [name, { gens, freshAfter }] of generationsOf(modes)) {
    if (gens.size < 2) continue;
    const list = [...gens.values()];
    const byStart = list.every((g) => g.started !== undefined);
    // Oldest first: by the start time the server reports, else by when the probe first saw it.
    list.sort((a, b) => (byStart ? a.started! - b.started! : 0) || a.firstT - b.firstT);
    const describe = (g: Generation): string =>
      `instance ${g.instance}${g.started !== undefined ? ` started ${new Date(g.started).toISOString()}` : ''}${g.pids.size ? ` (pid${g.pids.size > 1 ? 's' : ''} ${[...g.pids].slice(0, 4).join(', ')}${g.pids.size > 4 ? ', …' : ''})` : ''}: ${g.count} responses (${g.fresh} on new connections), ${formatDuration(g.firstT)}–${formatDuration(g.lastT)}`;
    // An older generation still accepting new connections after a newer one answered: stale.
    // (Answers it gives on connections it already held are a normal drain, and one straggler
    // accepted while a reload swaps listeners is a race, not a surviving process.)
    const pairs: { older: Generation; newer: Generation; after: number }[] = [];
    for (let i = 0; i < list.length; i++)
      for (let j = i + 1; j < list.length; j++) {
        const older = list[i];
        const newer = list[j];
        if (byStart && older.started === newer.started) continue;
        const after = freshAfter(older.instance, newer.instance);
        if (after >= 2 && newer.count >= 2) pairs.push({ older, newer, after });
      }
    const evidence = list.slice(0, 6).map(describe);
    if (list.length > 6) evidence.push(`… ${list.length - 6} more instances`);
    if (pairs.length === 0) {
      out.push({
        id: 'backend-restarted',
        severity: 'info',
        backend: name,
        title: `${name} was restarted during the probe (${gens.size} generations, one after the other)`,
        evidence,
        explanation: 'A new process generation took over from the old one; the old one stopped accepting new connections when the new one appeared (a clean handover). Connections to the old one may have been cut.',
        remedy: 'Expected after a deploy; if not, check why the backend restarts (crash loop, OOM kill, liveness probe).',
        metrics: { instances: list.map((g) => g.instance), counts: list.map((g) => g.count), started: list.map((g) => g.started ?? 0) },
      });
      continue;
    }
    const worst = pairs.sort((a, b) => b.after - a.after)[0];
    evidence.push(
      `${worst.older.instance} (${byStart ? 'started earlier' : 'seen first'}) accepted ${worst.after} new connection${worst.after === 1 ? '' : 's'} after ${worst.newer.instance} (${byStart ? 'started later' : 'seen later'}) first answered: both generations take new connections side by side`,
    );
    if (!byStart)
      evidence.push(`no X-Lbdiag-Started header: the generations are ordered by when the probe first saw them, which cannot tell a stale process from sibling worker processes that each report their own instance (lbdiag whoami before X-Lbdiag-Started gave each --workers process its own instance)`);
    out.push({
      id: 'stale-instance',
      severity: byStart ? 'warn' : 'info',
      backend: name,
      title: byStart
        ? `${name}: an older generation (${worst.older.instance}, started ${formatDuration(worst.newer.started! - worst.older.started!)} earlier) still takes new connections beside ${worst.newer.instance}`
        : `${name} answered from ${gens.size} instances taking new connections side by side (a stale process, or worker processes that each report an instance)`,
      evidence,
      explanation: byStart
        ? 'Two process generations with the same backend name accept new connections side by side, and one of them started earlier: an old process survived a reload or restart (it still listens, e.g. SO_REUSEPORT, or a stuck old process never exits), or an old deployment still serves under the same name. It may run old code or config. Several pids under ONE instance are the --workers processes of one start, never counted here.'
        : 'Either an old process survived a reload or restart and still accepts connections next to the new one, or these are worker processes of one server that each label themselves with their own instance id. Without a start time the two look the same.',
      remedy: byStart
        ? 'Find the old process (`ss -ltnp` shows every listener on the port, with pids; compare their start times with `ps -o pid,lstart`) and stop it; make reloads finish old workers (haproxy `hard-stop-after`, nginx `worker_shutdown_timeout`).'
        : 'Check the listeners and their start times on the backend host (`ss -ltnp`, `ps -o pid,ppid,lstart`): siblings of one parent started together are workers (upgrade lbdiag whoami so it sends X-Lbdiag-Started); an older lone process is stale: stop it.',
      metrics: { instances: list.map((g) => g.instance), counts: list.map((g) => g.count), started: list.map((g) => g.started ?? 0), staleInstance: worst.older.instance, newerInstance: worst.newer.instance, freshAfterNewer: worst.after, orderedBy: byStart ? 'started' : 'first-seen', overlap: true },
    });
  }
  return out;
};
