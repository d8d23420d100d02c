/**
 * `tls-cert-mismatch` (warn): the certificate a connection is shown depends on the backend that
 * answers it, i.e. TLS is passed through to backends that each hold their own certificate
 * (haproxy `mode tcp`, an L4 VIP, a passthrough ingress) instead of being terminated by the
 * balancer. Clients then behave differently per backend: certificate or public-key pinning fails
 * on some backends, session resumption (tickets, IDs) only works when the next connection lands on
 * the same backend, and certificate renewals happen at different times.
 *
 * One observation per TLS handshake: the certificate it presented and the backend of the
 * connection's first answer (every mode of the run together). Raised only when every backend
 * presented one certificate, at least two certificates differ, and the match is beyond chance:
 * were certificate and backend independent (a layer-7 balancer with several nodes and
 * certificates in front of the backends), the chance that every backend's connections all showed
 * one certificate is prod_b sum_c p_c^n_b (p_c the certificates' shares, n_b the backends'
 * connections); it must be below 1e-3. Below that nothing is claimed.
 */
import type { Finding } from '../../core/finding.js';
import type { ModeTally } from '../tally.js';
import type { RunDetector } from './context.js';
import { connsWithOk, pooled } from './shares.js';

const THRESHOLD = 1e-3;

export const tlsCertMismatch: RunDetector = (modes): Finding | null => {
  const byBackend = new Map<string, Map<string, number>>();
  const subjects = new Map<string, string>();
  for (const m of modes) {
    for (const [fp, c] of m.tls.certs) subjects.set(fp, `${c.cert.subject}${c.cert.sans.length ? ` [${c.cert.sans.join(' ')}]` : ''}`);
    for (const [name, b] of m.tls.backends) {
      let certs = byBackend.get(name);
      if (!certs) byBackend.set(name, (certs = new Map()));
      for (const [fp, n] of b.certs) certs.set(fp, (certs.get(fp) ?? 0) + n);
    }
  }
  if (byBackend.size < 2) return null;
  const certTotals = new Map<string, number>();
  let n = 0;
  for (const certs of byBackend.values()) {
    if (certs.size !== 1) return null; // a backend with two certificates (a renewal, a layer-7 path): no clean mapping to claim
    for (const [fp, k] of certs) {
      certTotals.set(fp, (certTotals.get(fp) ?? 0) + k);
      n += k;
    }
  }
  if (certTotals.size < 2) return null;
  let chance = 1;
  for (const certs of byBackend.values()) {
    const nb = [...certs.values()][0];
    let s = 0;
    for (const k of certTotals.values()) s += (k / n) ** nb;
    chance *= s;
  }
  if (!(chance < THRESHOLD)) return null;
  const rows = [...byBackend.entries()].sort((a, b) => a[0].localeCompare(b[0])).map(([name, certs]) => {
    const [fp, k] = [...certs.entries()][0];
    return { name, fp, k };
  });
  const groups = new Map<string, string[]>();
  for (const r of rows) groups.set(r.fp, [...(groups.get(r.fp) ?? []), r.name]);
  // One client connection answered by several backends: whatever presented its certificate sits in
  // front of several backends (an HTTP proxy terminating TLS), so the certificate is that
  // terminator's, not a backend's: several terminators, each with its own certificate and backends.
  const spread = spreadConnections(modes);
  const evidence = [
    ...rows.map((r) => `${r.name}: SHA-256 ${r.fp}, ${subjects.get(r.fp) ?? '?'}, on all ${r.k} of its TLS connections`),
    `were certificate and backend unrelated (one TLS terminator with several certificates in front), every backend showing a single certificate would happen with probability ${chance < 1e-12 ? '< 1e-12' : chance.toExponential(1)} (threshold ${THRESHOLD})`,
  ];
  if (spread > 0) evidence.splice(Math.min(rows.length, 2), 0, `${spread} client connection${spread === 1 ? '' : 's'} reached several backends (see l7-proxy): the certificate was presented by a TLS-terminating proxy in front of each group, not by the backends`);
  return {
    id: 'tls-cert-mismatch',
    severity: 'warn',
    title:
      spread > 0
        ? `${certTotals.size} different TLS certificates, one per group of backends: ${[...groups.values()].map((g) => g.join('+')).join(' / ')} (several TLS-terminating proxies, each with its own certificate)`
        : `${certTotals.size} different TLS certificates, one per backend: ${[...groups.values()].map((g) => g.join('+')).join(' / ')} (TLS passed through to the backends)`,
    evidence,
    explanation:
      spread > 0
        ? 'The certificate depends on which group of backends answers, yet single client connections reached several backends: TLS is terminated by HTTP proxies in front of the backends, and different proxy nodes or listeners, each with its own certificate, send to their own backends (a layer-4 balancer or DNS spreading clients over several TLS-terminating proxies or ingress controllers). Clients behave differently per node: certificate or public-key pinning (mobile apps, gRPC channels) fails on the nodes whose certificate is not the pinned one, TLS session resumption only works when a new connection lands on the node that issued the ticket (full handshakes elsewhere), and expiry and renewal happen at different times on each node.'
        : 'The certificate depends on the backend that answers: the balancer passes TLS through (layer 4) and each backend terminates it with its own certificate. Clients behave differently per backend: certificate or public-key pinning (mobile apps, gRPC channels) fails on the backends whose certificate is not the pinned one, TLS session resumption only works when a new connection lands on the backend that issued the ticket (full handshakes elsewhere), and expiry and renewal happen at different times on each backend.',
    remedy:
      spread > 0
        ? 'Give every TLS-terminating proxy node or listener the same certificate and key (and a shared session-ticket key): the backends\' own certificates are not what clients see. `openssl s_client -connect NODE:PORT -servername NAME` against each proxy node shows which one holds which certificate.'
        : 'Give every backend the same certificate and key (and a shared session-ticket key), or terminate TLS on the balancer (haproxy `bind ... ssl crt`, an HTTPS listener) so clients see one certificate; `lbdiag probe https://VIP/ --mode short -n 50` shows each backend\'s certificate in the TLS table.',
    metrics: { backends: rows.map((r) => r.name), fingerprints: rows.map((r) => r.fp), certificates: certTotals.size, chance, ...(spread > 0 ? { connectionsOnSeveralBackends: spread } : {}) },
  };
};

/** Client connections (keep-alive or rotate, two answers or more) answered by more than one backend. */
function spreadConnections(modes: readonly ModeTally[]): number {
  let n = 0;
  for (const m of modes) if (pooled(m)) n += connsWithOk(m, 2).filter((c) => c.backends.size > 1).length;
  return n;
}
