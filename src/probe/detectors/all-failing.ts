/**
 * `all-failing` (error): every request of a mode failed, as the balancer saw it (connects that
 * found no local port never reached it: see local-port-exhaustion).
 */
import type { Finding } from '../../core/finding.js';
import type { ModeDetector } from './context.js';
import { kindsOf } from './failure-pattern.js';
import { withoutLocalPortErrors } from './local-port-exhaustion.js';
import { onlyTlsFailures } from './tls-error.js';
import type { ModeTally } from '../tally.js';

const POOL = {
  explanation: 'Nothing succeeded in this mode: the balancer has no healthy backend (503 from the balancer), the backends reject the request (check -X, -H, the path), or connections are refused or reset.',
  remedy: "Check the balancer's pool state and a direct request to a backend with the same path and headers.",
};

/** `(8 of them inside the TLS handshake, no TLS alert)` for closes and resets after TCP was accepted. */
function handshakeNote(m: ModeTally): string {
  let n = 0;
  for (const [k, v] of m.errorKinds) if (k === 'closed' || k === 'reset') n += v.tlsPhase;
  return n ? ` (${n === m.errors ? 'all' : n} of them inside the TLS handshake, with no TLS alert)` : '';
}

/**
 * What to say when nothing succeeded. TLS-level failures are tls-error's story (no pool advice);
 * connections accepted and then closed or reset inside the TLS handshake, with no TLS alert, fit
 * two causes the probe cannot tell apart: say both and the check that does.
 */
function advice(m: ModeTally): { explanation: string; remedy: string } {
  if (onlyTlsFailures(m)) {
    return {
      explanation: 'Every request failed in the TLS handshake with a TLS-level error (see tls-error): the TCP connections were accepted and a TLS stack answered, so the pool is not the cause.',
      remedy: 'Fix or bypass the TLS problem tls-error names (-k, --cacert, --sni).',
    };
  }
  let inTls = 0;
  for (const [k, v] of m.errorKinds) if (k === 'closed' || k === 'reset') inTls += v.tlsPhase;
  if (inTls > 0 && inTls === m.errors) {
    return {
      explanation:
        'Every connection was accepted and then closed or reset during the TLS handshake, before any certificate and with no TLS alert. Two causes fit: ' +
        '(1) an SNI router (haproxy `req.ssl_sni`, nginx `ssl_preread`, a passthrough ingress) with no route for the name sent, or none sent (an IP target sends no SNI); ' +
        '(2) a TLS-passthrough balancer (mode tcp) with no healthy backend, which closes the client once it fails to reach one.',
      remedy:
        'To tell them apart: probe again with --sni set to a name the router serves (the certificate name, e.g. from `openssl s_client -connect HOST:PORT -servername NAME`); if that works it was (1), if not check the pool state on the balancer (haproxy `show stat`, nginx error log) for (2).',
    };
  }
  return POOL;
}

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
    evidence: [`${m.mode}: ${kindText}${handshakeNote(m)}`],
    ...advice(m),
    metrics: { requests: m.requests, errors: m.errors, kinds: kinds.map((k) => k.kind) },
  };
};
