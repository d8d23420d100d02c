/**
 * Plain counters updated on the hot path, rendered as Prometheus text on demand. Requests per
 * connection go into a small fixed-bucket histogram when a connection closes.
 */
import { CLOSE_REASONS, type CloseReason } from './connections.js';
import type { WhoamiProtocol } from '../wire/identity-headers.js';

export const PROTOCOLS: readonly WhoamiProtocol[] = ['http/1.1', 'h2c', 'h2'];
/** gRPC methods counted by name; any other path is counted as "other". */
const GRPC_METHODS = ['/grpc.health.v1.Health/Check', '/lbdiag.v1.WhoAmI/Get', 'other'] as const;

const REQUESTS_PER_CONN_BUCKETS = [1, 2, 3, 5, 10, 20, 50, 100, 1000, 10000] as const;

export interface MetricsSnapshot {
  requests: number;
  requestsByStatus: Record<string, number>;
  connectionsAccepted: number;
  connectionsActive: number;
  connectionsClosed: number;
  closedBy: Partial<Record<CloseReason, number>>;
  requestsPerConn: { buckets: Record<string, number>; sum: number; count: number };
  /** Connections accepted, by the protocol they turned out to speak. */
  connectionsByProtocol: Record<WhoamiProtocol, number>;
  /** HTTP/2 connections only: streams per connection, observed when the connection closes. */
  streamsPerConn: { buckets: Record<string, number>; sum: number; count: number };
  tlsHandshakeFailures: number;
  /** gRPC calls by method path and grpc-status: `{"/lbdiag.v1.WhoAmI/Get": {"0": 12}}`. */
  grpcCalls: Record<string, Record<string, number>>;
}

function cumulative(counts: Float64Array, sum: number): { buckets: Record<string, number>; sum: number; count: number } {
  const buckets: Record<string, number> = {};
  let cum = 0;
  REQUESTS_PER_CONN_BUCKETS.forEach((le, i) => {
    cum += counts[i];
    buckets[String(le)] = cum;
  });
  cum += counts[REQUESTS_PER_CONN_BUCKETS.length];
  buckets['+Inf'] = cum;
  return { buckets, sum, count: cum };
}

export class Metrics {
  /** Index = HTTP status code. */
  readonly byStatus = new Float64Array(600);
  requests = 0;
  accepted = 0;
  active = 0;
  closed = 0;
  readonly closedBy = new Float64Array(CLOSE_REASONS.length);
  /** Non-cumulative counts; the last slot is +Inf. */
  readonly rpcBuckets = new Float64Array(REQUESTS_PER_CONN_BUCKETS.length + 1);
  rpcSum = 0;
  readonly byProtocol = new Float64Array(PROTOCOLS.length);
  readonly spcBuckets = new Float64Array(REQUESTS_PER_CONN_BUCKETS.length + 1);
  spcSum = 0;
  tlsHandshakeFailures = 0;
  /** Index: method * 17 + grpc-status (0..16). */
  readonly grpc = new Float64Array(GRPC_METHODS.length * 17);

  countProtocol(p: WhoamiProtocol): void {
    this.byProtocol[PROTOCOLS.indexOf(p)]++;
  }

  countGrpc(path: string, code: number): void {
    let m = GRPC_METHODS.indexOf(path as (typeof GRPC_METHODS)[number]);
    if (m === -1) m = GRPC_METHODS.length - 1;
    if (code >= 0 && code <= 16) this.grpc[m * 17 + code]++;
  }

  countResponse(status: number): void {
    this.requests++;
    if (status >= 0 && status < 600) this.byStatus[status]++;
  }

  connectionClosed(requests: number, reason: CloseReason, protocol: WhoamiProtocol = 'http/1.1'): void {
    this.active--;
    this.closed++;
    this.closedBy[CLOSE_REASONS.indexOf(reason)]++;
    let i = 0;
    while (i < REQUESTS_PER_CONN_BUCKETS.length && requests > REQUESTS_PER_CONN_BUCKETS[i]) i++;
    this.rpcBuckets[i]++;
    this.rpcSum += requests;
    if (protocol !== 'http/1.1') {
      this.spcBuckets[i]++;
      this.spcSum += requests;
    }
  }

  snapshot(): MetricsSnapshot {
    const requestsByStatus: Record<string, number> = {};
    for (let s = 0; s < 600; s++) if (this.byStatus[s] > 0) requestsByStatus[String(s)] = this.byStatus[s];
    const closedBy: Partial<Record<CloseReason, number>> = {};
    CLOSE_REASONS.forEach((r, i) => {
      if (this.closedBy[i] > 0) closedBy[r] = this.closedBy[i];
    });
    const connectionsByProtocol = { 'http/1.1': 0, h2c: 0, h2: 0 } as Record<WhoamiProtocol, number>;
    PROTOCOLS.forEach((p, i) => (connectionsByProtocol[p] = this.byProtocol[i]));
    const grpcCalls: Record<string, Record<string, number>> = {};
    GRPC_METHODS.forEach((m, mi) => {
      for (let code = 0; code <= 16; code++) {
        const n = this.grpc[mi * 17 + code];
        if (n > 0) (grpcCalls[m] ??= {})[String(code)] = n;
      }
    });
    return {
      requests: this.requests,
      requestsByStatus,
      connectionsAccepted: this.accepted,
      connectionsActive: this.active,
      connectionsClosed: this.closed,
      closedBy,
      requestsPerConn: cumulative(this.rpcBuckets, this.rpcSum),
      connectionsByProtocol,
      streamsPerConn: cumulative(this.spcBuckets, this.spcSum),
      tlsHandshakeFailures: this.tlsHandshakeFailures,
      grpcCalls,
    };
  }
}

export interface MetricsLabels {
  name: string;
  instance: string;
  pid: number;
  version: string;
  draining: boolean;
  healthStatus: number;
  uptimeSeconds: number;
  /** Start of the generation (shared by --workers), Unix epoch seconds. */
  startedSeconds: number;
}

function esc(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** Prometheus text exposition format 0.0.4. */
export function renderPrometheus(m: Metrics, l: MetricsLabels): string {
  const s = m.snapshot();
  const out: string[] = [];
  const family = (name: string, type: string, help: string): void => {
    out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`);
  };
  family('lbdiag_whoami_info', 'gauge', 'Identity of this lbdiag whoami process (always 1).');
  out.push(`lbdiag_whoami_info{name="${esc(l.name)}",instance="${esc(l.instance)}",pid="${l.pid}",version="${esc(l.version)}"} 1`);
  family('lbdiag_whoami_uptime_seconds', 'gauge', 'Seconds since this process started serving.');
  out.push(`lbdiag_whoami_uptime_seconds ${l.uptimeSeconds.toFixed(3)}`);
  family('lbdiag_whoami_start_time_seconds', 'gauge', 'Start of this whoami generation (X-Lbdiag-Started / 1000), Unix epoch seconds.');
  out.push(`lbdiag_whoami_start_time_seconds ${l.startedSeconds.toFixed(3)}`);
  family('lbdiag_whoami_requests_total', 'counter', 'HTTP responses sent, by status code (400/408/431 include requests the parser rejected).');
  const statuses = Object.keys(s.requestsByStatus);
  if (statuses.length === 0) out.push('lbdiag_whoami_requests_total{status="200"} 0');
  for (const st of statuses) out.push(`lbdiag_whoami_requests_total{status="${st}"} ${s.requestsByStatus[st]}`);
  family('lbdiag_whoami_connections_accepted_total', 'counter', 'TCP connections accepted.');
  out.push(`lbdiag_whoami_connections_accepted_total ${s.connectionsAccepted}`);
  family('lbdiag_whoami_connections_active', 'gauge', 'TCP connections open now.');
  out.push(`lbdiag_whoami_connections_active ${s.connectionsActive}`);
  family('lbdiag_whoami_connections_closed_total', 'counter', 'TCP connections closed, by who closed them.');
  CLOSE_REASONS.forEach((r, i) => out.push(`lbdiag_whoami_connections_closed_total{by="${r}"} ${m.closedBy[i]}`));
  family('lbdiag_whoami_requests_per_connection', 'histogram', 'Requests served per connection, observed when the connection closes.');
  for (const [le, n] of Object.entries(s.requestsPerConn.buckets)) out.push(`lbdiag_whoami_requests_per_connection_bucket{le="${le}"} ${n}`);
  out.push(`lbdiag_whoami_requests_per_connection_sum ${s.requestsPerConn.sum}`);
  out.push(`lbdiag_whoami_requests_per_connection_count ${s.requestsPerConn.count}`);
  family('lbdiag_whoami_connections_by_protocol_total', 'counter', 'Connections accepted, by protocol: http/1.1 (plain or TLS), h2c (HTTP/2 by prior knowledge), h2 (HTTP/2 over TLS, ALPN).');
  for (const p of PROTOCOLS) out.push(`lbdiag_whoami_connections_by_protocol_total{protocol="${p}"} ${s.connectionsByProtocol[p]}`);
  family('lbdiag_whoami_streams_per_connection', 'histogram', 'HTTP/2 streams served per connection (h2c and h2 only), observed when the connection closes.');
  for (const [le, n] of Object.entries(s.streamsPerConn.buckets)) out.push(`lbdiag_whoami_streams_per_connection_bucket{le="${le}"} ${n}`);
  out.push(`lbdiag_whoami_streams_per_connection_sum ${s.streamsPerConn.sum}`);
  out.push(`lbdiag_whoami_streams_per_connection_count ${s.streamsPerConn.count}`);
  family('lbdiag_whoami_grpc_calls_total', 'counter', 'gRPC calls answered, by method path and grpc-status code.');
  const calls = Object.entries(s.grpcCalls);
  if (calls.length === 0) out.push('lbdiag_whoami_grpc_calls_total{method="/grpc.health.v1.Health/Check",code="0"} 0');
  for (const [method, codes] of calls) for (const [code, n] of Object.entries(codes)) out.push(`lbdiag_whoami_grpc_calls_total{method="${method}",code="${code}"} ${n}`);
  family('lbdiag_whoami_tls_handshake_failures_total', 'counter', 'TLS handshakes that failed (--tls).');
  out.push(`lbdiag_whoami_tls_handshake_failures_total ${s.tlsHandshakeFailures}`);
  family('lbdiag_whoami_draining', 'gauge', '1 while draining after SIGTERM/SIGINT, else 0.');
  out.push(`lbdiag_whoami_draining ${l.draining ? 1 : 0}`);
  family('lbdiag_whoami_health_status', 'gauge', 'HTTP status GET /health answers now.');
  out.push(`lbdiag_whoami_health_status ${l.healthStatus}`);
  return out.join('\n') + '\n';
}
