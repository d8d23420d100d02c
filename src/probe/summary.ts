/**
 * The probe's JSON document (`--json`, and what `lab` reads): built from the tallies once the run
 * ends, inside the common envelope (src/core/envelope.ts; schema/lbdiag-v1.schema.json). A stable
 * schema: add fields, never rename them.
 */
import type { Envelope } from '../core/envelope.js';
import type { HistogramJson, HistogramSummary } from '../core/histogram.js';
import type { ProbeMode } from './record.js';
import { compareAddresses } from './sources.js';
import type { ModeTally } from './tally.js';
import type { TlsReport } from './tls-tally.js';

export interface BackendReport {
  name: string;
  /** Successful responses (status < 500) from this backend. */
  count: number;
  /** count / all successful identified responses in the mode. */
  share: number;
  /** 5xx responses that named this backend. */
  errors: number;
  onNewConnections: number;
  onReusedConnections: number;
  p50Ms: number | null;
  p99Ms: number | null;
  firstSeenMs: number;
  lastSeenMs: number;
  /** Generations (X-Lbdiag-Instance): first pid, every pid seen (workers), start time when sent. */
  instances: { instance: string; pid: number | null; count: number; pids: number[]; started: number | null }[];
  /** Per remote address (with --resolve all). */
  addresses: Record<string, number>;
}

export interface ConnectionReport {
  id: number;
  localPort: number;
  address: string;
  /** `--source` address it was bound to. */
  source?: string;
  requests: number;
  errors: number;
  backends: Record<string, number>;
  /** Distinct connections the backend(s) saw on it (lbdiag whoami only). */
  serverConnections: number;
  /** gcd of the dispatch-order differences of its answered requests (keepalive-pinning's round-robin check; 0 with one request). */
  orderGcd?: number;
  firstMs: number;
  lastMs: number;
}

export interface LatencyReport {
  /** The TCP handshake (on https too: the TLS handshake is `tls`). */
  connect: HistogramSummaryJson;
  /** https: the TLS handshake, TCP connected to handshake done (absent on http runs). */
  tls?: HistogramSummaryJson;
  server: HistogramSummaryJson;
  total: HistogramSummaryJson;
}

export type HistogramSummaryJson = { [K in keyof HistogramSummary]: number | null };

export interface ModeReport {
  requests: number;
  ok: number;
  errors: number;
  /** Responses without backend identity. */
  unidentified: number;
  /** Connections opened in this mode. */
  connections: number;
  requestsOnNewConnections: number;
  requestsOnReusedConnections: number;
  errorsOnNewConnections: number;
  errorsOnReusedConnections: number;
  startMs: number;
  durationMs: number;
  /** Requests per second over the mode. */
  rate: number;
  statuses: Record<string, number>;
  errorKinds: Record<string, { count: number; onNew: number; onReused: number; inConnect: number; inTls?: number }>;
  backends: BackendReport[];
  perConnection: ConnectionReport[];
  /** Connections beyond the detail cap (counted, not listed). */
  perConnectionOmitted: number;
  addresses: { address: string; requests: number; ok: number; errors: number; backends: Record<string, number> }[];
  /**
   * With `--source`: per local address, requests and the backends that answered them
   * (`backends`), and the backend of each connection's first answer (`connectionBackends`).
   */
  sources?: { source: string; requests: number; ok: number; errors: number; backends: Record<string, number>; connectionBackends: Record<string, number> }[];
  latency: LatencyReport;
  /** The latency histograms bucket by bucket (ms), so `lbdiag merge` adds runs without loss. */
  histograms?: { connect: HistogramJson; tls?: HistogramJson; server: HistogramJson; total: HistogramJson; ok: HistogramJson; failed: HistogramJson; fresh: HistogramJson };
  /** https: versions, ciphers, ALPN and certificates per backend, every certificate seen, the TLS errors. */
  tls?: TlsReport;
  timeline: { bucketMs: number; buckets: { t: number; requests: number; errors: number; backends: Record<string, number> }[] };
  /** Requests cut off in flight when the run stopped (-d deadline, Ctrl-C): not tallied. */
  inFlightAborted?: number;
  /**
   * HTTP/2 runs (`--http2`, `--grpc`): streams per connection (`--streams`), GOAWAY frames
   * received, and streams the server refused (REFUSED_STREAM, past a GOAWAY) that were sent again
   * on another connection (not counted as requests or errors).
   */
  http2?: { streamsPerConnection: number; goaways: number; retried: number };
}

/** The probe's fields after the common envelope (`schema`, `command`, `version`, `startedAt`, `interrupted`, `config`, `findings`). */
export interface ProbeFields {
  /** This run's client label (`--label`, default the host name): how `lbdiag merge` tells runs apart. */
  client: string;
  target: { url: string; host: string; port: number; path: string; addresses: string[] };
  durationMs: number;
  modes: Partial<Record<ProbeMode, ModeReport>>;
  /** Inputs found wrong once the run showed what answered (e.g. a --weights name): exit 2 after the report. */
  inputErrors?: string[];
}

export type ProbeReport = Envelope<'probe'> & ProbeFields;

const num = (x: number): number | null => (Number.isFinite(x) ? Math.round(x * 1000) / 1000 : null);

function hist(h: HistogramSummary): HistogramSummaryJson {
  return { count: h.count, min: num(h.min), mean: num(h.mean), p50: num(h.p50), p90: num(h.p90), p99: num(h.p99), max: num(h.max) };
}

const obj = <V>(m: Map<string | number, V>): Record<string, V> => Object.fromEntries([...m.entries()].map(([k, v]) => [String(k), v]));

export function summarizeMode(t: ModeTally): ModeReport {
  const okIdentified = [...t.backends.values()].reduce((s, b) => s + b.ok, 0);
  const backends: BackendReport[] = [...t.backends.values()]
    .sort((a, b) => b.ok - a.ok || a.name.localeCompare(b.name))
    .map((b) => ({
      name: b.name,
      count: b.ok,
      share: okIdentified ? Math.round((b.ok / okIdentified) * 10000) / 10000 : 0,
      errors: b.errors,
      onNewConnections: b.onFresh,
      onReusedConnections: b.onReused,
      p50Ms: num(b.total.quantile(0.5)),
      p99Ms: num(b.total.quantile(0.99)),
      firstSeenMs: num(b.firstT) ?? 0,
      lastSeenMs: num(b.lastT) ?? 0,
      instances: [...b.instances.values()].map((i) => ({ instance: i.instance, pid: i.pid ?? null, count: i.count, pids: [...i.pids], started: i.started ?? null })),
      addresses: obj(b.addresses),
    }));
  const perConnection: ConnectionReport[] = [...t.conns.values()].map((c) => ({
    id: c.id,
    localPort: c.port,
    address: c.addr,
    ...(c.src !== undefined ? { source: c.src } : {}),
    requests: c.requests,
    errors: c.errors,
    backends: obj(c.backends),
    serverConnections: c.serverConns.size,
    orderGcd: c.orderGcd,
    firstMs: num(c.firstT) ?? 0,
    lastMs: num(c.lastT) ?? 0,
  }));
  const errorKinds: ModeReport['errorKinds'] = {};
  for (const [k, v] of t.errorKinds) errorKinds[k] = { count: v.count, onNew: v.fresh, onReused: v.reused, inConnect: v.connectPhase, ...(v.tlsPhase ? { inTls: v.tlsPhase } : {}) };
  const tlsTimed = t.tlsHandshake.count > 0;
  const dur = t.durationMs || Math.max(0, t.endT - t.startT);
  return {
    requests: t.requests,
    ok: t.ok,
    errors: t.errors,
    unidentified: t.unidentified,
    connections: t.connectionsOpened,
    requestsOnNewConnections: t.fresh,
    requestsOnReusedConnections: t.reused,
    errorsOnNewConnections: t.failedFresh,
    errorsOnReusedConnections: t.failedReused,
    startMs: num(t.startT) ?? 0,
    durationMs: num(dur) ?? 0,
    rate: dur > 0 ? Math.round((t.requests * 1000 * 10) / dur) / 10 : 0,
    statuses: obj(t.statuses),
    errorKinds,
    backends,
    perConnection,
    perConnectionOmitted: t.connsDropped,
    addresses: [...t.addresses.entries()].map(([address, a]) => ({ address, requests: a.requests, ok: a.ok, errors: a.errors, backends: obj(a.backends) })),
    ...(t.sources.size
      ? { sources: [...t.sources.entries()].sort((x, y) => compareAddresses(x[0], y[0])).map(([source, a]) => ({ source, requests: a.requests, ok: a.ok, errors: a.errors, backends: obj(a.backends), connectionBackends: obj(t.sourceConns.get(source) ?? new Map<string, number>()) })) }
      : {}),
    latency: { connect: hist(t.connect.summary()), ...(tlsTimed ? { tls: hist(t.tlsHandshake.summary()) } : {}), server: hist(t.ttfb.summary()), total: hist(t.total.summary()) },
    histograms: { connect: t.connect.toJSON(), ...(tlsTimed ? { tls: t.tlsHandshake.toJSON() } : {}), server: t.ttfb.toJSON(), total: t.total.toJSON(), ok: t.okTotal.toJSON(), failed: t.failedTotal.toJSON(), fresh: t.totalFresh.toJSON() },
    ...(t.tls.empty ? {} : { tls: t.tls.toJSON() }),
    timeline: {
      bucketMs: t.timeline.bucketMs,
      buckets: t.timeline.buckets.map((b) => ({ t: b.t, requests: b.requests, errors: b.errors, backends: obj(b.backends) })),
    },
  };
}
