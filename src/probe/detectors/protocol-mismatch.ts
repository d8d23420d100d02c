/**
 * `protocol-mismatch`: the probe and the server do not speak the same HTTP version, proven by what
 * came back on the wire, never guessed from a failure:
 * - an HTTP/1.1 probe got an HTTP/2 frame header (SETTINGS or GOAWAY on stream 0) where the status
 *   line belongs (error kind `http2-frames`): an h2-only server (prior-knowledge h2c);
 * - an `--http2` probe's sessions failed on an HTTP/2 protocol error before the server's SETTINGS
 *   (`h2-protocol-error`) and a fresh connection sending the HTTP/2 preface got a reply starting
 *   with "HTTP/1." (the run's wire check): an HTTP/1.1-only server;
 * - https with `--http2`: ALPN did not agree on h2 (`alpn-no-h2`).
 * Ordinary failures (refused, reset, closed, timeouts, a protocol error with any other reply) never
 * raise it.
 */
import type { Finding } from '../../core/finding.js';
import type { ModeTally } from '../tally.js';
import type { RunDetector } from './context.js';

export type { WireCheck } from './context.js';

function count(modes: readonly ModeTally[], kind: string): { n: number; of: number; perMode: { modes: string[]; mismatched: number[] } } {
  let n = 0;
  let of = 0;
  const perMode = { modes: [] as string[], mismatched: [] as number[] };
  for (const m of modes) {
    const k = m.errorKinds.get(kind)?.count ?? 0;
    n += k;
    of += m.requests;
    perMode.modes.push(m.mode);
    perMode.mismatched.push(k);
  }
  return { n, of, perMode };
}

export const protocolMismatch: RunDetector = (modes, ctx): Finding[] => {
  const out: Finding[] = [];
  const proto = ctx.options.protocol ?? 'http1';
  const wire = ctx.options.wire;
  if (proto === 'http1') {
    const { n, of } = count(modes, 'http2-frames');
    const closed = count(modes, 'closed');
    if (n === 0 && closed.n > 0 && wire?.prefaceReply?.kind === 'http2')
      out.push({
        id: 'protocol-mismatch',
        severity: 'error',
        title: 'the server speaks HTTP/2 only: it closes HTTP/1.1 requests without a word and answers the HTTP/2 preface (use --http2, or --grpc)',
        evidence: [
          `${closed.n} of ${closed.of} requests: the connection closed without an HTTP/1.1 answer (error kind closed), and no request got one`,
          `a fresh connection sending the HTTP/2 connection preface ("PRI * HTTP/2.0") got back HTTP/2 frames: ${wire.prefaceReply.seen}`,
        ],
        explanation:
          'A listener that speaks HTTP/2 with prior knowledge (h2c: haproxy `bind ... proto h2`, a gRPC server) waits for the HTTP/2 connection preface; haproxy closes an HTTP/1.1 request without sending anything. It looks like a dead backend or a reset, and says nothing about the balancing.',
        remedy: 'Probe it in its own protocol: `lbdiag probe --http2` (h2c), `--grpc` for a gRPC service; or, if HTTP/1.1 clients must be served, drop `proto h2` from the bind (haproxy `mode http` then speaks HTTP/1.1, and h2 by ALPN over TLS).',
        metrics: { requests: closed.of, closed: closed.n, ...closed.perMode },
      });
    if (n > 0)
      out.push({
        id: 'protocol-mismatch',
        severity: 'error',
        title: 'the server answers HTTP/1.1 requests with HTTP/2 frames: it speaks HTTP/2 only (use --http2, or --grpc)',
        evidence: [
          `${n} of ${of} requests got an HTTP/2 frame header (SETTINGS or GOAWAY on stream 0, the server's HTTP/2 preface) where the HTTP/1.1 status line belongs (error kind http2-frames)`,
        ],
        explanation:
          'A server (or balancer frontend) that speaks HTTP/2 with prior knowledge (h2c: haproxy `bind ... proto h2`, a gRPC server, node:http2 `createServer`) expects the HTTP/2 connection preface; to an HTTP/1.1 request it sends its SETTINGS frame and a GOAWAY (PROTOCOL_ERROR), then closes. HTTP/1.1 clients see that as a closed connection or garbage; it says nothing about the balancing.',
        remedy: 'Probe it in its own protocol: `lbdiag probe --http2` (h2c), `--grpc` for a gRPC service; or, if HTTP/1.1 clients must be served, let the frontend accept both (haproxy `mode http` without `proto h2` on the bind speaks HTTP/1.1 and h2 by ALPN over TLS).',
        metrics: { requests: of, http2Frames: n, ...count(modes, 'http2-frames').perMode },
      });
    return out;
  }
  const h2 = count(modes, 'h2-protocol-error');
  const reply = wire?.prefaceReply;
  if (h2.n > 0 && reply?.kind === 'http1')
    out.push({
      id: 'protocol-mismatch',
      severity: 'error',
      title: `the server speaks HTTP/1.1 only: it answered the HTTP/2 preface with ${reply.seen} (drop --http2${proto === 'grpc' ? '/--grpc: this is not a gRPC endpoint' : ''})`,
      evidence: [
        `${h2.n} of ${h2.of} streams failed with an HTTP/2 protocol error before the server sent its HTTP/2 SETTINGS (error kind h2-protocol-error)`,
        `a fresh connection sending the HTTP/2 connection preface ("PRI * HTTP/2.0") got back ${reply.seen}: an HTTP/1.x answer`,
      ],
      explanation:
        'With prior knowledge (h2c on http://), an HTTP/2 client opens with the connection preface; a server that speaks only HTTP/1.1 reads it as a malformed request and answers with an HTTP/1.1 error (typically 400 or 505), which is not an HTTP/2 frame. On https://, HTTP/2 is agreed by ALPN instead.',
      remedy: `Probe it with HTTP/1.1 (without --http2${proto === 'grpc' ? ' and --grpc' : ''}); to test HTTP/2, point the probe at a listener that speaks it (haproxy \`bind ... proto h2\` for h2c, or https:// with \`alpn h2,http/1.1\`).`,
      metrics: { streams: h2.of, protocolErrors: h2.n, ...h2.perMode },
    });
  const alpn = count(modes, 'alpn-no-h2');
  if (alpn.n > 0) {
    const agreed = wire?.alpnAgreed;
    const said = agreed ? `"${agreed}"` : 'no protocol (the server ignored ALPN)';
    out.push({
      id: 'protocol-mismatch',
      severity: 'error',
      title: `TLS ALPN did not agree on h2 (the server chose ${said}): no HTTP/2 on this https endpoint`,
      evidence: [`${alpn.n} of ${alpn.of} streams: the TLS handshake offered ALPN h2 and the server agreed on ${said} (error kind alpn-no-h2)`],
      explanation: 'On https://, client and server agree on HTTP/2 through ALPN in the TLS handshake; a server or TLS terminator that does not offer h2 leaves the connection to HTTP/1.1, where an HTTP/2 client cannot go on.',
      remedy: 'Probe it without --http2 (HTTP/1.1 over TLS), or enable h2 on the TLS terminator (haproxy `bind ... ssl crt ... alpn h2,http/1.1`, nginx `listen 443 ssl http2`).',
      metrics: { streams: alpn.of, alpnMismatches: alpn.n, ...alpn.perMode },
    });
  }
  return out;
};
