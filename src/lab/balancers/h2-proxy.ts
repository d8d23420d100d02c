/**
 * The builtin layer-7 HTTP/2 balancer: a node:http2 server taking h2c by prior knowledge (what gRPC
 * clients speak in clear text) that forwards EACH STREAM, round robin, over one h2c session per
 * backend, as Envoy, haproxy `mode http` with `proto h2` servers and nginx `grpc_pass` do. One client
 * connection carrying many streams therefore reaches every backend (per-stream balancing), which is
 * the fix for HTTP/2 and gRPC pinning behind a layer-4 balancer.
 *
 * gRPC works through it: request and response bodies are piped, response trailers (grpc-status,
 * grpc-message) are passed through, a trailers-only response stays trailers-only, and a backend that
 * cannot be reached gives gRPC clients grpc-status 14 UNAVAILABLE (other clients a 502); a stream
 * the backend refused unprocessed (REFUSED_STREAM, or sent just after its GOAWAY) is sent again once
 * on a new session (RFC 9113 8.7: safe, the backend did nothing with it). Headers
 * follow RFC 9113 8.2.2: the connection-specific fields (Connection and the fields it names,
 * Proxy-Connection, Keep-Alive, Transfer-Encoding, Upgrade) are never forwarded, and TE only as
 * "trailers". A backend's GOAWAY retires its session for new streams (the streams in flight finish)
 * and the next stream opens a new one.
 */
import http2 from 'node:http2';
import type net from 'node:net';
import type { Balancer, BalancerOptions, BackendTarget } from './types.js';
import { formatEndpoint } from './types.js';
import { RoundRobin, builtinHandle, listenOn } from './builtin.js';
import { GRPC_CONTENT_TYPE, GRPC_STATUS } from '../../wire/grpc-constants.js';

export interface H2ProxyOptions extends BalancerOptions {
  /** Idle timeout of client sessions (default 60 s, longer than any lab probe interval). */
  clientIdleTimeoutMs?: number;
  /** Per-stream timeout towards the backend (default 30 s), then 504 / DEADLINE_EXCEEDED-like UNAVAILABLE. */
  backendTimeoutMs?: number;
  /** The Via pseudonym (default "lbdiag"). */
  via?: string;
}

export interface H2ProxyStats {
  /** Client HTTP/2 connections accepted so far. */
  sessions: number;
  /** Streams (requests, gRPC calls) forwarded so far. */
  streams: number;
  /** Streams sent to each backend name. */
  perBackend: Record<string, number>;
  /** h2c sessions opened towards the backends (one per backend unless one went away). */
  backendSessions: number;
  /** GOAWAY frames received from backends. */
  backendGoaways: number;
  /** Streams answered by the proxy itself (502/504, or grpc-status 14). */
  proxyErrors: number;
  /** Streams a backend refused unprocessed (REFUSED_STREAM, past its GOAWAY) and sent again on a new session. */
  retried: number;
}

export interface H2Proxy extends Balancer {
  kind: 'builtin-h2';
  layer: 7;
  stats(): H2ProxyStats;
}

/** RFC 9113 8.2.2: connection-specific fields an HTTP/2 intermediary must not forward. */
const CONNECTION_SPECIFIC = new Set(['connection', 'proxy-connection', 'keep-alive', 'transfer-encoding', 'upgrade']);
const NO_ERROR = http2.constants.NGHTTP2_NO_ERROR;
const CANCEL = http2.constants.NGHTTP2_CANCEL;
const REFUSED_STREAM = http2.constants.NGHTTP2_REFUSED_STREAM;
/** Request bodies up to this size are kept for a retry of a refused stream (gRPC unary calls are far smaller). */
const RETRY_BODY_MAX = 64 * 1024;

/**
 * The fields to forward: pseudo-headers kept (`:status` only on responses), connection-specific
 * fields and those named by Connection dropped, TE kept only when it says "trailers", and
 * `drop` (lower case) removed so the caller can set them itself.
 */
export function forwardableHeaders(h: http2.IncomingHttpHeaders, drop: ReadonlySet<string> = new Set()): http2.OutgoingHttpHeaders {
  const named = new Set<string>();
  const conn = h.connection;
  for (const t of (Array.isArray(conn) ? conn.join(',') : (conn ?? '')).split(',')) if (t.trim()) named.add(t.trim().toLowerCase());
  const out: http2.OutgoingHttpHeaders = {};
  for (const key of Object.keys(h)) {
    const k = key.toLowerCase();
    if (CONNECTION_SPECIFIC.has(k) || named.has(k) || drop.has(k)) continue;
    const v = h[key];
    if (v === undefined) continue;
    if (k === 'te') {
      const trailers = (Array.isArray(v) ? v.join(',') : String(v)).split(',').some((t) => t.trim().toLowerCase() === 'trailers');
      if (trailers) out.te = 'trailers';
      continue;
    }
    out[k] = v;
  }
  return out;
}

function isGrpc(h: http2.IncomingHttpHeaders): boolean {
  const ct = h['content-type'];
  return typeof ct === 'string' && ct.toLowerCase().startsWith(GRPC_CONTENT_TYPE);
}

function clientIp(socket: net.Socket | undefined): string {
  const a = socket?.remoteAddress ?? '';
  return a.startsWith('::ffff:') ? a.slice(7) : a;
}

/** One h2c session per backend, replaced when it closes or the backend sends GOAWAY. */
class BackendSessions {
  private readonly live = new Map<string, http2.ClientHttp2Session>();
  private readonly all = new Set<http2.ClientHttp2Session>();

  constructor(private readonly stats: H2ProxyStats) {}

  get(b: Required<BackendTarget>): http2.ClientHttp2Session {
    const key = formatEndpoint(b);
    const s = this.live.get(key);
    if (s && !s.closed && !s.destroyed) return s;
    const host = b.host.includes(':') ? `[${b.host}]` : b.host;
    const session = http2.connect(`http://${host}:${b.port}`);
    this.stats.backendSessions++;
    this.live.set(key, session);
    this.all.add(session);
    const retire = (): void => {
      if (this.live.get(key) === session) this.live.delete(key);
    };
    session.on('error', retire);
    session.on('goaway', () => {
      this.stats.backendGoaways++;
      retire();
      // Streams in flight finish; close once they have (close() waits for them).
      if (!session.closed && !session.destroyed) session.close();
    });
    session.on('close', () => {
      retire();
      this.all.delete(session);
    });
    return session;
  }

  destroyAll(): void {
    for (const s of this.all) s.destroy();
    this.all.clear();
    this.live.clear();
  }
}

export async function startH2Proxy(opts: H2ProxyOptions): Promise<H2Proxy> {
  const roundRobin = new RoundRobin(opts.backends);
  const via = opts.via ?? 'lbdiag';
  const backendTimeoutMs = opts.backendTimeoutMs ?? 30_000;
  const stats: H2ProxyStats = { sessions: 0, streams: 0, perBackend: {}, backendSessions: 0, backendGoaways: 0, proxyErrors: 0, retried: 0 };
  const pool = new BackendSessions(stats);
  const clients = new Set<http2.ServerHttp2Session>();

  const server = http2.createServer({ maxSessionInvalidFrames: 100 });
  // A client session idle this long gets GOAWAY (streams in flight, if any, finish).
  server.setTimeout(opts.clientIdleTimeoutMs ?? 60_000);
  server.on('timeout', (session: http2.ServerHttp2Session) => {
    if (!session.closed && !session.destroyed) session.close();
  });
  server.on('session', (session) => {
    stats.sessions++;
    clients.add(session);
    session.on('error', () => {});
    session.on('close', () => clients.delete(session));
  });
  server.on('sessionError', () => {});

  server.on('stream', (stream, headers) => {
    stats.streams++;
    stream.on('error', () => {});
    const grpc = isGrpc(headers);
    let failed = false;
    const fail = (status: number, why: string): void => {
      if (failed) return;
      failed = true;
      stats.proxyErrors++;
      if (stream.destroyed || stream.closed) return;
      if (stream.headersSent) {
        stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
        return;
      }
      if (grpc) {
        // Trailers-only, as Envoy answers a call it cannot route: UNAVAILABLE lets clients retry.
        stream.respond({ ':status': 200, 'content-type': GRPC_CONTENT_TYPE, 'grpc-status': String(GRPC_STATUS.UNAVAILABLE), 'grpc-message': encodeURIComponent(why), via: `2 ${via}` }, { endStream: true });
      } else {
        const body = `${status} ${why}\n`;
        stream.respond({ ':status': status, 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body), via: `2 ${via}` });
        stream.end(body);
      }
    };

    const backend = roundRobin.pick(stats.perBackend);
    if (!backend) {
      stream.resume();
      fail(503, 'no backend');
      return;
    }
    const out = forwardableHeaders(headers, new Set(['x-forwarded-for', 'x-forwarded-proto', 'via']));
    const priorXff = headers['x-forwarded-for'];
    const ip = clientIp(stream.session?.socket);
    out['x-forwarded-for'] = priorXff ? `${Array.isArray(priorXff) ? priorXff.join(', ') : priorXff}, ${ip}` : ip;
    out['x-forwarded-proto'] = 'http';
    out.via = headers.via ? `${headers.via}, 2 ${via}` : `2 ${via}`;

    // The request body is kept (up to RETRY_BODY_MAX) while it is forwarded, so a stream the backend
    // refused without processing it (REFUSED_STREAM, or opened past its GOAWAY: RFC 9113 8.7) can be
    // sent again, once, on a new session to the same backend, as Envoy does.
    const body: Buffer[] = [];
    let bodyBytes = 0;
    let bodyKept = true;
    let clientEnded = stream.endAfterHeaders;
    let requestTrailers: http2.OutgoingHttpHeaders = {};
    let responseTrailers: http2.OutgoingHttpHeaders = {};
    let upstream: http2.ClientHttp2Stream | undefined;
    let responded = false;

    const send = (attempt: number): void => {
      let up: http2.ClientHttp2Stream;
      try {
        up = pool.get(backend).request(out, { endStream: clientEnded && bodyBytes === 0, waitForTrailers: !(clientEnded && bodyBytes === 0) });
      } catch (e) {
        fail(502, `backend ${backend.name} (${formatEndpoint(backend)}): ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
        return;
      }
      upstream = up;
      up.on('wantTrailers', () => {
        try {
          up.sendTrailers(requestTrailers);
        } catch {
          up.close(CANCEL);
        }
      });
      up.setTimeout(backendTimeoutMs, () => {
        up.close(CANCEL);
        fail(504, `backend ${backend.name} (${formatEndpoint(backend)}) timed out`);
      });
      up.on('response', (rh) => {
        up.setTimeout(0);
        responded = true;
        if (failed || stream.destroyed || stream.closed) {
          up.close(CANCEL);
          return;
        }
        const resHeaders = forwardableHeaders(rh, new Set(['via']));
        resHeaders.via = rh.via ? `${rh.via}, 2 ${via}` : `2 ${via}`;
        try {
          if (up.endAfterHeaders) {
            // A trailers-only answer (gRPC errors, health checks that fail): one HEADERS frame with END_STREAM.
            stream.respond(resHeaders, { endStream: true });
            return;
          }
          stream.respond(resHeaders, { waitForTrailers: true });
        } catch (e) {
          // A header node will not send on (the backend's answer is not valid HTTP/2 for the client).
          up.close(CANCEL);
          fail(502, `backend ${backend.name} (${formatEndpoint(backend)}) answer not forwardable: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
          return;
        }
        stream.on('wantTrailers', () => {
          try {
            stream.sendTrailers(responseTrailers);
          } catch {
            stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
          }
        });
        up.pipe(stream);
      });
      up.on('trailers', (t: http2.IncomingHttpHeaders) => (responseTrailers = forwardableHeaders(t)));
      let retried = false;
      const refused = (e?: NodeJS.ErrnoException): boolean =>
        up.rstCode === REFUSED_STREAM || e?.code === 'ERR_HTTP2_GOAWAY_SESSION' || e?.code === 'ERR_HTTP2_INVALID_SESSION';
      const retry = (e?: NodeJS.ErrnoException): boolean => {
        if (retried || attempt > 0 || responded || failed || !bodyKept || stream.destroyed || stream.closed || !refused(e)) return false;
        retried = true;
        stats.retried++;
        send(attempt + 1);
        return true;
      };
      up.on('error', (e: NodeJS.ErrnoException & { cause?: NodeJS.ErrnoException }) => {
        if (upstream !== up || retry(e)) return; // superseded by a retry, or retried now
        // A stream cancelled because its session failed (connect refused, ...) names the cause.
        fail(502, `backend ${backend.name} (${formatEndpoint(backend)}): ${e.cause?.code ?? e.code ?? e.message}`);
      });
      up.on('close', () => {
        const code = up.rstCode ?? NO_ERROR;
        if (failed || code === NO_ERROR || stream.destroyed || stream.closed || upstream !== up) return;
        if (retry()) return;
        // Reset by the backend (or its session died): a 502 before the answer began, else reset the client's stream too.
        if (!stream.headersSent) fail(502, `backend ${backend.name} reset the stream (code ${code})`);
        else stream.close(code);
      });
      // What the client already sent (a retry), then what comes.
      for (const c of body) up.write(c);
      if (clientEnded && bodyBytes > 0) up.end();
    };

    stream.on('trailers', (t: http2.IncomingHttpHeaders) => (requestTrailers = forwardableHeaders(t)));
    stream.on('data', (c: Buffer) => {
      if (bodyKept) {
        bodyBytes += c.length;
        if (bodyBytes <= RETRY_BODY_MAX) body.push(c);
        else {
          bodyKept = false;
          body.length = 0;
        }
      }
      const up = upstream;
      if (up && !up.destroyed && !up.write(c)) {
        stream.pause();
        up.once('drain', () => stream.resume());
      }
    });
    stream.on('end', () => {
      clientEnded = true;
      if (upstream && !upstream.destroyed && !upstream.writableEnded) upstream.end();
    });
    // The client gave up (RST_STREAM, connection gone): cancel the backend's stream.
    stream.on('close', () => {
      if (upstream && !upstream.closed && !upstream.destroyed) upstream.close(CANCEL);
    });
    send(0);
  });

  const address = await listenOn(server, opts.listen);
  return builtinHandle({
    kind: 'builtin-h2',
    layer: 7,
    address,
    server,
    roundRobin,
    stats,
    dropConnections: () => {
      for (const s of clients) s.destroy();
      clients.clear();
      pool.destroyAll();
    },
  });
}
