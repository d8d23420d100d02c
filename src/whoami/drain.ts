/**
 * Drain and close. Drain (SIGTERM/SIGINT): /health answers 503 (gRPC health NOT_SERVING), every
 * HTTP/1.1 answer carries `Connection: close` and every HTTP/2 session gets GOAWAY at once; after
 * the drain delay the listeners close and in-flight requests finish (bounded by the ?wait= cap).
 * Close: immediate, every connection destroyed.
 */
import type http from 'node:http';
import type net from 'node:net';
import type { OpenConnections } from './connections.js';
import { WAIT_CAP_MS } from './controls.js';
import { goaway } from './h2.js';

export type ServerState = 'serving' | 'draining' | 'closed';

/** The parts of the whoami server draining and closing touch. */
export interface Drainable {
  state: ServerState;
  readonly servers: net.Server[];
  /** The node:http server HTTP/1.x connections are handed to (close() also closes its idle connections). */
  readonly http1: http.Server;
  readonly open: OpenConnections;
  /** Pending `?wait=` requests: their timers are cleared on close. */
  readonly waits: Set<{ timer: NodeJS.Timeout | null }>;
  readonly settings: { drainDelayMs: number };
  whenAllClosed(): Promise<void>;
}

export class Drain {
  private drainPromise: Promise<void> | null = null;
  private drainTimer: NodeJS.Timeout | null = null;
  private finishDrain: (() => void) | null = null;

  constructor(private readonly w: Drainable) {}

  drain(): Promise<void> {
    const w = this.w;
    if (this.drainPromise) return this.drainPromise;
    if (w.state === 'closed') return Promise.resolve();
    w.state = 'draining';
    // HTTP/2 has no per-answer Connection: close: GOAWAY names the last stream taken, streams in
    // flight finish, and the client opens its next streams on a new connection (elsewhere).
    for (const c of w.open.list()) {
      if (c.session) {
        c.closedBy ??= 'drain';
        goaway(c);
      }
    }
    // Every connection stays open for the drain delay: the next request on each is answered with
    // `Connection: close`, then the connection closes. Closing an idle keep-alive connection now
    // would race the request its client may already have sent (in the receive buffer, or on the
    // wire): a reset for a client that did nothing wrong. Listeners stay open too, so a balancer
    // that has not yet seen /health turn 503 still gets answers.
    this.drainPromise = new Promise<void>((resolve) => {
      this.finishDrain = resolve;
      this.drainTimer = setTimeout(() => {
        this.drainTimer = null;
        for (const c of w.open.list()) c.closedBy ??= 'drain';
        // Stop listening; node's server.close() also closes the connections its parser holds no
        // request on (closeIdleConnections), and leaves the others to finish.
        for (const srv of w.servers) srv.close();
        w.http1.close();
        // In-flight requests finish (each answers Connection: close); bounded by the wait cap.
        const cap = setTimeout(() => {
          for (const c of w.open.list()) c.socket.destroy();
        }, WAIT_CAP_MS + 5000);
        cap.unref();
        void w.whenAllClosed().then(() => {
          clearTimeout(cap);
          if (w.state === 'draining') w.state = 'closed';
          resolve();
        });
      }, w.settings.drainDelayMs);
    });
    return this.drainPromise;
  }

  async close(): Promise<void> {
    const w = this.w;
    w.state = 'closed';
    if (this.drainTimer) clearTimeout(this.drainTimer);
    this.drainTimer = null;
    for (const x of w.waits) if (x.timer) clearTimeout(x.timer);
    w.waits.clear();
    for (const srv of w.servers) srv.close();
    w.http1.close();
    for (const c of w.open.list()) {
      c.closedBy ??= 'shutdown';
      c.socket.destroy();
    }
    await w.whenAllClosed();
    this.finishDrain?.();
  }
}
