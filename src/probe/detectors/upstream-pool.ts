/**
 * A proxy's pool of upstream connections, as the backends saw it: in short mode every request
 * comes on a new client connection, so through a layer-4 path it is the first request on its
 * backend connection too. When the backends (lbdiag whoami's X-Lbdiag-Conn `id;seq=n`) count it as
 * a later request on a connection that carried earlier ones, a proxy in the path reuses pooled
 * upstream connections for new clients.
 * A backend that holds none of those pooled connections gets nothing, whatever the client does;
 * and if the proxy's upstream is one address behind a layer-4 hop (a Kubernetes Service
 * ClusterIP, a cloud or LVS VIP), that hop chose each pooled connection's backend once.
 *
 * Used by l7-proxy, backend-missing and imbalance to say so instead of "keep-alive pinning cannot
 * happen through it" or "run --mode short so every member gets a chance" (which rides the same
 * pool), and by keepalive-pinning and late-backend-starved, whose fix is then the pool's, not "use
 * an L7 balancer" (there is one).
 */
import type { ModeTally } from '../tally.js';

const MIN_REQUESTS = 20;

export interface UpstreamPool {
  mode: ModeTally['mode'];
  /** Short-mode answers whose backend said how many requests its connection had carried (X-Lbdiag-Conn seq). */
  checked: number;
  /** Of those, answers on a backend connection that had carried earlier requests: a reused upstream connection. */
  reused: number;
}

/**
 * The pool a short-mode run rode, or null (not short mode, no backend connection counts, or no
 * reuse). Every short-mode request is the first on its client connection, so through a layer-4
 * path the backend's count on its connection is 1 too; a count above 1 on most answers is a proxy
 * reusing upstream connections.
 */
export function upstreamPool(m: ModeTally): UpstreamPool | null {
  if (m.mode !== 'short' || m.seqChecked < MIN_REQUESTS || m.seqMismatch * 2 < m.seqChecked) return null;
  return { mode: m.mode, checked: m.seqChecked, reused: m.seqMismatch };
}

export function findUpstreamPool(modes: readonly ModeTally[]): UpstreamPool | null {
  for (const m of modes) {
    const p = upstreamPool(m);
    if (p !== null) return p;
  }
  return null;
}

/**
 * Backend connections that carried requests of two or more of this mode's client connections: a
 * proxy sending several clients' requests over one pooled upstream connection (a layer-4 path
 * never does: one backend connection per client connection).
 */
export function sharedUpstream(m: ModeTally): number {
  const seen = new Map<string, number>();
  let shared = 0;
  for (const c of m.conns.values())
    for (const k of c.serverConns) {
      const n = (seen.get(k) ?? 0) + 1;
      seen.set(k, n);
      if (n === 2) shared++;
    }
  return shared;
}

/** Why a mode's connections look pinned through a proxy, as one evidence line; null when no pool is proved. */
export function proxyPoolEvidence(m: ModeTally, modes: readonly ModeTally[]): string | null {
  const shared = sharedUpstream(m);
  if (shared > 0) return `${m.mode}: ${shared} backend connection${shared === 1 ? '' : 's'} carried requests of several client connections: an HTTP proxy in the path sends them over its own pooled upstream connections, and it is those that stay on one backend`;
  const pool = findUpstreamPool(modes);
  return pool === null ? null : `${poolEvidence(pool)}, and it is those that stay on one backend`;
}

/** One evidence line. */
export function poolEvidence(p: UpstreamPool): string {
  return `${p.mode}: ${p.reused} of ${p.checked} requests, each the first on a new client connection, arrived on a backend connection that had already carried earlier requests: the proxy reuses a pool of upstream connections`;
}

/** What the pool means for balancing (a clause: starts in lower case). */
export const POOL_MEANING =
  'the proxy sends every client\'s requests over its own pool of long-lived upstream connections, so a backend receives requests only while it holds some of them: the shares follow how many pooled connections each backend holds, and backends added later get none until pooled connections close. When the proxy\'s upstream is one address behind a layer-4 hop (a Kubernetes Service ClusterIP, a cloud or LVS VIP), that hop chose each pooled connection\'s backend once, as it would for any keep-alive client.';

/** The fixes (a clause: starts in lower case). */
export const POOL_REMEDY =
  'bound the life of the proxy\'s upstream connections (nginx upstream `keepalive_requests` / `keepalive_time`, Envoy `max_requests_per_connection` / `max_connection_duration`, haproxy `max-reuse`), or let the proxy balance over the endpoints itself (a headless Service or EndpointSlice discovery, every backend listed as an upstream server) instead of one VIP.';

/** A clause as a sentence. */
export const sentence = (clause: string): string => clause.charAt(0).toUpperCase() + clause.slice(1);
