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
    notes: r.notes,
    servers: r.servers.slice(0, 20),
    modes,
  };
}
