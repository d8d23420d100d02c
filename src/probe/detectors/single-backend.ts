/**
 * `single-backend`: one backend answered every identified request of the run (unless the user
 * expects exactly one). Fewer answers than the test needs is undecided (see insufficient-data).
 */
import type { ModeTally } from '../tally.js';
import type { ProbeContext, RunDetector } from './context.js';
import { okBackends } from './shares.js';
import { type Assessment, CHANCE_THRESHOLD, decided, fmtP } from './undecided.js';

export function assessSingleBackend(modes: readonly ModeTally[], ctx: ProbeContext): Assessment {
  const { seen, options: o } = ctx;
  if (seen.size !== 1) return null;
  if (o.expect === 1 || o.expectBackends?.length === 1) return null;
  const ok = modes.reduce((s, m) => s + (okBackends(m)[0]?.ok ?? 0), 0);
  const name = [...seen][0];
  // With two or more backends sharing the load, n answers all come from one with probability at
  // most 2^(1-n): the test needs that below the threshold.
  const needed = 1 + Math.ceil(Math.log2(1 / CHANCE_THRESHOLD));
  if (ok < needed) {
    return { undecided: { test: 'single-backend', needed, have: ok, why: `all ${ok} answers came from ${name}; a balancer spreading over 2 or more backends does that by chance with probability up to ${fmtP(2 ** (1 - ok))}` } };
  }
  return {
    finding: {
      id: 'single-backend',
      severity: 'warn',
      backend: name,
      title: `one backend (${name}) answered all ${ok} identified requests`,
      evidence: modes.filter((m) => m.requests > 0).map((m) => `${m.mode}: ${m.ok} ok of ${m.requests} requests over ${m.connectionsOpened} connections, all from ${name}`),
      explanation:
        'Either only one backend is in service (others failing health checks, drained, or not in the pool), or every connection and request is sent to the same one: source-address affinity (the balancer hashes the client address - haproxy `balance source`, nginx `ip_hash`, IPVS `sh`, Kubernetes `sessionAffinity: ClientIP` - and all probe connections came from one address), a hash on something constant, or a single keep-alive connection through a layer-4 balancer.',
      remedy:
        'Check the pool members\' health and state on the balancer; try --mode short with -c larger than the backend count; to tell source affinity from a single healthy backend, probe from several client addresses: `lbdiag probe VIP --mode short -n 300 --source 127.0.0.20-127.0.0.29` on loopback, or `--source` over addresses of this host (source-affinity then proves it). Pass --expect N to make a missing backend an error.',
      metrics: { backend: name, requests: ok },
    },
  };
}

export const singleBackend: RunDetector = (modes, ctx) => decided(assessSingleBackend(modes, ctx));
