/**
 * The HTTP/2 side of whoami: one node:http2 server (listening on nothing: connections are handed
 * to it after the preface sniff or the ALPN result) whose streams go through the same routes and
 * identity as HTTP/1.1 (requests.ts, core stream API), and the per-session keep-alive policy:
 *
 *   --idle-timeout        a session with no frames for that long is closed (GOAWAY, then close)
 *   --max-conn-age        GOAWAY once the connection is that old (gRPC's MAX_CONNECTION_AGE); streams
 *                         in flight finish, and after --max-conn-age-grace the session is destroyed
 *   --max-streams-per-conn GOAWAY after the n-th stream (default: --max-requests-per-conn)
 *   drain                 GOAWAY on every session at once (streams in flight finish)
 *
 * GOAWAY is node's graceful Http2Session.close(): it names the last stream the server accepted,
 * so a client knows exactly which of its streams to retry elsewhere. A malformed client is the
 * session's problem only: node:http2 (nghttp2) answers it with GOAWAY/RST_STREAM and the session
 * is torn down; nothing propagates to the process.
 */
import http2, { type Http2Server, type IncomingHttpHeaders, type ServerHttp2Session, type ServerHttp2Stream } from 'node:http2';
import { performance } from 'node:perf_hooks';
import { CONN, type ConnSocket, type ConnState } from './connections.js';

/** The parts of the whoami server the HTTP/2 side needs. */
export interface H2Host {
  readonly settings: { idleTimeoutMs: number; maxConnAgeMs: number | null; maxConnAgeGraceMs: number };
  state: 'serving' | 'draining' | 'closed';
  readonly onH2Stream: (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, flags: number) => void;
}

/**
 * An HTTP/2 request as the routes see it: the few fields they read (node's compat API made a
 * request and a response object, with their streams, per stream; measured at about a third more
 * server CPU per request under h2load). The response is the stream itself.
 */
export interface H2Req {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  httpVersion: '2.0';
  stream: ServerHttp2Stream;
  /** The HEADERS frame did not end the stream: a request body follows. */
  body: boolean;
}

/** A session carries its connection's state (one property read per stream). */
export type H2Session = ServerHttp2Session & { [CONN]?: ConnState };

/** Limits that keep one hostile client from holding much memory; the protocol defaults otherwise. */
const SESSION_OPTIONS: http2.ServerOptions = {
  // Stream concurrency a client may use on one connection (RFC 9113 recommends at least 100).
  settings: { maxConcurrentStreams: 256, maxHeaderListSize: 64 * 1024 },
  maxHeaderListPairs: 256,
  // Floods of invalid frames or of streams we refuse end the session (nghttp2's defaults are 1000/100).
  maxSessionInvalidFrames: 1000,
  maxSessionRejectedStreams: 100,
  // Outstanding unacknowledged PINGs a client may make us queue.
  maxOutstandingPings: 10,
  // Per-session memory cap (MB) for nghttp2's buffers: above it new streams are refused.
  maxSessionMemory: 32,
};

export function createH2(host: H2Host): Http2Server {
  const server = http2.createServer(SESSION_OPTIONS);
  server.on('stream', host.onH2Stream);
  server.on('session', (session: H2Session) => startSession(host, session));
  // Errors of one session or stream (a client breaking the protocol, a reset in the middle of a
  // write) concern that session only; node reports them here and tears the session down.
  server.on('sessionError', (_err: Error, session?: H2Session) => {
    const c = session?.[CONN];
    if (c) c.closedBy ??= 'client-protocol-error';
  });
  server.on('streamError', () => {});
  return server;
}

function startSession(host: H2Host, session: H2Session): void {
  // session.socket is a proxy for the connection's socket: reads go to the real one.
  const c = (session.socket as unknown as ConnSocket)[CONN];
  if (!c) return;
  session[CONN] = c;
  c.session = session;
  session.on('error', () => {
    c.closedBy ??= 'client-protocol-error';
  });
  session.on('goaway', () => {
    c.closedBy ??= 'client';
  });
  const idle = host.settings.idleTimeoutMs;
  if (idle > 0) {
    session.setTimeout(idle, () => {
      c.closedBy ??= 'server-idle';
      goaway(c);
    });
  }
  const age = host.settings.maxConnAgeMs;
  if (age !== null && age > 0) {
    const left = Math.max(0, age - (performance.now() - c.openedAt));
    const t = setTimeout(ageReached, left, host, c);
    t.unref();
    session.once('close', () => clearTimeout(t));
  }
  // A session opened while draining is not refused: its first answer is followed by GOAWAY (as an
  // HTTP/1.1 answer carries Connection: close), so a balancer that has not yet seen /health turn
  // 503 still gets answers.
}

function ageReached(host: H2Host, c: ConnState): void {
  c.closedBy ??= 'server-max-age';
  goaway(c);
  const s = c.session;
  if (!s || s.destroyed) return;
  const grace = setTimeout(() => {
    if (!s.destroyed) s.destroy();
  }, host.settings.maxConnAgeGraceMs);
  grace.unref();
  s.once('close', () => clearTimeout(grace));
}

const GOING_AWAY = Symbol('lbdiag.goingAway');
/** The longest the shutdown notice waits for the PING acknowledgement before the final GOAWAY. */
const NOTICE_MAX_MS = 1000;
const MAX_STREAM_ID = 2 ** 31 - 1;

/**
 * Graceful GOAWAY, in two steps as RFC 9113 §6.8 advises (and gRPC and Go servers do): first a
 * GOAWAY naming stream 2^31-1 (no new streams, please; none refused yet) and a PING; once the PING
 * is acknowledged every stream the client opened before it read the notice has arrived, and node's
 * Http2Session.close() sends the final GOAWAY naming the last stream taken. Those finish, then the
 * session closes. With one GOAWAY straight away, streams already on the wire are refused: haproxy
 * `proto h2` in front answered 41 of 2000 h2load requests with an error under --max-conn-age 1s.
 * Idempotent.
 */
export function goaway(c: ConnState): void {
  const s = c.session as (H2Session & { [GOING_AWAY]?: boolean }) | null;
  if (!s || s.closed || s.destroyed || s[GOING_AWAY]) return;
  s[GOING_AWAY] = true;
  let done = false;
  const final = (): void => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    if (!s.closed && !s.destroyed) s.close();
  };
  const timer = setTimeout(final, NOTICE_MAX_MS);
  timer.unref();
  try {
    s.goaway(http2.constants.NGHTTP2_NO_ERROR, MAX_STREAM_ID);
    if (!s.ping(final)) final();
  } catch {
    final();
  }
}
