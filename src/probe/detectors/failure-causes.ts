/** The usual causes of "some requests fail", ranked on what the probe saw (for intermittent-errors). */
import { formatDuration } from '../../core/units.js';
import type { ModeTally } from '../tally.js';
import type { FailurePattern } from './failure-pattern.js';
import { onlyTlsFailures } from './tls-error.js';

export interface Causes {
  signals: string[];
  ranked: string[];
  checks: string[];
  lead?: string;
  leadId?: string;
}

/**
 * Ranks the usual causes of "some requests fail" on what the probe saw: how long failures took
 * (a balancer retrying a dead server takes seconds — haproxy waits 1 s between its 3 connect
 * retries — a stale listener answers at once), how they failed (refused by the VIP, closed/reset
 * after the balancer accepted, a 5xx from the balancer itself or from a named backend), and the
 * rotation pattern.
 */
export function rankCauses(m: ModeTally, p: FailurePattern): Causes {
  const signals: string[] = [];
  // TLS-level failures (certificate, alert, version) are tls-error's: no pool cause to rank.
  if (onlyTlsFailures(m)) return { signals: ['every failure was a TLS-level error (see tls-error): the connections were accepted and a TLS stack answered'], ranked: [], checks: [] };
  // Listener and pool-member causes act on new connections; failures on reused ones have their own
  // causes (idle timeouts: idle-timeout-reset), so only rank when new connections carry them.
  const onFresh = m.errors > 0 && m.failedFresh / m.errors >= 0.8;
  const failedP50 = m.failedTotal.quantile(0.5);
  const okP50 = m.okTotal.quantile(0.5);
  const slowFailures = m.failedTotal.countBetween(900, 1e12);
  const slow = m.errors > 0 && slowFailures / m.errors >= 0.6 && failedP50 > Math.max(900, 5 * okP50);
  const fast = m.errors > 0 && failedP50 < Math.max(300, 3 * okP50);
  let refusedAtVip = 0;
  let droppedAfterAccept = 0;
  for (const [k, v] of m.errorKinds) {
    if (k === 'refused') refusedAtVip += v.connectPhase;
    if (k === 'closed' || k === 'reset') droppedAfterAccept += v.count - v.connectPhase;
  }
  let balancer5xx = 0;
  for (const [st, n] of m.statuses) if (st >= 500) balancer5xx += n;
  balancer5xx -= m.failedIdentified;
  const named = m.failedIdentified;
  signals.push(
    `failed requests took ${formatDuration(failedP50)} (median; ${slowFailures} of ${m.errors} over 0.9 s), successful ones ${formatDuration(okP50)}${slow ? ': something waited before giving up' : fast ? ': the failures came back at once' : ''}`,
  );
  const how: string[] = [];
  if (refusedAtVip) how.push(`${refusedAtVip} refused by the VIP itself`);
  if (droppedAfterAccept) how.push(`${droppedAfterAccept} accepted, then closed or reset with no answer`);
  if (balancer5xx > 0) how.push(`${balancer5xx} 5xx answers without backend identity (the balancer's own error page)`);
  if (named) how.push(`${named} 5xx answers that named their backend`);
  if (how.length) signals.push(`how they failed: ${how.join('; ')}`);

  type C = { id: string; score: number; text: string; check: string; lead: string };
  const cands: C[] = [];
  if (!onFresh) return { signals, ranked: [], checks: [] };
  const dead: C = {
    id: 'dead-member',
    score: 0,
    lead: 'most likely a dead pool member',
    text: `a pool member that is down or refuses connections, still in rotation because no health check removes it: the balancer accepts the client and fails to reach that server${slow ? ' (haproxy retries it 3 times, 1 s apart, then closes the connection in mode tcp or answers 503 in mode http: failures after about 3 s)' : ''}, so its share of new connections fails.`,
    check: 'Check the pool members as the balancer sees them (haproxy stats page or `show stat`: a server with connection errors/retries; nginx error log `connect() failed ... while connecting to upstream`) and connect to each backend directly; enable health checks (`check` on haproxy servers, `max_fails` / active checks on nginx) so a dead member leaves the rotation.',
  };
  const stale: C = {
    id: 'stale-listener',
    score: 0,
    lead: 'most likely a stale listener on the VIP port',
    text: 'several processes listening on the VIP port with SO_REUSEPORT, one of them stale (an haproxy/nginx generation left over by a reload): the kernel hashes each new connection to one listener at random, and the stale one answers at once with its own error (or refuses/resets).',
    check: "List every listener on the VIP port on the balancer host: `ss -ltnp 'sport = :PORT'`: more processes than expected means stale generations from reloads; stop them (haproxy `hard-stop-after`, master-worker reloads).",
  };
  const badBackend: C = {
    id: 'failing-backend',
    score: 0,
    lead: 'a backend answers errors itself',
    text: 'a backend that answers 5xx itself (the failing answers carry its identity).',
    check: 'Look at that backend (its logs and a direct request with the same path and headers) and take it out of the pool until fixed; make the health check exercise the same path.',
  };
  cands.push(dead, stale, badBackend);
  if (named > 0) badBackend.score += 3 * (named / m.errors) + 1;
  if (slow) dead.score += 3;
  if (fast && balancer5xx > 0) stale.score += 2;
  if (fast && (refusedAtVip || droppedAfterAccept)) {
    stale.score += 1;
    dead.score += 1;
  }
  if (droppedAfterAccept && slow) dead.score += 1;
  if (p.oneInN !== undefined && p.periodic) dead.score += 2;
  if (p.oneInN !== undefined && !p.periodic) stale.score += 1;
  if (p.oneInN !== undefined && !p.periodic && m.mode === 'short') dead.score += 0.5; // random/leastconn balancing with a dead member also fits
  const ranked = cands.filter((c) => c.score > 0).sort((a, b) => b.score - a.score);
  if (ranked.length === 0) return { signals, ranked: [], checks: [] };
  const lead = ranked.length === 1 || ranked[0].score >= ranked[1].score + 1 ? ranked[0] : undefined;
  const checks = ranked.map((c, i) => `(${i + 1}) ${c.check}`);
  // The usual suspects the evidence speaks against: say why, so the reader does not chase them.
  const unlikely: string[] = [];
  if (stale.score === 0 && slow) unlikely.push('a stale listener on the VIP port (SO_REUSEPORT) answers or fails at once, not after seconds');
  if (dead.score === 0 && fast && balancer5xx > 0) unlikely.push('a dead pool member makes the balancer retry before its 503 (seconds), these came at once');
  if (unlikely.length) signals.push(`less likely: ${unlikely.join('; ')}`);
  if (ranked.length === 1 && ranked[0].id === 'dead-member') checks.push("To rule out a stale listener for good: `ss -ltnp 'sport = :PORT'` on the balancer host shows one process per expected listener.");
  if (ranked.length === 1 && ranked[0].id === 'stale-listener') checks.push('To rule out a dead pool member: the balancer\'s per-server state and error counters show every member up, and a dead member would make the balancer retry (seconds) before failing.');
  if (ranked.length > 1) checks.push(`The check that tells ${ranked[0].id} from ${ranked[1].id}: ${ranked[0].id === 'stale-listener' || ranked[1].id === 'stale-listener' ? "`ss -ltnp 'sport = :PORT'` on the balancer (one listener: not stale) against the pool's member states" : 'the balancer\'s per-server error counters'}.`);
  return { signals, ranked: ranked.map((c) => c.text), checks, lead: lead?.lead, leadId: lead?.id };
}
