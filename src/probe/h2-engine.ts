/**
 * The HTTP/2 traffic engine (`--http2`, `--grpc`): `concurrency` connections (HTTP/2 sessions),
 * each carrying up to `streams` concurrent streams.
 * - keepalive: a fixed set of sessions, reopened only when the server ends one (GOAWAY, close);
 * - short: a new session per request (one stream, then the client closes it with GOAWAY);
 * - rotate: a session is retired after `maxConnRequests` streams or `maxConnAgeMs` of age.
 * In every mode a GOAWAY from the server is honoured: no new stream on that session, a new session
 * in its place, and the streams it refused (REFUSED_STREAM, or above its last-stream-id: never
 * processed, RFC 9113 6.8) are sent again on another session, counted apart (`retried`), never
 * counted as failures of the backend.
 *
 * No lockstep (the reason HTTP/1.1 keep-alive keeps c-1 requests in flight on c connections):
 * through an L7 proxy balancing per stream with strict round robin, sessions that each refill
 * their own finished stream would each keep the same round-robin slot and look pinned. So the
 * pooled modes keep one stream fewer than connections x streams in flight (when there are two
 * connections or more), and each new stream goes to a free slot drawn at random over all sessions;
 * every stream carries its dispatch order, as HTTP/1.1 requests do, for keepalive-pinning's
 * round-robin check.
 */
import { performance } from 'node:perf_hooks';
import type { EngineResult, TrafficPlan } from './engine.js';
import { H2Connection, type H2Exchange, type H2Request } from './h2-session.js';
import { endpointPicker } from './source-choice.js';

export interface H2EngineOptions extends TrafficPlan {
  request: H2Request;
  /** Concurrent streams per connection (`--streams`, default 1). */
  streams: number;
  // intervalMs: paced as a rate of concurrency / interval (one request per interval per connection).
  onExchange: (ex: H2Exchange, conn: H2Connection, startedAt: number, order: number) => void;
}

export interface H2EngineResult extends EngineResult {
  /** GOAWAY frames received (one per session at most). */
  goaways: number;
  /** Streams refused by the server (REFUSED_STREAM or past a GOAWAY) and sent again on another session. */
  retried: number;
  /** Sessions that failed before the server's SETTINGS with an HTTP/2 protocol error (the server may not speak HTTP/2). */
  protocolFailures: number;
  /** https: sessions whose ALPN did not agree on h2, and what it agreed on instead. */
  alpnMismatch?: { count: number; agreed: string | false };
}

/** A refused stream is sent again at most this many times (each on a session opened after the refusal). */
const MAX_RETRIES = 3;

interface Pending {
  order: number;
  tries: number;
}

export function runH2Engine(o: H2EngineOptions): Promise<H2EngineResult> {
  return new Promise((resolve) => {
    const start = performance.now();
    const deadline = o.durationMs !== undefined ? start + o.durationMs : Infinity;
    const c = o.concurrency;
    const s = Math.max(1, o.streams);
    const short = o.mode === 'short';
    const maxInFlight = short || c === 1 ? c * s : c * s - 1;
    let connId = o.firstConnId;
    let opened = 0;
    let goaways = 0;
    let retried = 0;
    let protocolFailures = 0;
    let alpn: { count: number; agreed: string | false } | undefined;
    const live = new Set<H2Connection>();
    /** Pooled modes: the c sessions (null until opened, or after the server ended one). */
    const slots: (H2Connection | null)[] = short ? [] : new Array<H2Connection | null>(c).fill(null);
    const retryQueue: Pending[] = [];
    let dispatched = 0;
    let inFlight = 0;
    let finished = false;
    let aborted = false;
    let inFlightAborted = 0;
    let pumpTimer: NodeJS.Timeout | undefined;
    const budget = o.requests ?? Infinity;
    const gap = o.rate ? 1000 / o.rate : o.intervalMs !== undefined ? o.intervalMs / c : 0;

    const events = {
      onUnusable: (conn: H2Connection): void => {
        if (conn.goaway) goaways++;
        if (conn.failedBeforeSettings) protocolFailures++;
        if (conn.alpnMismatch !== undefined) alpn = { count: (alpn?.count ?? 0) + 1, agreed: conn.alpnMismatch };
        const i = slots.indexOf(conn);
        if (i >= 0) slots[i] = null; // a new session takes its place at the next stream
      },
      onGone: (conn: H2Connection): void => {
        live.delete(conn);
      },
    };
    // With --source, sources come from a shuffled deck (src/probe/source-choice.ts): never in step with a balancer's own sequence.
    const nextEndpoint = endpointPicker(o);
    const newConn = (): H2Connection => {
      const endpoint = nextEndpoint();
      opened++;
      const conn = new H2Connection(connId++, endpoint, events);
      live.add(conn);
      return conn;
    };

    const tickMs = Math.min(250, Math.max(10, Math.floor(o.endpoint.timeoutMs / 20)));
    const ticker = setInterval(() => {
      const now = performance.now();
      for (const conn of live) conn.expired(now);
    }, tickMs);

    const retire = (conn: H2Connection): boolean => {
      if (o.mode !== 'rotate') return false;
      if (o.maxConnRequests !== undefined && conn.requests >= o.maxConnRequests) return true;
      if (o.maxConnAgeMs !== undefined && conn.requests > 0 && performance.now() - conn.openedAt >= o.maxConnAgeMs) return true;
      return false;
    };

    /** A free stream slot: an unopened session first, else one drawn at random, weighted by free streams. */
    const pick = (): H2Connection | null => {
      if (short) return newConn();
      let free = 0;
      for (let i = 0; i < c; i++) {
        const conn = slots[i];
        if (conn === null) {
          return (slots[i] = newConn());
        }
        if (conn.usable && retire(conn)) {
          conn.retire();
          return (slots[i] = newConn());
        }
        if (conn.usable) free += s - conn.inFlight;
      }
      if (free <= 0) return null;
      let r = Math.floor(Math.random() * free);
      for (let i = 0; i < c; i++) {
        const conn = slots[i]!;
        if (!conn.usable) continue;
        const f = s - conn.inFlight;
        if (f <= 0) continue;
        if (r < f) return conn;
        r -= f;
      }
      return null;
    };

    const finish = (): void => {
      if (finished) return;
      finished = true;
      const endedAt = performance.now();
      clearInterval(ticker);
      if (pumpTimer) clearTimeout(pumpTimer);
      if (hardStop) clearTimeout(hardStop);
      o.signal?.removeEventListener('abort', onAbort);
      inFlightAborted = inFlight;
      for (const conn of live) conn.destroy();
      live.clear();
      resolve({ connections: opened, nextConnId: connId, startedAt: start, endedAt, aborted, inFlightAborted, goaways, retried, protocolFailures, ...(alpn ? { alpnMismatch: alpn } : {}) });
    };

    const send = (p: Pending): boolean => {
      const conn = pick();
      if (!conn) return false;
      inFlight++;
      const sentAt = performance.now();
      conn.send(o.request, o.endpoint.timeoutMs, (ex) => {
        inFlight--;
        if (finished) return;
        if (short) conn.retire();
        if (ex.refused && p.tries < MAX_RETRIES && performance.now() < deadline) {
          // Never processed by the server: send it again on another session (not a failure of the backend).
          retried++;
          retryQueue.push({ order: p.order, tries: p.tries + 1 });
        } else o.onExchange(ex, conn, sentAt, p.order);
        pump();
      });
      return true;
    };

    const pump = (): void => {
      if (finished) return;
      const now = performance.now();
      while (inFlight < maxInFlight && now < deadline) {
        const retry = retryQueue.shift();
        if (retry) {
          if (!send(retry)) {
            retryQueue.unshift(retry);
            break;
          }
          continue;
        }
        if (dispatched >= budget) break;
        if (gap) {
          const due = start + dispatched * gap;
          if (due >= deadline) break;
          if (due - performance.now() > 1) {
            if (!pumpTimer)
              pumpTimer = setTimeout(() => {
                pumpTimer = undefined;
                pump();
              }, due - performance.now());
            break;
          }
        }
        if (!send({ order: dispatched, tries: 0 })) break;
        dispatched++;
      }
      const more = retryQueue.length > 0 || (dispatched < budget && now < deadline);
      if (inFlight === 0 && !more) finish();
      else if (inFlight === 0 && !pumpTimer && retryQueue.length === 0 && dispatched < budget && !gap) {
        // Nothing in flight and nothing could be sent (no usable session): try again shortly.
        pumpTimer = setTimeout(() => {
          pumpTimer = undefined;
          pump();
        }, 5);
      }
    };

    const onAbort = (): void => {
      if (aborted) return;
      aborted = true;
      finish();
    };
    let hardStop: NodeJS.Timeout | undefined;
    if (o.signal?.aborted) {
      aborted = true;
      queueMicrotask(finish);
      return;
    }
    o.signal?.addEventListener('abort', onAbort);
    if (Number.isFinite(deadline)) hardStop = setTimeout(finish, Math.max(0, deadline - performance.now()));
    pump();
  });
}
