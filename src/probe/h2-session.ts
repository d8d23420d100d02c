/**
 * One HTTP/2 connection of the probe (node:http2 client session) carrying up to `--streams`
 * concurrent streams. Each stream ends in one Exchange, timed like an HTTP/1.1 request on a
 * connection: `seq` is the stream's place on the connection (1-based, in the order streams were
 * opened, which is the order the server counts them: lbdiag whoami's `x-lbdiag-conn: id;seq=n`),
 * `reused` says the connection was already up when the stream was sent, `connectMs` is on the
 * first stream. No per-stream timers: the engine sweeps deadlines on one tick (`expired`).
 */
import http2 from 'node:http2';
import net from 'node:net';
import tls from 'node:tls';
import { performance } from 'node:perf_hooks';
import { errorKind } from '../core/errors.js';
import type { Endpoint, Exchange } from './connection.js';
import type { HttpResponse } from './http-response.js';
import { connectTls, TlsConnectError, type TlsHandshake } from './tls-connect.js';
import type { TlsInfo } from './tls-info.js';

const { NGHTTP2_REFUSED_STREAM, NGHTTP2_CANCEL } = http2.constants;

/** The request every stream of a mode sends (built once). */
export interface H2Request {
  headers: http2.OutgoingHttpHeaders;
  body?: Buffer;
  /** Bytes of the response body kept (identity comes from small bodies). */
  bodyCap: number;
  /** gRPC: read grpc-status from trailers (or a trailers-only response) and decode the reply. */
  finish?: (res: HttpResponse, trailers: Record<string, string>) => { error?: string };
}

export interface H2Exchange extends Exchange {
  /** The stream's HTTP/2 id. */
  stream?: number;
  /** The server refused the stream (REFUSED_STREAM, or above a GOAWAY's last-stream-id): it was never processed, so it can be sent again. */
  refused?: boolean;
}

export type H2Done = (ex: H2Exchange) => void;

/**
 * The transport under the session: TCP for h2c (prior knowledge), TLS with ALPN h2 for https.
 * The one place the HTTP/2 engine touches TLS (kept apart so TLS options route through one module).
 */
export function h2Transport(ep: Endpoint, onHandshake?: (h: TlsHandshake) => void): { socket: net.Socket; tls: boolean } {
  if (ep.tls) {
    // SNI, --cacert, verification (a failing certificate destroys the socket with code tls-*) and
    // the TCP/TLS handshake times: src/probe/tls-connect.ts, shared with the HTTP/1.1 path. Both
    // protocols offered, as h2load does: a server without h2 then picks http/1.1 (reported as
    // alpn-no-h2 with what it chose) instead of failing the handshake with a no_application_protocol alert.
    const socket = connectTls(ep.tls, { address: ep.address, port: ep.port, localAddress: ep.localAddress, alpn: ['h2', 'http/1.1'], onHandshake });
    return { socket, tls: true };
  }
  return { socket: net.connect({ host: ep.address, port: ep.port, localAddress: ep.localAddress }), tls: false };
}

interface StreamState {
  done: H2Done;
  seq: number;
  t0: number;
  deadlineAt: number;
  reused: boolean;
  idleMs?: number;
  tFirst: number;
  res: HttpResponse | null;
  chunks: Buffer[];
  kept: number;
  trailers: Record<string, string>;
  stream: http2.ClientHttp2Stream | null;
  finished: boolean;
}

export interface H2ConnEvents {
  /** The server sent GOAWAY, or the session closed or failed: open no more streams on it. */
  onUnusable(conn: H2Connection): void;
  /** Every stream ended and the session is gone. */
  onGone(conn: H2Connection): void;
}

export class H2Connection {
  localPort = 0;
  /** Streams opened on it (the next stream's seq is this + 1). */
  requests = 0;
  inFlight = 0;
  usable = true;
  openedAt = performance.now();
  /** The server's GOAWAY (last-stream-id, error code), once it came. */
  goaway: { lastStreamId: number; code: number } | null = null;
  /** Session failed before the server's SETTINGS: with `h2-protocol-error`, the server may not speak HTTP/2. */
  failedBeforeSettings = false;
  /** https: ALPN did not agree on h2 (what it agreed on, or false for none). */
  alpnMismatch: string | false | undefined;
  private readonly session: http2.ClientHttp2Session;
  private readonly socket: net.Socket;
  private connected = false;
  /** TLS: TCP is up (the handshake may still be under way). */
  private tcpConnected = false;
  private connectMs: number | undefined;
  /** TLS: the handshake's time and what it showed (the first stream's record carries them). */
  private tlsMs: number | undefined;
  private tlsInfo: TlsInfo | undefined;
  private tlsError: string | undefined;
  private settings = false;
  private failure: string | null = null;
  private lastEnd = 0;
  private gone = false;
  private readonly streams = new Set<StreamState>();

  constructor(
    readonly id: number,
    readonly endpoint: Endpoint,
    private readonly events: H2ConnEvents,
  ) {
    const t = h2Transport(endpoint, (h) => {
      this.tlsMs = h.tlsMs;
      this.tlsInfo = h.info;
    });
    this.socket = t.socket;
    if (t.tls) this.socket.once('connect', () => (this.tcpConnected = true));
    const authority = `${t.tls ? 'https' : 'http'}://${endpoint.address.includes(':') ? `[${endpoint.address}]` : endpoint.address}:${endpoint.port}`;
    this.session = http2.connect(authority, { createConnection: () => this.socket, settings: { enablePush: false } });
    this.socket.once(t.tls ? 'secureConnect' : 'connect', () => {
      this.connected = true;
      this.connectMs = performance.now() - this.openedAt - (this.tlsMs ?? 0); // TLS: the TCP handshake only
      this.localPort = this.socket.localPort ?? 0;
      if (t.tls) {
        const alpn = (this.socket as tls.TLSSocket).alpnProtocol;
        if (alpn !== 'h2') {
          this.alpnMismatch = alpn ?? false;
          this.fail('alpn-no-h2');
        }
      }
    });
    this.session.on('remoteSettings', () => {
      this.settings = true;
    });
    this.session.on('goaway', (code: number, lastStreamId: number) => {
      if (this.goaway) return;
      this.goaway = { lastStreamId, code };
      this.markUnusable();
    });
    this.session.on('error', (e: Error) => {
      if (e instanceof TlsConnectError) {
        this.tlsError = e.message;
        this.tlsInfo = e.info;
      }
      let kind = errorKind(e);
      if ((e as NodeJS.ErrnoException).code === 'ERR_HTTP2_ERROR' || (e as NodeJS.ErrnoException).code === 'ERR_HTTP2_SESSION_ERROR') kind = 'h2-protocol-error';
      if (this.connected && !this.settings) this.failedBeforeSettings = true;
      if (!this.failure) this.failure = this.connected ? kind : kind === 'closed' ? 'reset' : kind;
    });
    this.session.on('close', () => {
      this.markUnusable();
      // Streams the session took with it (closed or failed without a close event of their own).
      for (const st of [...this.streams]) this.end(st, null, this.failure ?? (this.connected ? 'closed' : 'reset'), false);
      this.gone = true;
      this.events.onGone(this);
    });
    this.socket.on('error', (e: Error) => {
      if (e instanceof TlsConnectError) {
        this.tlsError = e.message;
        this.tlsInfo = e.info;
      }
      if ((e as NodeJS.ErrnoException).code === 'ERR_SSL_TLSV1_ALERT_NO_APPLICATION_PROTOCOL' || (e instanceof TlsConnectError && e.code === 'tls-alpn')) {
        this.alpnMismatch = false; // the server refused every protocol offered (no h2, no http/1.1)
        this.failure = 'alpn-no-h2';
      }
      if (!this.failure) this.failure = errorKind(e);
    });
  }

  /** A stream's deadline passed (send + timeout): fail it, and give up on the session if it never connected. */
  expired(now: number): void {
    for (const st of this.streams) {
      if (now < st.deadlineAt) continue;
      const kind = !this.connected ? 'timeout' : st.res ? 'body-timeout' : st.tFirst ? 'head-timeout' : 'timeout';
      this.end(st, null, kind, false);
      st.stream?.close(NGHTTP2_CANCEL);
      if (!this.connected) this.destroy();
    }
  }

  get isGone(): boolean {
    return this.gone;
  }

  /** Opens one stream; `done` is called exactly once (unless `destroy()` comes first). */
  send(req: H2Request, timeoutMs: number, done: H2Done): void {
    const t0 = performance.now();
    const st: StreamState = { done, seq: ++this.requests, t0, deadlineAt: t0 + timeoutMs, reused: this.connected, tFirst: 0, res: null, chunks: [], kept: 0, trailers: {}, stream: null, finished: false };
    if (this.connected) st.idleMs = this.inFlight === 0 ? t0 - this.lastEnd : 0;
    this.inFlight++;
    this.streams.add(st);
    let stream: http2.ClientHttp2Stream;
    try {
      stream = this.session.request(req.headers, { endStream: req.body === undefined });
    } catch (e) {
      // The session ended under us (GOAWAY or closed): never sent, so it can go on another connection.
      this.markUnusable();
      this.end(st, null, errorKind(e), true);
      return;
    }
    st.stream = stream;
    if (req.body !== undefined) stream.end(req.body);
    stream.on('response', (h) => {
      st.tFirst = performance.now();
      st.res = { status: Number(h[':status']), headers: flatHeaders(h), body: EMPTY, bodyBytes: 0, close: false };
    });
    stream.on('data', (d: Buffer) => {
      if (!st.tFirst) st.tFirst = performance.now();
      if (st.res) st.res.bodyBytes += d.length;
      if (st.kept < req.bodyCap) {
        st.chunks.push(d);
        st.kept += d.length;
      }
    });
    if (req.finish)
      stream.on('trailers', (h) => {
        st.trailers = flatHeaders(h);
      });
    stream.on('end', () => {
      if (!st.res) return;
      st.res.body = st.chunks.length === 0 ? EMPTY : st.chunks.length === 1 ? st.chunks[0] : Buffer.concat(st.chunks);
      st.chunks = [];
      const extra = req.finish ? req.finish(st.res, st.trailers) : {};
      this.end(st, st.res, extra.error, false, stream.id);
    });
    stream.on('error', () => undefined); // the close event below says how it ended
    stream.on('close', () => {
      if (st.finished) return;
      const code = stream.rstCode ?? 0;
      if (code === NGHTTP2_REFUSED_STREAM) return this.end(st, null, 'refused-stream', true, stream.id);
      if (this.goaway && (stream.id === undefined || stream.id > this.goaway.lastStreamId)) return this.end(st, null, 'refused-stream', true, stream.id);
      if (this.connected && !this.settings && code !== 0 && !this.failure) {
        // Failed before the server's SETTINGS (an HTTP/2 server sends them first): not an HTTP/2 answer.
        this.failedBeforeSettings = true;
        this.failure = 'h2-protocol-error';
      }
      const kind = this.failure ?? (code ? `stream-${(CODE_NAMES[code] ?? String(code)).toLowerCase().replace(/_/g, '-')}` : this.connected ? 'closed' : 'reset');
      this.end(st, st.res && code === 0 ? st.res : null, st.res && code === 0 ? 'closed' : kind, false, stream.id);
    });
  }

  private end(st: StreamState, res: HttpResponse | null, error: string | undefined, refused: boolean, streamId?: number): void {
    if (st.finished) return;
    st.finished = true;
    this.streams.delete(st);
    this.inFlight--;
    const now = performance.now();
    this.lastEnd = now;
    const ex: H2Exchange = { reused: st.reused, seq: st.seq, totalMs: now - st.t0 };
    if (res) ex.response = res;
    if (error !== undefined) {
      ex.error = error;
      ex.phase = this.connected ? 'response' : this.tcpConnected ? 'tls' : 'connect';
      if (this.tlsError !== undefined && !this.connected) ex.tlsError = this.tlsError;
    }
    if (refused) ex.refused = true;
    if (streamId !== undefined) ex.stream = streamId;
    if (st.seq === 1 && this.connectMs !== undefined) ex.connectMs = this.connectMs;
    if (st.seq === 1 && this.tlsMs !== undefined) ex.tlsMs = this.tlsMs;
    if (st.seq === 1 && this.tlsInfo) ex.tls = this.tlsInfo;
    if (st.idleMs !== undefined) ex.idleMs = st.idleMs;
    if (st.tFirst) ex.ttfbMs = st.tFirst - Math.max(st.t0, this.openedAt + (this.connectMs ?? 0) + (this.tlsMs ?? 0));
    st.done(ex);
  }

  private fail(kind: string): void {
    if (!this.failure) this.failure = kind;
    this.markUnusable();
    this.session.destroy();
  }

  private markUnusable(): void {
    if (!this.usable) return;
    this.usable = false;
    this.events.onUnusable(this);
  }

  /** No more streams: GOAWAY to the server once those in flight are done (rotate, short). */
  retire(): void {
    this.usable = false;
    if (!this.session.closed && !this.session.destroyed) this.session.close();
  }

  destroy(): void {
    this.usable = false;
    for (const st of this.streams) st.finished = true;
    this.streams.clear();
    this.inFlight = 0;
    this.session.destroy();
  }
}

const EMPTY = Buffer.alloc(0);

const CODE_NAMES: Record<number, string> = {
  1: 'PROTOCOL_ERROR',
  2: 'INTERNAL_ERROR',
  3: 'FLOW_CONTROL_ERROR',
  5: 'STREAM_CLOSED',
  6: 'FRAME_SIZE_ERROR',
  8: 'CANCEL',
  9: 'COMPRESSION_ERROR',
  11: 'ENHANCE_YOUR_CALM',
  13: 'HTTP_1_1_REQUIRED',
};

function flatHeaders(h: http2.IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k in h) {
    if (k.charCodeAt(0) === 58) continue; // pseudo-headers (:status)
    const v = h[k];
    if (v !== undefined) out[k] = Array.isArray(v) ? v.join(', ') : String(v);
  }
  return out;
}
