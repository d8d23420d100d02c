/**
 * `local-port-exhaustion`: connects that failed with EADDRNOTAVAIL (`no-local-port`) never left
 * the probe's machine: its kernel found no free local port for the destination. That is the
 * client's own port exhaustion (TIME_WAIT held by a client that closes first, a narrow
 * ip_local_port_range, a high connection rate), never a fault of the balancer or a backend, so
 * those errors are also kept out of `intermittent-errors` (`withoutLocalPortErrors`).
 */
import type { Finding } from '../../core/finding.js';
import { formatPercent } from '../../core/units.js';
import type { ModeTally } from '../tally.js';
import type { RunDetector } from './context.js';

export const NO_LOCAL_PORT = 'no-local-port';

export const localPortExhaustion: RunDetector = (modes, ctx): Finding[] => {
  const facts = ctx.options.localPorts;
  const hit = modes.filter((m) => (m.errorKinds.get(NO_LOCAL_PORT)?.count ?? 0) > 0);
  if (hit.length === 0) return [];
  const total = hit.reduce((s, m) => s + m.errorKinds.get(NO_LOCAL_PORT)!.count, 0);
  const evidence = hit.map((m) => {
    const n = m.errorKinds.get(NO_LOCAL_PORT)!.count;
    return `${m.mode}: ${n} of ${m.requests} requests (${formatPercent(n / m.requests)}) failed in connect() with EADDRNOTAVAIL: no free local port; no packet was sent`;
  });
  const range = facts?.range;
  const ports = range ? range[1] - range[0] + 1 : undefined;
  if (range) evidence.push(`net.ipv4.ip_local_port_range = ${range[0]} ${range[1]} (${ports} local ports per destination address and port; at most about ${Number((ports! / 60).toPrecision(2))} new connections per second to it when each holds TIME_WAIT for 60 s)`);
  else evidence.push('net.ipv4.ip_local_port_range: not readable here (not Linux?)');
  if (facts?.timeWaitToTarget != null) evidence.push(`TIME_WAIT sockets on this machine to ${facts.target} right after the run: ${facts.timeWaitToTarget}${facts.timeWaitAll != null ? ` (to any destination: ${facts.timeWaitAll})` : ''}${facts.closingToTarget ? `; ${facts.closingToTarget} more closed here and still closing (FIN_WAIT), their ports held too` : ''}`);
  if (facts?.twReuse != null) evidence.push(`net.ipv4.tcp_tw_reuse = ${facts.twReuse} (${facts.twReuse === 1 ? 'on: outgoing connections may reuse a TIME_WAIT port once it is a second old' : facts.twReuse === 2 ? 'loopback only, the default: connections to other hosts never reuse a TIME_WAIT port, and loopback ones only once it is a second old' : 'off'})`);
  if (facts) evidence.push(facts.close === 'client' ? 'short mode closed its connections from the client (--close client): every one left a TIME_WAIT here' : 'short mode let the server close first (--close server): TIME_WAIT here comes from connections the client had to close itself (the server did not close within the grace, or other programs)');
  return [
    {
      id: 'local-port-exhaustion',
      severity: 'warn',
      title: `${total} connects failed with EADDRNOTAVAIL: this client ran out of local ports (not a balancer or backend fault)`,
      evidence,
      explanation:
        'connect() returned EADDRNOTAVAIL on the probe machine itself: every local port in ip_local_port_range was in use towards this destination, most often held in TIME_WAIT (60 s on Linux) by connections the client closed first. The balancer never saw these attempts, so they say nothing about its backends. Any client of this VIP that opens a new connection per request and closes first hits the same wall at about range/60 s connections per second.',
      remedy:
        'Reuse connections (keep-alive); let the server close first (HTTP/1.1 `Connection: close`; `lbdiag probe --close server`, the default); lower the connection rate; widen `net.ipv4.ip_local_port_range`; or set `net.ipv4.tcp_tw_reuse=1` on the client (safe for outgoing connections with TCP timestamps). More source addresses also multiply the ports.',
      metrics: {
        failures: total,
        modes: hit.map((m) => m.mode),
        portRange: range ?? null,
        timeWaitToTarget: facts?.timeWaitToTarget ?? null,
        timeWaitAll: facts?.timeWaitAll ?? null,
        closingToTarget: facts?.closingToTarget ?? null,
        twReuse: facts?.twReuse ?? null,
        close: facts?.close ?? null,
      },
    },
  ];
};

/**
 * The tally as the balancer saw it: requests that failed with no local port never reached it,
 * so they count neither as requests nor as errors for the error detectors.
 */
export function withoutLocalPortErrors(m: ModeTally): ModeTally {
  const own = m.errorKinds.get(NO_LOCAL_PORT);
  if (!own || own.count === 0) return m;
  const kinds = new Map(m.errorKinds);
  kinds.delete(NO_LOCAL_PORT);
  const view = Object.assign(Object.create(Object.getPrototypeOf(m) as object) as ModeTally, m);
  view.errorKinds = kinds;
  view.requests = m.requests - own.count;
  view.errors = m.errors - own.count;
  view.fresh = m.fresh - own.fresh;
  view.failedFresh = m.failedFresh - own.fresh;
  view.reused = m.reused - own.reused;
  view.failedReused = m.failedReused - own.reused;
  view.errorGaps = new Map(); // gaps were measured with the local failures in between: not evidence of a rotation
  return view;
}
