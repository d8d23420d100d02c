/**
 * `idle-timeout-reset`: on pooled connections, requests on reused connections reset or closed
 * after sitting idle, more often than on new ones: an idle timeout shorter than the client's.
 */
import type { Finding } from '../../core/finding.js';
import { formatDuration } from '../../core/units.js';
import type { ModeDetector } from './context.js';
import { withoutLocalPortErrors } from './local-port-exhaustion.js';
import { pooled } from './shares.js';

export const idleTimeoutReset: ModeDetector = (tally): Finding | null => {
  const m = withoutLocalPortErrors(tally);
  // Raised beside intermittent-errors only: some requests of the mode failed, not all.
  if (m.errors === 0 || m.requests === 0 || m.ok === 0) return null;
  if (!pooled(m) || m.idleFailed.count === 0) return null;
  let n = 0;
  for (const k of ['reset', 'closed']) n += m.errorKinds.get(k)?.reused ?? 0;
  if (n === 0) return null;
  const reusedRate = m.failedReused / Math.max(1, m.reused);
  const freshRate = m.failedFresh / Math.max(1, m.fresh);
  if (m.fresh > 0 && reusedRate <= freshRate) return null;
  const idleFailedP50 = m.idleFailed.quantile(0.5);
  const idleAllP50 = m.idleAll.quantile(0.5);
  return {
    id: 'idle-timeout-reset',
    severity: 'warn',
    mode: m.mode,
    title: `${m.mode}: ${n} requests on reused connections were reset or closed after sitting idle (median idle ${formatDuration(idleFailedP50)})`,
    evidence: [
      `${n} of ${m.reused} requests on reused connections failed with reset/closed; ${m.failedFresh} of ${m.fresh} on new connections failed`,
      `idle before the failed ones: median ${formatDuration(idleFailedP50)}, max ${formatDuration(m.idleFailed.max)}; before all reused requests: median ${formatDuration(idleAllP50)}`,
    ],
    explanation:
      'The server (or the balancer, or a NAT/firewall) closed the idle keep-alive connection just as the client sent on it: the client\'s idle timeout is longer than the other side\'s. Node.js servers close idle connections after 5 s by default (`server.keepAliveTimeout`); nginx `keepalive_timeout` 75 s; AWS ALB 60 s; many firewalls drop idle flows silently.',
    remedy:
      'Make the client\'s pool idle timeout shorter than every hop\'s idle timeout (or the server\'s longer), and retry idempotent requests once when a reused connection fails before any response byte.',
    metrics: { failures: n, reused: m.reused, idleFailedP50Ms: idleFailedP50, idleAllP50Ms: idleAllP50 },
  };
};
