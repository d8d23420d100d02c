/**
 * The traffic engine: `concurrency` lanes, each sending one request at a time.
 * - keepalive: each lane owns one connection, reopened only when the server closes it;
 * - short: a new connection per request, `Connection: close`;
 * - rotate: keep-alive, but a connection is retired after `maxConnRequests` requests or
 *   `maxConnAgeMs` of age (the client-side remedy for pinning).
 * With `requests`, each lane gets an equal quota, so a slow backend does not get fewer requests
 * just because its connection is slower; with `durationMs` lanes run until the deadline.
 * `rate` (per second, whole run) and `intervalMs` (per lane) pace the lanes, staggered.
 */
import { performance } from 'node:perf_hooks';
import { ProbeConnection, type Endpoint, type Exchange } from './connection.js';
import type { ProbeMode } from './record.js';

export interface EngineOptions {
  mode: ProbeMode;
  addresses: string[];
  endpoint: Omit<Endpoint, 'address'>;
  /** Request bytes for keep-alive connections and for `Connection: close` ones. */
  payload: Buffer;
  payloadClose: Buffer;
  concurrency: number;
  requests?: number;
  durationMs?: number;
  intervalMs?: number;
  rate?: number;
  maxConnRequests?: number;
  maxConnAgeMs?: number;
  signal?: AbortSignal;
  /** Connection numbers continue across modes so each is unique within the run. */
  firstConnId: number;
  onExchange: (ex: Exchange, conn: ProbeConnection, startedAt: number) => void;
}

export interface EngineResult {
  connections: number;
  nextConnId: number;
  startedAt: number;
  endedAt: number;
  aborted: boolean;
}

export function runEngine(o: EngineOptions): Promise<EngineResult> {
  return new Promise((resolve) => {
    const start = performance.now();
    const deadline = o.durationMs !== undefined ? start + o.durationMs : Infinity;
    const c = o.concurrency;
    let connId = o.firstConnId;
    let opened = 0;
    let lanesLeft = c;
    let aborted = false;
    const live = new Set<ProbeConnection>();
    const timers = new Set<NodeJS.Timeout>();

    const newConn = (): ProbeConnection => {
      const address = o.addresses[opened % o.addresses.length];
      opened++;
      const conn = new ProbeConnection(connId++, { ...o.endpoint, address });
      live.add(conn);
      return conn;
    };

    const finishAll = (): void => {
      for (const conn of live) conn.destroy();
      live.clear();
      for (const t of timers) clearTimeout(t);
      timers.clear();
      o.signal?.removeEventListener('abort', onAbort);
      resolve({ connections: opened, nextConnId: connId, startedAt: start, endedAt: performance.now(), aborted });
    };

    const onAbort = (): void => {
      if (aborted) return;
      aborted = true;
      finishAll();
    };
    if (o.signal?.aborted) {
      aborted = true;
      queueMicrotask(finishAll);
      return;
    }
    o.signal?.addEventListener('abort', onAbort);

    const laneGap = o.rate ? (1000 * c) / o.rate : o.intervalMs;

    const runLane = (lane: number): void => {
      const quota = o.requests !== undefined ? Math.floor(o.requests / c) + (lane < o.requests % c ? 1 : 0) : Infinity;
      let sent = 0;
      let conn: ProbeConnection | null = null;
      const offset = laneGap ? (laneGap * lane) / c : 0;

      const laneDone = (): void => {
        if (conn) {
          conn.destroy();
          live.delete(conn);
        }
        if (--lanesLeft === 0 && !aborted) finishAll();
      };

      const next = (): void => {
        if (aborted) return;
        if (sent >= quota || performance.now() >= deadline) return laneDone();
        if (laneGap) {
          const due = start + offset + sent * laneGap;
          const wait = due - performance.now();
          if (wait > 1) {
            if (due >= deadline) return laneDone();
            const t = setTimeout(() => {
              timers.delete(t);
              fire();
            }, wait);
            timers.add(t);
            return;
          }
        }
        fire();
      };

      const fire = (): void => {
        if (aborted) return;
        if (o.mode === 'short') {
          if (conn) live.delete(conn);
          conn = newConn();
        } else if (!conn || !conn.usable || retire(conn)) {
          if (conn) {
            conn.destroy();
            live.delete(conn);
          }
          conn = newConn();
        }
        const used = conn;
        const t = performance.now();
        sent++;
        used.send(o.mode === 'short' ? o.payloadClose : o.payload, (ex) => {
          if (aborted) return;
          o.onExchange(ex, used, t);
          if (o.mode === 'short') live.delete(used);
          next();
        });
      };

      next();
    };

    const retire = (conn: ProbeConnection): boolean => {
      if (o.mode !== 'rotate') return false;
      if (o.maxConnRequests !== undefined && conn.requests >= o.maxConnRequests) return true;
      if (o.maxConnAgeMs !== undefined && conn.requests > 0 && performance.now() - conn.openedAt >= o.maxConnAgeMs) return true;
      return false;
    };

    for (let lane = 0; lane < c; lane++) runLane(lane);
  });
}
