/**
 * `connection-churn` (info): in keep-alive mode the other side ended connections, so the probe
 * opened many more than its concurrent lanes.
 */
import type { Finding } from '../../core/finding.js';
import type { ModeDetector } from './context.js';

export const connectionChurn: ModeDetector = (m): Finding | null => {
  if (m.mode !== 'keepalive' || m.requests === 0) return null;
  const lanes = Math.max(1, m.lanes);
  // Connections that failed before carrying a request (refused, or the TLS handshake failed and the
  // probe closed them) were not keep-alive connections the other side ended: leave them out.
  let neverUp = 0;
  for (const k of m.errorKinds.values()) neverUp += k.connectPhase + k.tlsPhase;
  if (m.connectionsOpened - neverUp <= 2 * lanes) return null;
  const perConn = m.requests / Math.max(1, m.connectionsOpened);
  return {
    id: 'connection-churn',
    severity: 'info',
    mode: m.mode,
    title: `keepalive: ${m.connectionsOpened} connections opened for ${lanes} concurrent (${perConn.toFixed(1)} requests per connection): the other side ends keep-alive connections`,
    evidence: [`${m.requests} requests over ${m.connectionsOpened} connections; ${m.fresh} on new connections, ${m.reused} on reused ones`],
    explanation:
      'The server or balancer ends keep-alive connections (a `Connection: close` answer after a request limit — nginx `keepalive_requests` 1000, Envoy `max_requests_per_connection` — an idle timeout, or resets). This is a built-in connection rotation: it hides pinning over time, and costs a handshake per reconnect.',
    remedy: "Usually fine. If latency matters, raise the server's keep-alive request limit and idle timeout; if balancing matters, this rotation is what spreads the load.",
    metrics: { connections: m.connectionsOpened, requestsPerConnection: perConn },
  };
};
