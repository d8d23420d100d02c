/**
 * `backend-missing` (error): a backend named by `--expect-backends` never answered, or fewer
 * backends answered than `--expect N`. Both options together: each named backend that never
 * answered, and the count when it falls short of N by more than the named ones explain.
 */
import type { Finding } from '../../core/finding.js';
import type { RunDetector } from './context.js';
import { okBackends, shareList } from './shares.js';
import { findUpstreamPool, poolEvidence, POOL_MEANING, POOL_REMEDY } from './upstream-pool.js';

export const backendMissing: RunDetector = (modes, ctx): Finding[] => {
  const { seen, options: o } = ctx;
  const out: Finding[] = [];
  const perMode = modes.filter((m) => m.requests > 0).map((m) => `${m.mode}: ${okBackends(m).length} backends (${shareList(m) || 'none'})`);
  // Short mode rode a proxy's pooled upstream connections: new client connections did not give every member a chance.
  const pool = findUpstreamPool(modes);
  if (pool !== null) perMode.push(poolEvidence(pool));
  let namedMissing = 0;
  if (o.expectBackends?.length) {
    const missing = o.expectBackends.filter((n) => !seen.has(n));
    namedMissing = missing.length;
    for (const n of missing) {
      out.push({
        id: 'backend-missing',
        severity: 'error',
        backend: n,
        title: `expected backend ${n} never answered`,
        evidence: [`expected ${o.expectBackends.join(', ')}; seen ${[...seen].sort().join(', ') || 'none'}`, ...perMode],
        explanation: `No request in any mode reached ${n}: it is out of the pool, failing the balancer's health checks, or its identity is reported differently (check --backend-from).${pool === null ? '' : ` Or it holds none of the proxy's pooled upstream connections: ${POOL_MEANING}`}`,
        remedy: `Check ${n}'s state on the balancer (pool member enabled, health monitor up) and that it answers directly; ${pool === null ? 'if it only misses in keepalive mode, see keepalive-pinning.' : `if it is healthy: ${POOL_REMEDY}`}`,
        metrics: { expected: o.expectBackends, seen: [...seen].sort() },
      });
    }
  }
  if (o.expect !== undefined && seen.size + namedMissing < o.expect) {
    out.push({
      id: 'backend-missing',
      severity: 'error',
      title: `${seen.size} of ${o.expect} expected backends answered`,
      evidence: [`seen ${[...seen].sort().join(', ') || 'none'}`, ...perMode],
      explanation: `Fewer backends answered than --expect ${o.expect}: some are out of the pool, failing health checks, or not reachable by this client's connections.${pool === null ? '' : ` New client connections (short mode) did not reach them either, because they rode the proxy's pooled upstream connections: ${POOL_MEANING}`}`,
      remedy: pool === null ? 'Check pool members and health monitors on the balancer; run with --mode short -n a few hundred so every member gets a chance.' : `Check pool members and health monitors on the balancer; if the missing ones are healthy: ${POOL_REMEDY}`,
      metrics: { expected: o.expect, seen: [...seen].sort() },
    });
  }
  return out;
};
