/**
 * `l7-proxy` (info): the backend's view of the connection differs from the client's (another
 * connection, another request count) or forwarding headers were added: an HTTP proxy balances
 * request by request.
 */
import type { Finding } from '../../core/finding.js';
import type { RunDetector } from './context.js';
import { L4_FIELD } from './field-knowledge.js';
import { connsWithOk, pooled } from './shares.js';
import { findUpstreamPool, poolEvidence, POOL_MEANING, POOL_REMEDY } from './upstream-pool.js';

export const l7Proxy: RunDetector = (modes): Finding | null => {
  const evidence: string[] = [];
  const metrics: Record<string, number | string[]> = {};
  for (const m of modes) {
    if (!pooled(m)) continue;
    const conns = connsWithOk(m, 2);
    const changed = conns.filter((c) => c.serverConns.size > 1).length;
    const withIds = conns.filter((c) => c.serverConns.size > 0).length;
    if (changed > 0) {
      evidence.push(`${m.mode}: on ${changed} of ${withIds} client connections the backend saw a different connection across the requests (the client kept one: local port unchanged)`);
      metrics[`${m.mode}ConnsChanged`] = changed;
    }
    const multi = conns.filter((c) => c.backends.size > 1).length;
    if (multi > 0) {
      evidence.push(`${m.mode}: ${multi} of ${conns.length} client connections reached more than one backend`);
      metrics[`${m.mode}ConnsMultiBackend`] = multi;
    }
  }
  for (const m of modes) {
    if (m.seqChecked > 0 && m.seqMismatch > 0) {
      evidence.push(`${m.mode}: on ${m.seqMismatch} of ${m.seqChecked} requests the backend's request count on its connection differed from the client's (the proxy pools or splits connections)`);
      metrics[`${m.mode}SeqMismatch`] = m.seqMismatch;
    }
  }
  const fwd = new Map<string, number>();
  let checked = 0;
  for (const m of modes) {
    checked += m.forwardedChecked;
    for (const [k, v] of m.forwarded) fwd.set(k, (fwd.get(k) ?? 0) + v);
  }
  if (fwd.size) {
    evidence.push(`forwarding headers seen by the backend: ${[...fwd.entries()].map(([k, v]) => `${k} (${v}/${checked})`).join(', ')}`);
    metrics.forwardingHeaders = [...fwd.keys()];
  }
  const pool = findUpstreamPool(modes);
  if (pool !== null) {
    evidence.push(poolEvidence(pool));
    metrics.shortOnPooledUpstream = pool.reused;
  }
  if (evidence.length === 0) return null;
  // The client's connections cannot be pinned through a proxy; its own pooled upstream connections can.
  const tail =
    pool === null
      ? 'Keep-alive pinning cannot happen through it; client addresses reach the backend only through X-Forwarded-For / Forwarded.'
      : `Client addresses reach the backend only through X-Forwarded-For / Forwarded. The client's own connections cannot be pinned through it, but the proxy's pooled upstream connections can: ${POOL_MEANING}`;
  return {
    id: 'l7-proxy',
    severity: 'info',
    title: 'a layer-7 (HTTP) proxy is in the path: requests are balanced one by one',
    evidence,
    explanation: `${L4_FIELD} Here the backend's view of the connection does not match the client's, or forwarding headers were added: an HTTP proxy terminates the client connection and opens (or pools) its own. ${tail}`,
    remedy:
      pool === null
        ? 'Nothing to fix. If you expected a layer-4 path (client IP preserved, TLS passthrough), check the virtual server / Service type.'
        : `Nothing to fix on the client side. If backends are missing or their shares uneven (backend-missing, imbalance): ${POOL_REMEDY}`,
    metrics,
  };
};
