/**
 * `insufficient-data`: the tests whose sample was too small to decide (keepalive-pinning,
 * imbalance, single-backend), with the request count each would need. Runs the same pure tests
 * again (in that order, each mode in run order) rather than sharing state with their detectors.
 */
import type { Finding } from '../../core/finding.js';
import type { RunDetector } from './context.js';
import { assessImbalance } from './imbalance.js';
import { assessKeepalivePinning } from './keepalive-pinning.js';
import { assessSingleBackend } from './single-backend.js';
import { type Undecided, undecidedOf } from './undecided.js';
import { sourceAffinity } from './source-affinity.js';

function push(list: Undecided[], u: Undecided | null): void {
  if (u) list.push(u);
}

export const insufficientData: RunDetector = (modes, ctx): Finding | null => {
  const undecided: Undecided[] = [];
  for (const m of modes) push(undecided, undecidedOf(assessKeepalivePinning(m, ctx)));
  for (const m of modes) push(undecided, undecidedOf(assessImbalance(m, ctx)));
  push(undecided, undecidedOf(assessSingleBackend(modes, ctx)));
  // ── Other tests that can be undecided add their assessment here, after single-backend.
  for (const m of modes) push(undecided, undecidedOf(sourceAffinity(m)));
  if (undecided.length === 0) return null;
  const needed = Math.max(...undecided.map((u) => u.needed));
  const tests = [...new Set(undecided.map((u) => u.test))];
  return {
    id: 'insufficient-data',
    severity: 'info',
    title: `too few requests to decide ${tests.join(', ')}: run at least -n ${needed}`,
    evidence: undecided.map((u) => `${u.test}${u.mode ? ` (${u.mode})` : ''}: ${u.have} requests, needs at least ${u.needed}: ${u.why}`),
    explanation:
      'No finding is not the same as no problem: with this sample the test cannot tell the fault from chance, so lbdiag draws no conclusion either way. Each number needed is the smallest count at which the test could reach its own threshold, had every request gone the worst way.',
    remedy: `Run again with -n ${needed} or more (or a --duration long enough), keeping -c as it is.`,
    metrics: { tests, needed: undecided.map((u) => u.needed), have: undecided.map((u) => u.have), requestsNeeded: needed },
  };
};
