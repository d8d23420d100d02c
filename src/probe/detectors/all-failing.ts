/**
 * `all-failing` (error): every request of a mode failed, as the balancer saw it (connects that
 * found no local port never reached it: see local-port-exhaustion).
 */
import type { Finding } from '../../core/finding.js';
import type { ModeDetector } from './context.js';
import { kindsOf } from './failure-pattern.js';
import { withoutLocalPortErrors } from './local-port-exhaustion.js';

export const allFailing: ModeDetector = (tally): Finding | null => {
  const m = withoutLocalPortErrors(tally);
  if (m.errors === 0 || m.requests === 0 || m.ok !== 0) return null;
  const kinds = kindsOf(m);
  const kindText = kinds.map((k) => `${k.kind} ${k.count}`).join(', ');
  return {
    id: 'all-failing',
    severity: 'error',
    mode: m.mode,
    title: `${m.mode}: every one of ${m.requests} requests failed (${kindText})`,
    evidence: [`${m.mode}: ${kindText}`],
    explanation: 'Nothing succeeded in this mode: the balancer has no healthy backend (503 from the balancer), the backends reject the request (check -X, -H, the path), or connections are refused or reset.',
    remedy: 'Check the balancer\'s pool state and a direct request to a backend with the same path and headers.',
    metrics: { requests: m.requests, errors: m.errors },
  };
};
