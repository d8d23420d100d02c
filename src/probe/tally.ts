/**
 * Streaming tallies of probe records, one `ModeTally` per mode: counts, per-backend and
 * per-connection tables, error kinds split fresh vs reused, latency histograms and a timeline.
 * Memory is bounded whatever the request count (no per-request arrays).
 */
import { Histogram } from '../core/histogram.js';
import { Timeline } from './timeline.js';
import type { ProbeMode, ProbeRecord } from './record.js';
import { TlsTally } from './tls-tally.js';

export interface InstanceTally {
  instance: string;
  pid?: number;
  /** Distinct pids that answered under this instance (workers of one start), bounded. */
  pids: Set<number>;
  /** X-Lbdiag-Started: when this generation started (Unix epoch ms), if the server says. */
  started?: number;
  count: number;
  firstT: number;
  lastT: number;
  /** Answers on new connections (the listener accepted a connection after this instance started). */
  fresh: number;
  /** For each instance of the same backend first seen after this one: `fresh` at that moment. */
  freshBefore: Map<string, number>;
}

export interface BackendTally {
  name: string;
  /** Responses this backend gave (any status). */
  responses: number;
  /** Of those, status < 500. */
  ok: number;
  /** Of those, status >= 500. */
  errors: number;
  onReused: number;
  onFresh: number;
  firstT: number;
  lastT: number;
  total: Histogram;
  instances: Map<string, InstanceTally>;
  addresses: Map<string, number>;
}

export interface ConnTally {
  id: number;
  port: number;
  addr: string;
  /** `--source` address the connection was bound to. */
  src?: string;
  firstT: number;
  lastT: number;
  requests: number;
  ok: number;
  errors: number;
  backends: Map<string, number>;
  /** Distinct server-side connections (lbdiag whoami's X-Lbdiag-Conn, with instance) seen on it. */
  serverConns: Set<string>;
  /**
   * Dispatch orders of its successful identified requests: the first, and the gcd of the
   * differences. Strict round robin over k backends keeps this connection on one backend exactly
   * when k divides the gcd (its requests all fall in the same round-robin slot).
   */
  orderFirst: number;
  orderGcd: number;
  /**
   * Backends the client that opened this connection reached in its whole run (set by `lbdiag
   * merge`; absent in a single run, where it is every backend the run saw). A connection whose
   * client could reach only one backend (another target, source affinity) staying on one backend
   * says nothing about per-connection balancing.
   */
  clientBackends?: number;
}

export interface ErrorKindTally {
  count: number;
  fresh: number;
  reused: number;
  connectPhase: number;
  /** Failed in the TLS handshake (TCP accepted). */
  tlsPhase: number;
}

export interface AddressTally {
  requests: number;
  ok: number;
  errors: number;
  backends: Map<string, number>;
}

export const MAX_CONN_DETAIL = 5000;
/** Dispatch orders of failed requests kept for the failure pattern (the rest are counted). */
export const MAX_FAIL_ORDERS = 20_000;
const MAX_INSTANCES = 64;
const MAX_SERVER_CONNS = 64;

export class ModeTally {
  requests = 0;
  ok = 0;
  errors = 0;
  /** Requests on fresh / reused connections, and how many of each failed. */
  fresh = 0;
  reused = 0;
  failedFresh = 0;
  failedReused = 0;
  statuses = new Map<number, number>();
  errorKinds = new Map<string, ErrorKindTally>();
  backends = new Map<string, BackendTally>();
  /** Responses with no backend identity. */
  unidentified = 0;
  conns = new Map<number, ConnTally>();
  connsSeen = 0;
  connsDropped = 0;
  addresses = new Map<string, AddressTally>();
  /** Per `--source` address (only when the run bound its connections): requests and backends reached. */
  sources = new Map<string, AddressTally>();
  /** Connections opened per `--source` address (the unit a source-hashing balancer decides on). */
  sourceConns = new Map<string, Map<string, number>>();
  connect = new Histogram();
  /** https: TLS handshake times (new connections). */
  tlsHandshake = new Histogram();
  /** https: what the handshakes showed, per backend and per certificate, and the TLS errors. */
  tls = new TlsTally();
  ttfb = new Histogram();
  total = new Histogram();
  /** Total time of requests on new connections, to tell connect stalls from server stalls. */
  totalFresh = new Histogram();
  timeline: Timeline;
  /** Gaps (in requests, completion order) between consecutive failures: the 1-in-N pattern. */
  errorGaps = new Map<number, number>();
  private lastErrorIndex = -1;
  /** Dispatch orders of failed requests (bounded): the 1-in-N pattern in the order they were sent. */
  failOrders: number[] = [];
  /** Total time of failed requests, and of failed ones that got no HTTP answer. */
  failedTotal = new Histogram();
  /** Total time of successful requests. */
  okTotal = new Histogram();
  /** Failed requests that named a backend (a 5xx with identity). */
  failedIdentified = 0;
  /** Idle time before requests on reused connections: all, and the ones that failed. */
  idleAll = new Histogram();
  idleFailed = new Histogram();
  /** L7 signals from lbdiag whoami's view of the connection. */
  seqChecked = 0;
  seqMismatch = 0;
  forwardedChecked = 0;
  forwarded = new Map<string, number>();
  /** Mode start (run-relative ms): the timeline's origin. Set by the runner, else the first record. */
  startT = Infinity;
  endT = 0;
  /** Engine facts filled in after the run: connections opened, wall time. */
  connectionsOpened = 0;
  durationMs = 0;
  /** Concurrent lanes (-c). */
  lanes = 1;

  constructor(
    readonly mode: ProbeMode,
    timelineBucketMs = 100,
  ) {
    this.timeline = new Timeline(timelineBucketMs);
  }

  add(r: ProbeRecord): void {
    const index = this.requests++;
    if (r.t < this.startT) this.startT = r.t;
    if (r.t + r.totalMs > this.endT) this.endT = r.t + r.totalMs;
    const failed = r.error !== undefined || (r.status !== undefined && r.status >= 500);
    if (failed) {
      this.errors++;
      this.failedTotal.record(r.totalMs);
      if (r.order !== undefined && this.failOrders.length < MAX_FAIL_ORDERS) this.failOrders.push(r.order);
      if (r.backend !== undefined) this.failedIdentified++;
      if (this.lastErrorIndex >= 0) {
        const gap = index - this.lastErrorIndex;
        if (this.errorGaps.size < 200 || this.errorGaps.has(gap)) this.errorGaps.set(gap, (this.errorGaps.get(gap) ?? 0) + 1);
      }
      this.lastErrorIndex = index;
    } else {
      this.ok++;
      this.okTotal.record(r.totalMs);
    }
    if (r.reused) {
      this.reused++;
      if (failed) this.failedReused++;
      if (r.idleMs !== undefined) {
        this.idleAll.record(r.idleMs);
        if (r.error !== undefined) this.idleFailed.record(r.idleMs);
      }
    } else {
      this.fresh++;
      if (failed) this.failedFresh++;
    }
    if (r.status !== undefined) this.statuses.set(r.status, (this.statuses.get(r.status) ?? 0) + 1);
    if (r.error !== undefined) {
      let k = this.errorKinds.get(r.error);
      if (!k) this.errorKinds.set(r.error, (k = { count: 0, fresh: 0, reused: 0, connectPhase: 0, tlsPhase: 0 }));
      k.count++;
      if (r.reused) k.reused++;
      else k.fresh++;
      if (r.phase === 'connect') k.connectPhase++;
      else if (r.phase === 'tls') k.tlsPhase++;
    }
    if (r.connectMs !== undefined) {
      this.connect.record(r.connectMs);
      this.totalFresh.record(r.totalMs);
    }
    if (r.tlsMs !== undefined) this.tlsHandshake.record(r.tlsMs);
    if (r.tls !== undefined || (r.error !== undefined && r.error.startsWith('tls-'))) this.tls.add(r, failed);
    if (r.ttfbMs !== undefined) this.ttfb.record(r.ttfbMs);
    this.total.record(r.totalMs);

    let a = this.addresses.get(r.addr);
    if (!a) this.addresses.set(r.addr, (a = { requests: 0, ok: 0, errors: 0, backends: new Map() }));
    a.requests++;
    if (failed) a.errors++;
    else a.ok++;

    let src: AddressTally | undefined;
    if (r.src !== undefined) {
      src = this.sources.get(r.src);
      if (!src) this.sources.set(r.src, (src = { requests: 0, ok: 0, errors: 0, backends: new Map() }));
      src.requests++;
      if (failed) src.errors++;
      else src.ok++;
    }

    if (r.status !== undefined) {
      if (r.backend === undefined) this.unidentified++;
      else {
        const b = this.backend(r.backend, r.t);
        b.responses++;
        if (failed) b.errors++;
        else b.ok++;
        if (r.reused) b.onReused++;
        else b.onFresh++;
        b.lastT = Math.max(b.lastT, r.t);
        b.total.record(r.totalMs);
        b.addresses.set(r.addr, (b.addresses.get(r.addr) ?? 0) + 1);
        if (!failed) a.backends.set(r.backend, (a.backends.get(r.backend) ?? 0) + 1);
        if (!failed && src) {
          src.backends.set(r.backend, (src.backends.get(r.backend) ?? 0) + 1);
          // The first identified answer on each connection: one observation per connection for the
          // source x backend table (requests on one kept-alive connection are not independent).
          if (r.seq === 1) {
            let m = this.sourceConns.get(r.src!);
            if (!m) this.sourceConns.set(r.src!, (m = new Map()));
            m.set(r.backend, (m.get(r.backend) ?? 0) + 1);
          }
        }
        if (r.instance !== undefined) {
          let inst = b.instances.get(r.instance);
          if (!inst && b.instances.size < MAX_INSTANCES) {
            // Snapshot how many fresh answers each older-seen instance had given before this one appeared.
            for (const other of b.instances.values()) other.freshBefore.set(r.instance, other.fresh);
            b.instances.set(r.instance, (inst = { instance: r.instance, pid: r.pid, pids: new Set(), started: r.started, count: 0, firstT: r.t, lastT: r.t, fresh: 0, freshBefore: new Map() }));
          }
          if (inst) {
            inst.count++;
            if (!r.reused) inst.fresh++;
            if (r.pid !== undefined && inst.pids.size < MAX_INSTANCES) inst.pids.add(r.pid);
            if (inst.started === undefined && r.started !== undefined) inst.started = r.started;
            inst.firstT = Math.min(inst.firstT, r.t);
            inst.lastT = Math.max(inst.lastT, r.t);
          }
        }
      }
      if (r.serverSeq !== undefined) {
        this.seqChecked++;
        if (r.serverSeq !== r.seq) this.seqMismatch++;
      }
      if (!r.reused) {
        this.forwardedChecked++;
        for (const f of r.forwarded ?? []) this.forwarded.set(f, (this.forwarded.get(f) ?? 0) + 1);
      }
    }
    this.timeline.add(r.t - this.startT, failed ? undefined : r.backend, failed);

    if (this.mode !== 'short') this.addConn(r, failed);
  }

  private backend(name: string, t: number): BackendTally {
    let b = this.backends.get(name);
    if (!b) {
      b = { name, responses: 0, ok: 0, errors: 0, onReused: 0, onFresh: 0, firstT: t, lastT: t, total: new Histogram(), instances: new Map(), addresses: new Map() };
      this.backends.set(name, b);
    }
    if (t < b.firstT) b.firstT = t;
    return b;
  }

  private addConn(r: ProbeRecord, failed: boolean): void {
    let c = this.conns.get(r.conn);
    if (!c) {
      this.connsSeen++;
      if (this.conns.size >= MAX_CONN_DETAIL) {
        this.connsDropped++;
        return;
      }
      c = { id: r.conn, port: r.port, addr: r.addr, ...(r.src !== undefined ? { src: r.src } : {}), firstT: r.t, lastT: r.t, requests: 0, ok: 0, errors: 0, backends: new Map(), serverConns: new Set(), orderFirst: -1, orderGcd: 0 };
      this.conns.set(r.conn, c);
    }
    if (r.port) c.port = r.port;
    c.requests++;
    c.lastT = r.t;
    if (failed) c.errors++;
    else c.ok++;
    if (!failed && r.backend !== undefined) {
      c.backends.set(r.backend, (c.backends.get(r.backend) ?? 0) + 1);
      if (r.order !== undefined) {
        if (c.orderFirst < 0) c.orderFirst = r.order;
        else c.orderGcd = gcd(c.orderGcd, Math.abs(r.order - c.orderFirst));
      }
    }
    if (r.serverConn !== undefined && c.serverConns.size < MAX_SERVER_CONNS) c.serverConns.add(`${r.instance ?? r.backend ?? ''}/${r.serverConn}`);
  }
}

/** Greatest common divisor of two non-negative integers. */
export function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}
