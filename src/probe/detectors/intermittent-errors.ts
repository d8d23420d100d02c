/**
 * `intermittent-errors`: some requests of a mode fail while others succeed, with the rate, the
 * new-vs-reused split, the 1-in-N pattern and the causes ranked on the evidence. Connects that
 * found no local port never reached the balancer and are left out (see local-port-exhaustion).
 */
import type { Finding } from '../../core/finding.js';
import type { ModeDetector } from './context.js';
import { rankCauses } from './failure-causes.js';
import { failurePattern, kindsOf, ordinal } from './failure-pattern.js';
import { withoutLocalPortErrors } from './local-port-exhaustion.js';
import { pct } from './shares.js';

export const intermittentErrors: ModeDetector = (tally): Finding | null => {
  const m = withoutLocalPortErrors(tally);
  if (m.errors === 0 || m.requests === 0 || m.ok === 0) return null;
  const kinds = kindsOf(m);
  const kindText = kinds.map((k) => `${k.kind} ${k.count}`).join(', ');
  const rate = m.errors / m.requests;
  const freshRate = m.fresh ? m.failedFresh / m.fresh : 0;
  const reusedRate = m.reused ? m.failedReused / m.reused : 0;
  const evidence = [`${m.mode}: ${m.errors} of ${m.requests} requests failed (${pct(rate)}): ${kindText}`];
  if (m.fresh && m.reused) evidence.push(`on new connections ${m.failedFresh}/${m.fresh} (${pct(freshRate)}), on reused connections ${m.failedReused}/${m.reused} (${pct(reusedRate)})`);
  // Which backends the failing responses named (5xx with identity).
  const failingBackends = [...m.backends.values()].filter((b) => b.errors > 0).sort((a, b) => b.errors - a.errors);
  if (failingBackends.length) evidence.push(`5xx by backend: ${failingBackends.map((b) => `${b.name} ${b.errors}/${b.responses}`).join(', ')}`);
  const pattern = failurePattern(m, rate);
  if (pattern.text) evidence.push(pattern.text);
  const oneInN = pattern.oneInN;
  const causes = rankCauses(m, pattern);
  evidence.push(...causes.signals);
  const concentratedFresh = m.fresh > 0 && m.reused > 0 && freshRate > 2 * reusedRate;
  const concentratedReused = m.fresh > 0 && m.reused > 0 && reusedRate > 2 * freshRate;
  let explanation = 'Some requests fail while the rest succeed: one backend or one listener is bad while the others are fine, or a middlebox drops some connections.';
  if (causes.ranked.length) explanation += ` What the failures show, most likely cause first: ${causes.ranked.map((c, i) => `(${i + 1}) ${c}`).join(' ')}`;
  else if (m.mode === 'short' || concentratedFresh)
    explanation += ' The failures hit new connections: the choice is made per connection — a bad pool member the health check does not catch, or several processes listening on the same port with SO_REUSEPORT (old haproxy/nginx processes left over by reloads: the kernel hashes new connections over all listeners, so about 1 in N fail when one of N is stale).';
  if (concentratedReused) explanation += ' The failures hit reused connections: an idle timeout on the server or a middlebox shorter than the client\'s (see idle-timeout-reset), or a backend that restarts under established connections.';
  return {
    id: 'intermittent-errors',
    severity: rate >= 0.01 ? 'error' : 'warn',
    mode: m.mode,
    title: `${m.mode}: ${pct(rate)} of requests fail${oneInN ? ` (${pattern.periodic ? `every ${ordinal(oneInN)}` : `about 1 in ${oneInN}`})` : ''}: ${kinds.slice(0, 3).map((k) => k.kind).join(', ')}${causes.lead ? ` — ${causes.lead}` : ''}`,
    evidence,
    explanation,
    remedy: causes.checks.length
      ? causes.checks.join(' ')
      : 'Find the failing backend (the per-backend table, or `--records` lines with an error) and take it out of the pool; make the health check exercise the same path; for resets on reused connections align idle timeouts.',
    metrics: {
      requests: m.requests,
      errors: m.errors,
      rate,
      freshRate,
      reusedRate,
      oneInN: oneInN ?? null,
      periodic: pattern.periodic,
      failedP50Ms: m.failedTotal.quantile(0.5),
      okP50Ms: m.okTotal.quantile(0.5),
      failedIdentified: m.failedIdentified,
      likelyCause: causes.leadId ?? null,
      kinds: kinds.map((k) => k.kind),
      kindCounts: kinds.map((k) => k.count),
    },
  };
};

