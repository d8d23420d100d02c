/**
 * `tls-error` (error; info under -k): requests failed in the TLS handshake with a TLS-level
 * problem (certificate verification, a TLS alert, no common version, no common ALPN protocol,
 * not TLS at all), named exactly (dates, the certificate's names against the SNI, the issuer)
 * with the flag that fixes or bypasses it. The TCP connection was accepted and a TLS stack
 * answered: neither the balancer's pool nor the network is at fault. Under -k no request fails
 * on a certificate, but a certificate that would fail verification is reported as info (clients
 * that verify, browsers and gRPC, would fail).
 */
import type { Finding } from '../../core/finding.js';
import type { ModeDetector } from './context.js';
import { TLS_KINDS, isTlsKind, tlsFixText } from '../tls-errors.js';
import type { ModeTally } from '../tally.js';
import type { TlsCertInfo } from '../tls-info.js';
import { pct } from './shares.js';

/** TLS-level failures of a mode (the `tls-*` error kinds), and all of its failures. */
export function tlsFailures(m: ModeTally): { tls: number; all: number } {
  let tls = 0;
  for (const [k, v] of m.errorKinds) if (isTlsKind(k)) tls += v.count;
  return { tls, all: m.errors };
}

/** True when every failure of the mode (at least one) was a TLS-level failure. */
export function onlyTlsFailures(m: ModeTally): boolean {
  const f = tlsFailures(m);
  return f.tls > 0 && f.tls === f.all;
}

const top = <K>(m: Map<K, number>, n: number): [K, number][] => [...m.entries()].sort((a, b) => b[1] - a[1]).slice(0, n);

export const tlsError: ModeDetector = (m): Finding | null => {
  const t = m.tls;
  const { tls: failed } = tlsFailures(m);
  if (failed === 0) return unverified(m);
  const kinds = [...t.errors.entries()].sort((a, b) => b[1].count - a[1].count);
  if (kinds.length === 0) return null; // tallied without their TLS detail (a merged document from an older probe): nothing exact to say
  const all = failed === m.requests;
  const [k0, e0] = kinds[0];
  const first = top(e0.details, 1)[0]?.[0] ?? TLS_KINDS[k0]?.what ?? k0;
  // Which certificates came with answers and which only with failures (a TLS-passthrough balancer
  // with one backend's certificate wrong fails only that backend's share).
  const good = [...t.certs.entries()].filter(([, c]) => c.backends.size > 0);
  const bad = [...t.certs.entries()].filter(([, c]) => c.backends.size === 0 && c.verify.length > 0);
  const evidence: string[] = [];
  for (const [k, e] of kinds) {
    const addrs = [...e.addresses.keys()];
    // One text per certificate (each names its own addresses): when every certificate is listed in
    // full below, one example is enough here; a reader at 3 a.m. should not read the same sentence thrice.
    const details =
      e.details.size > 1 && bad.length >= e.details.size
        ? `${top(e.details, 1).map(([d, n]) => `${d} (×${n})`)[0]}; the same problem on ${e.details.size - 1} other certificate${e.details.size > 2 ? 's' : ''} (listed below; -v or --json for all)`
        : top(e.details, 3).map(([d, n]) => (e.details.size > 1 ? `${d} (×${n})` : d)).join('; ');
    evidence.push(`${m.mode}: ${k} ${e.count} of ${m.requests} requests${addrs.length ? ` (to ${addrs.slice(0, 4).join(', ')}${addrs.length > 4 ? ', ...' : ''})` : ''}: ${details}`);
  }
  if (good.length && bad.length) {
    evidence.push(`answered requests came with ${good.map(([fp, c]) => `${c.cert.subject} (${fp.slice(0, 11)}…, from ${[...c.backends.keys()].join(', ')})`).join('; ')}; failing ones with ${bad.map(([fp, c]) => `${c.cert.subject} (${fp.slice(0, 11)}…, ${c.connections} connections)`).join('; ')}: one backend (or balancer node) presents a different certificate`);
  }
  // The certificates the failing handshakes presented, whole (several problems each: all named).
  for (const [fp, c] of bad) evidence.push(`certificate ${certLine(fp, c.cert)} on ${c.connections} connection${c.connections === 1 ? '' : 's'}: ${c.verify.join(', ')}`);
  const allKinds = [...new Set([...kinds.map(([k]) => k), ...bad.flatMap(([, c]) => c.verify)])];
  const explain = allKinds.map((k) => TLS_KINDS[k]?.what ?? k);
  const fixes = [...new Set(allKinds.map((k) => tlsFixText(k)).filter((x): x is string => Boolean(x)))];
  return {
    id: 'tls-error',
    severity: 'error',
    mode: m.mode,
    title: `${m.mode}: ${all ? `every one of ${m.requests} requests` : `${failed} of ${m.requests} requests (${pct(failed / m.requests)})`} failed in the TLS handshake: ${first}`,
    evidence,
    explanation:
      `The balancer (or the server) accepted the TCP connection and answered the TLS handshake, and the handshake failed: ${explain.join('; ')}. ` +
      'This is not a pool or balancing problem: every client that verifies certificates (browsers, curl, gRPC) fails the same way' +
      (all ? '.' : ', on the same share of its connections: with TLS passed through to the backends, the failing share is the backends whose certificate is wrong.'),
    remedy:
      (good.length && bad.length ? `Find the backend that presents ${bad.map(([fp]) => `SHA-256 ${fp.slice(0, 11)}…`).join(' or ')} (openssl s_client -connect BACKEND:PORT -servername NAME against each backend) and give it a valid certificate like the others'. Meanwhile: ` : '') +
      fixes.map((f, i) => (fixes.length > 1 ? `(${i + 1}) ${f}.` : `${f}.`)).join(' '),
    // otherServers: certificates seen only on failing handshakes while others came with answers: the
    // failing connections reached a different server (so "one backend answered everything" is this).
    metrics: { requests: m.requests, failed, allFailed: all, kinds: allKinds, otherServers: good.length ? bad.length : 0 },
  };
};

function certLine(fp: string, c: TlsCertInfo): string {
  return `${c.subject || '(no subject)'} (names ${c.sans.join(' ') || 'none'}; issuer ${c.issuer || '?'}${c.selfSigned ? ', self-signed' : ''}; valid ${c.notBefore.slice(0, 10)} to ${c.notAfter.slice(0, 10)}; SHA-256 ${fp})`;
}

/** Under -k: nothing failed on a certificate, but some certificate would not verify. */
function unverified(m: ModeTally): Finding | null {
  const bad = [...m.tls.certs.entries()].filter(([, c]) => c.verify.length > 0);
  if (!bad.length) return null;
  const conns = bad.reduce((s, [, c]) => s + c.connections, 0);
  const kinds = [...new Set(bad.flatMap(([, c]) => c.verify))];
  return {
    id: 'tls-error',
    severity: 'info',
    mode: m.mode,
    title: `${m.mode}: ${conns} of ${m.tls.handshakes} TLS handshakes presented a certificate that does not verify (${kinds.join(', ')}); -k let them through`,
    evidence: bad.map(([fp, c]) => `certificate ${certLine(fp, c.cert)} on ${c.connections} connection${c.connections === 1 ? '' : 's'}${c.backends.size ? ` from ${[...c.backends.keys()].join(', ')}` : ''}: ${c.verify.join(', ')}`),
    explanation: `With -k the probe does not fail on certificate problems; clients that verify do: ${kinds.map((k) => TLS_KINDS[k]?.what ?? k).join('; ')}.`,
    remedy: `For clients that verify: ${[...new Set(kinds.map((k) => tlsFixText(k, false)).filter(Boolean))].join('; ')}. Run without -k to see what they see.`,
    metrics: { handshakes: m.tls.handshakes, unverified: conns, kinds },
  };
}
