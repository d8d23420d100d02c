/**
 * The traffic engine: lanes, each sending one request at a time.
 * - short: `concurrency` lanes, a new connection per request, `Connection: close`;
 * - keepalive: a pool of `concurrency` connections, reopened only when the server closes them;
 * - rotate: keep-alive, but a connection is retired after `maxConnRequests` requests or
 *   `maxConnAgeMs` of age (the client-side remedy for pinning).
 * Pooled modes never send in lockstep: `concurrency - 1` lanes (1 when concurrency is 1) share
 * the pool, and each request goes to a connection drawn at random among the idle ones, so the
 * order in which connections reach the balancer is irregular and their request counts uneven.
 * A per-request balancer (even strict round robin) then spreads every connection over several
 * backends; a fixed schedule (each connection firing right after its own answer) would hand each
 * connection the same round-robin slot every time and look exactly like layer-4 pinning.
 * Every request carries its dispatch order (0-based, per mode) so the analysis can check this.
 * With `requests`, each lane gets an equal quota; with `durationMs` lanes run until the deadline.
 * `rate` (per second, whole run) and `intervalMs` (per connection) pace the lanes, staggered.
 */
import { performance } from 'node:perf_hooks';
import { ProbeConnection, type Endpoint, type Exchange } from './connection.js';
import type { ProbeMode } from './record.js';
import { SocketPool } from './socket-pool.js';
import { endpointPicker } from './source-choice.js';

/** What every traffic engine (HTTP/1.1 here, HTTP/2 in h2-engine.ts) is asked to run for one mode. */
export interface TrafficPlan {
  mode: ProbeMode;
  addresses: string[];
  /** `--source`: local addresses to bind to, dealt to connections from a shuffled deck (only those of each address's family are paired with it). */
  sources?: string[];
  endpoint: Omit<Endpoint, 'address'>;
  concurrency: number;
  requests?: number;
  durationMs?: number;
  /** One request per interval per connection. */
  intervalMs?: number;
  rate?: number;
  /**
   * `--workers`: this worker's place among the workers as a fraction of one lane step (0 <= p < 1):
   * its paced lanes start that much later, so the workers' lanes interleave instead of firing together.
   */
  pacePhase?: number;
  maxConnRequests?: number;
  maxConnAgeMs?: number;
  signal?: AbortSignal;
  /** Connection numbers continue across modes so each is unique within the run. */
  firstConnId: number;
}

export interface EngineOptions extends TrafficPlan {
  /** Request bytes for keep-alive connections and for `Connection: close` ones. */
  payload: Buffer;
  payloadClose: Buffer;
  /**
   * `--workers`: connection numbers and dispatch orders drawn from counters shared by every worker
   * thread (src/probe/workers.ts), so both stay unique and in send order across the whole run.
   */
  ids?: { conn(): number; order(): number };
  /** `order`: dispatch order of the request within this mode (0-based). */
  onExchange: (ex: Exchange, conn: ProbeConnection, startedAt: number, order: number) => void;
}

export interface EngineResult {
  connections: number;
  nextConnId: number;
  startedAt: number;
  endedAt: number;
  aborted: boolean;
  /**
   * Requests still in flight when the run stopped (the `-d` deadline or an interrupt): cut off
   * by the probe's own schedule, so neither answers nor errors of the balancer.
   */
  inFlightAborted: number;
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
    /** Short-lived connections whose response is complete, waiting for the server's FIN. */
    let closing: ProbeConnection[] = [];
    const timers = new Set<NodeJS.Timeout>();

    // One coarse tick for every timeout (requests in flight, closing sockets): no per-socket timers.
    const tickMs = Math.min(250, Math.max(10, Math.floor(o.endpoint.timeoutMs / 20)));
    const sweep = (): void => {
      const now = performance.now();
      for (const conn of live) conn.expired(now); // a timed-out request calls back and its lane moves on
      if (closing.length) closing = closing.filter((conn) => !conn.expired(now));
    };
    const ticker = setInterval(sweep, tickMs);

    const pool = o.endpoint.tls ? undefined : new SocketPool(4 * c + 16);
    // With --source, sources come from a shuffled deck (src/probe/source-choice.ts): never in step with a balancer's own sequence.
    const nextEndpoint = endpointPicker(o);
    const newConn = (): ProbeConnection => {
      const endpoint = nextEndpoint();
      opened++;
      const conn = new ProbeConnection(o.ids ? o.ids.conn() : connId++, endpoint, pool);
      live.add(conn);
      return conn;
    };

    let finished = false;
    let inFlightAborted = 0;
    let hardStop: NodeJS.Timeout | undefined;
    const finishAll = (): void => {
      if (finished) return;
      finished = true;
      const endedAt = performance.now();
      if (hardStop) clearTimeout(hardStop);
      for (const conn of live) {
        if (conn.busy) inFlightAborted++;
        conn.destroy();
      }
      live.clear();
      for (const t of timers) clearTimeout(t);
      timers.clear();
      o.signal?.removeEventListener('abort', onAbort);
      const end = (): void => {
        clearInterval(ticker);
        for (const conn of closing) conn.destroy();
        closing = [];
        pool?.close();
        resolve({ connections: opened, nextConnId: connId, startedAt: start, endedAt, aborted, inFlightAborted });
      };
      // Connections whose answer is complete still wait for the server's FIN (the server closes
      // first, as with real clients): give them the same grace as during the run, unless interrupted.
      const graceEnd = endedAt + Math.min(o.endpoint.timeoutMs, 2000);
      if (aborted || closing.length === 0) return end();
      const wait = setInterval(() => {
        const now = performance.now();
        closing = closing.filter((conn) => !conn.expired(now));
        if (closing.length === 0 || now >= graceEnd || aborted) {
          clearInterval(wait);
          end();
        }
      }, 5);
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
    // `-d` is a hard deadline: requests still in flight then are cut off (counted, not tallied).
    if (Number.isFinite(deadline)) hardStop = setTimeout(finishAll, Math.max(0, deadline - performance.now()));

    const short = o.mode === 'short';
    const payload = short ? o.payloadClose : o.payload;
    // Pooled modes: one lane fewer than connections, so at least two are idle at each choice.
    const lanes = short || c === 1 ? c : c - 1;
    lanesLeft = lanes;
    const laneGap = o.rate ? (1000 * lanes) / o.rate : o.intervalMs !== undefined ? (o.intervalMs * lanes) / c : undefined;
    /** Pooled modes: the connections (null until first used) and which of them are idle. */
    const poolConns: (ProbeConnection | null)[] = short ? [] : new Array<ProbeConnection | null>(c).fill(null);
    const idle: number[] = short ? [] : Array.from({ length: c }, (_, i) => i);
    let unopened = short ? 0 : c;
    let dispatched = 0;

    const runLane = (lane: number): void => {
      const quota = o.requests !== undefined ? Math.floor(o.requests / lanes) + (lane < o.requests % lanes ? 1 : 0) : Infinity;
      let sent = 0;
      let conn: ProbeConnection | null = null;
      let slot = -1;
      let sentAt = 0;
      let order = 0;
      const offset = laneGap ? (laneGap * (lane + (o.pacePhase ?? 0))) / lanes : 0;

      const laneDone = (): void => {
        if (conn && short) {
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

      // One callback per lane (a lane has one request in flight), not one closure per request.
      const onDone = (ex: Exchange): void => {
        if (aborted || finished) return;
        const used = conn!;
        o.onExchange(ex, used, sentAt, order);
        if (short) {
          live.delete(used);
          if (used.open) closing.push(used);
          conn = null;
        } else idle.push(slot);
        next();
      };

      const fire = (): void => {
        if (aborted) return;
        if (short) conn = newConn();
        else {
          // A connection drawn at random among the idle ones (see the header); while the pool is not
          // yet all open, an unopened one first, so every connection exists from the first round trips
          // (a pool made before a scale-up must not open its last connection after it, by chance).
          let pick = Math.floor(Math.random() * idle.length);
          if (unopened > 0) {
            const u = idle.findIndex((i) => poolConns[i] === null);
            if (u >= 0) {
              pick = u;
              unopened--;
            }
          }
          slot = idle[pick];
          idle[pick] = idle[idle.length - 1];
          idle.pop();
          conn = poolConns[slot];
          if (!conn || !conn.usable || retire(conn)) {
            if (conn) {
              conn.destroy();
              live.delete(conn);
            }
            conn = poolConns[slot] = newConn();
          }
        }
        order = o.ids ? o.ids.order() : dispatched++;
        sentAt = performance.now();
        sent++;
        conn.send(payload, onDone, sentAt);
      };

      next();
    };

    const retire = (conn: ProbeConnection): boolean => {
      if (o.mode !== 'rotate') return false;
      if (o.maxConnRequests !== undefined && conn.requests >= o.maxConnRequests) return true;
      if (o.maxConnAgeMs !== undefined && conn.requests > 0 && performance.now() - conn.openedAt >= o.maxConnAgeMs) return true;
      return false;
    };

    for (let lane = 0; lane < lanes; lane++) runLane(lane);
  });
}
