/**
 * The `http` part of `lbdiag pcap --json`: what the HTTP layer found and the probe's per-mode
 * report (the same `ModeReport` shape `lbdiag probe --json` has under `modes`). Stable: add
 * fields, never rename them.
 */
import { summarizeMode, type ModeReport } from '../../probe/summary.js';
import type { HttpCounters } from './layer.js';
import type { HttpTallyResult, IdentitySource } from './tallies.js';

export interface HttpReport {
  /** Streams recognised as HTTP/1.x, messages parsed in them. */
  streams: number;
  requests: number;
  responses: number;
  /** Requests with a final response or a failure (reset/closed), fed to the tallies. */
  exchanges: number;
  /** Streams given up on a hole in the data (capture loss, snaplen), and why counts may be low. */
  gaps: number;
  /** Streams given up because the capture's snaplen cut their payload (capture with -s 0 to see HTTP). */
  snaplenCut: number;
  orphanResponses: number;
  unanswered: number;
  /** Where backend names came from: the responses (probe rules / --backend-from), server addresses, or nowhere. */
  identity: IdentitySource;
  notes: string[];
  /** Connections whose traffic is not HTTP/1.x and not decoded: cleartext HTTP/2 (prior knowledge) and TLS. */
  undecoded: { http2: number; tls: number };
  servers: string[];
  /** keepalive: connections that carried several requests; short: one-request connections. */
  modes: { keepalive?: ModeReport; short?: ModeReport };
}

export function httpReport(c: HttpCounters, r: HttpTallyResult): HttpReport {
  const modes: HttpReport['modes'] = {};
  for (const m of r.modes) if (m.mode === 'keepalive' || m.mode === 'short') modes[m.mode] = summarizeMode(m);
  return {
    streams: c.streams,
    requests: c.requests,
    responses: c.responses,
    exchanges: r.modes.reduce((s, m) => s + m.requests, 0),
    gaps: c.gaps,
    snaplenCut: c.snaplen,
    orphanResponses: c.orphanResponses,
    unanswered: c.unanswered,
    identity: r.identity,
    notes: [...undecodedNotes(c), ...r.notes],
    undecoded: { http2: c.http2, tls: c.tls },
    servers: r.servers.slice(0, 20),
    modes,
  };
}

/** Why requests of HTTP/2 and TLS connections are not in the tallies, and where to look instead. */
function undecodedNotes(c: HttpCounters): string[] {
  const notes: string[] = [];
  if (c.http2 > 0)
    notes.push(
      `${c.http2} connection${c.http2 === 1 ? '' : 's'} spoke cleartext HTTP/2 (the client's connection preface): lbdiag reads HTTP/1.x from captures, so their requests are not tallied and keep-alive pinning over them is not judged; \`lbdiag probe --http2\` (or --grpc) through the same balancer tests it`,
    );
  if (c.tls > 0)
    notes.push(
      `${c.tls} connection${c.tls === 1 ? '' : 's'} carried TLS: encrypted, not decoded; capture where TLS is terminated (between the balancer and the backends when it terminates TLS), or probe the HTTPS address with \`lbdiag probe https://...\``,
    );
  return notes;
}
