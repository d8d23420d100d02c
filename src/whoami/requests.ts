/**
 * The whoami server's hot path: accepting connections (their state lives on the socket, see
 * connections.ts), routing each request (/health, /metrics, the text or JSON answer, ?wait=,
 * ?size=, ?status=, ?close=) and sending the answer with the identity headers. One symbol lookup
 * for the connection state, constant headers from fields, no per-request closures, counters only.
 * Malformed input, listening, drain and the public API (server.ts) live beside it.
 *
 * One file (over 400 lines) on purpose: the hot path is one class whose fields hold the per-server
 * constants and counters every request reads (HTTP/1.1, HTTP/2 and gRPC answer through the same
 * fields); split by protocol, each half would reach into the other's private state.
 */
import type http from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { constants as http2constants, type Http2Server, type IncomingHttpHeaders as H2Headers, type ServerHttp2Stream } from 'node:http2';
import type { Duplex } from 'node:stream';
import type net from 'node:net';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { performance } from 'node:perf_hooks';
import { buildAnswer, JSON_TYPE, jsonBody, PROM, TEXT, textAnswer, textHead, type Identity, type ServerSettings } from './answers.js';
import { CONN, localOf, OpenConnections, plainAddress, type CloseReason, type ConnSocket, type ConnState } from './connections.js';
import { NO_CONTROLS, parseControls, type Controls } from './controls.js';
import { Drain, type ServerState } from './drain.js';
import { healthPostRefusal, readHealthBody } from './health.js';
import { interfaceAddresses, type Generation } from './identity.js';
import { createH2, goaway, type H2Req, type H2Session } from './h2.js';
import { isGrpc, answerGrpc } from './grpc.js';
import { createHttp1, listenAll, type Address } from './listen.js';
import { sniffProtocol, type Sniffed, type SniffTarget } from './sniff.js';
import type { TlsMaterial } from './tls.js';
import { RequestLog, type LogFormat } from './log.js';
import { answerMalformed } from './malformed.js';
import { Metrics, renderPrometheus } from './metrics.js';
import { LARGE_PADDING_BYTES, MAX_LARGE_RESPONSES, paddedJson, paddedLength, paddedText, streamPadded, type PaddedBody } from './padding.js';
import { BACKEND_HEADER, BACKEND_KEY, CONN_HEADER, CONN_KEY, formatConn, INSTANCE_HEADER, INSTANCE_KEY, PID_HEADER, PID_KEY, STARTED_HEADER, STARTED_KEY, type InterfaceAddress } from '../wire/identity-headers.js';

/** A request and what answers it: node:http's objects, or over HTTP/2 a small request record and the stream. */
export type AnyRequest = IncomingMessage | H2Req;
export type AnyResponse = ServerResponse | ServerHttp2Stream;

const STATUS_NO_BODY = (s: number): boolean => s === 204 || s === 304;
const RETRY_AFTER = ['Retry-After', '1'];
const noop = (): void => {};

interface PendingWait {
  timer: NodeJS.Timeout | null;
  req: AnyRequest;
  res: AnyResponse;
  c: ConnState;
  seq: number;
  path: string;
  controls: Controls;
  t0: number;
}

/** The raw-header fields the text answer and the format choice need, found in one pass. */
const scan = { host: '', accept: '', xff: '' };
function scanHeaders(raw: string[]): void {
  scan.host = '';
  scan.accept = '';
  scan.xff = '';
  for (let i = 0; i < raw.length; i += 2) {
    const k = raw[i];
    switch (k.length) {
      case 4:
        if (k === 'Host' || k.toLowerCase() === 'host') scan.host = raw[i + 1];
        break;
      case 6:
        if (k === 'Accept' || k.toLowerCase() === 'accept') scan.accept = raw[i + 1];
        break;
      case 15:
        if (k.toLowerCase() === 'x-forwarded-for') scan.xff = scan.xff ? scan.xff + ', ' + raw[i + 1] : raw[i + 1];
        break;
    }
  }
}

/** The same three fields from an HTTP/2 header object (names arrive lower-case; repeated x-forwarded-for joined). */
function scanH2Headers(h: H2Headers): void {
  const host = h[':authority'] ?? h.host;
  scan.host = host === undefined ? '' : String(host);
  scan.accept = h.accept ?? '';
  const xff = h['x-forwarded-for'];
  scan.xff = xff === undefined ? '' : Array.isArray(xff) ? xff.join(', ') : xff;
}

export class WhoamiServer implements SniffTarget {
  /** The listeners (TCP, or TLS with --tls), one per address. */
  readonly servers: net.Server[] = [];
  /** Handed every HTTP/1.x connection. */
  readonly http1: http.Server;
  /** Handed every HTTP/2 connection (h2c by prior knowledge, h2 by ALPN). */
  readonly h2: Http2Server;
  readonly open = new OpenConnections();
  readonly metrics = new Metrics();
  readonly waits = new Set<PendingWait>();
  state: ServerState = 'serving';
  readonly lifecycle: Drain = new Drain(this);
  healthStatus = 200;
  private nextConnId: number;
  private readonly connIdStep: number;
  private readonly pidStr: string;
  private readonly startedStr: string;
  /** The identity headers as raw bytes for answers written straight to the socket: head, conn value, tail. */
  readonly rawIdentityHead: string;
  readonly rawIdentityTail: string;
  /** Large ?size= responses streaming now (capped at MAX_LARGE_RESPONSES). */
  largeInFlight = 0;
  private readonly head: string;
  private readonly maxRequests: number;
  private readonly maxStreams: number;
  private readonly maxAgeMs: number;
  readonly log: RequestLog | null;
  private allClosed: (() => void)[] = [];
  private ipsCache: { at: number; ips: InterfaceAddress[] } | null = null;
  readonly onSocketClose: (this: ConnSocket) => void;

  constructor(
    readonly identity: Identity,
    readonly settings: ServerSettings,
    log: LogFormat | null,
    logPid: boolean,
    logStream: NodeJS.WritableStream,
    private readonly echoSecrets: boolean,
    generation: Generation,
    readonly tlsMaterial: TlsMaterial | null = null,
  ) {
    this.pidStr = String(identity.pid);
    this.startedStr = String(identity.started);
    this.rawIdentityHead = `${BACKEND_HEADER}: ${identity.name}\r\n${INSTANCE_HEADER}: ${identity.instance}\r\n${CONN_HEADER}: `;
    this.rawIdentityTail = `\r\n${PID_HEADER}: ${this.pidStr}\r\n${STARTED_HEADER}: ${this.startedStr}\r\n`;
    this.connIdStep = Math.max(1, generation.workers ?? 1);
    this.nextConnId = (generation.worker ?? 1) - this.connIdStep;
    this.head = textHead(identity);
    this.maxRequests = settings.maxRequestsPerConn ?? 0;
    this.maxStreams = settings.maxStreamsPerConn ?? 0;
    this.maxAgeMs = settings.maxConnAgeMs ?? 0;
    this.log = log ? new RequestLog(log, identity.pid, logPid, logStream) : null;
    const self = this;
    this.onSocketClose = function (this: ConnSocket) {
      self.connectionClosed(this);
    };
    this.http1 = createHttp1(settings, this.onRequest, this.onClientError);
    this.h2 = createH2(this);
  }

  // ---- connections -------------------------------------------------------------------------

  /**
   * `local` is the listener's own address when it is bound to one (every connection it accepts
   * has that local address: no getsockname system call per connection), null for a wildcard.
   */
  accept(socket: Socket, local: Address | null): void {
    const s = socket as ConnSocket;
    s[CONN] = {
      id: (this.nextConnId += this.connIdStep),
      seq: 0,
      done: 0,
      openedAt: performance.now(),
      closedBy: null,
      remoteAddress: plainAddress(socket.remoteAddress),
      remotePort: socket.remotePort ?? 0,
      localAddress: local ? local.address : null,
      localPort: local ? local.port : 0,
      addrLines: null,
      waits: null,
      broken: false,
      socket: s,
      protocol: 'http/1.1',
      session: null,
      tls: null,
      prev: null,
      next: null,
    };
    const c = s[CONN];
    this.open.add(c);
    this.metrics.accepted++;
    this.metrics.active++;
    s.on('close', this.onSocketClose);
    if (this.tlsMaterial) {
      // Decrypted already: ALPN chose the protocol.
      const t = socket as TLSSocket;
      const alpn = t.alpnProtocol || null;
      c.tls = { servername: (t as TLSSocket & { servername?: string | false }).servername || null, alpn, version: t.getProtocol() ?? null, cipher: t.getCipher()?.name ?? null };
      this.dispatch(s, alpn === 'h2' ? 'h2' : 'http/1.1');
      return;
    }
    sniffProtocol(s, this.settings.headersTimeoutMs, this);
  };

  // ---- the protocol sniff's outcomes (sniff.ts; this server is the target of all its connections) ----

  sniffed(socket: Socket, p: Sniffed, first: Buffer | null): void {
    this.dispatch(socket as ConnSocket, p, first);
  }

  /** Connected but never sent a byte (a pre-opened or health-check connection): close quietly. */
  silent(socket: Socket): void {
    (socket as ConnSocket)[CONN].closedBy ??= 'server-headers-timeout';
    socket.destroy();
  }

  broken(socket: Socket): void {
    (socket as ConnSocket)[CONN].closedBy ??= 'client-reset';
  }

  /**
   * Hands the connection to node:http or node:http2. HTTP/1.x from the sniff: `first` (the bytes
   * the sniff read) goes to node:http as its first 'data', right after it took the connection (it
   * reads the rest itself); HTTP/2 from the sniff finds its bytes put back on the paused socket.
   */
  private dispatch(s: ConnSocket, p: Sniffed | 'h2', first: Buffer | null = null): void {
    const c = s[CONN];
    c.protocol = p;
    this.metrics.countProtocol(p);
    if (p === 'http/1.1') {
      this.http1.emit('connection', s);
      if (first !== null && !s.destroyed) s.emit('data', first);
    } else this.h2.emit('connection', s);
  }

  tlsFailed(): void {
    this.metrics.tlsHandshakeFailures++;
  }

  private connectionClosed(s: ConnSocket): void {
    const c = s[CONN];
    this.open.remove(c);
    // `?wait=` requests whose client went away: answered now (499, nginx's "client closed"), not
    // when their timers fire (a pending timer would keep a drained process alive).
    if (c.waits) {
      const ws = c.waits as PendingWait[];
      c.waits = null;
      for (const w of ws) {
        if (w.timer) clearTimeout(w.timer);
        w.timer = null;
        this.waits.delete(w);
        this.respond(w.req, w.res, w.c, w.seq, w.path, w.controls, w.t0);
      }
    }
    // Every close the server decides is labelled where it decides it; what is left is either the
    // peer's FIN (the readable side ended) or Node's keepAliveTimeout destroying an idle socket.
    const by: CloseReason = c.closedBy ?? (c.session ? 'client' : s.readableEnded ? 'client' : c.seq === c.done && c.done > 0 ? 'server-idle' : 'unknown');
    this.metrics.connectionClosed(c.done, by, c.protocol);
    if (this.log) this.log.close({ conn: c.id, requests: c.done, lifetimeMs: performance.now() - c.openedAt, closedBy: by, remoteAddress: c.remoteAddress, remotePort: c.remotePort });
    if (this.open.size === 0 && this.allClosed.length > 0) {
      const waiting = this.allClosed;
      this.allClosed = [];
      for (const f of waiting) f();
    }
  }

  whenAllClosed(): Promise<void> {
    if (this.open.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.allClosed.push(resolve));
  }


  // ---- requests ----------------------------------------------------------------------------

  readonly onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    this.handle(req, res, (req.socket as ConnSocket)[CONN]);
  };

  readonly onH2Stream = (stream: ServerHttp2Stream, headers: H2Headers, flags: number): void => {
    // A reset in the middle of a write, a client gone: the stream's own business, never the process's.
    stream.on('error', noop);
    // A stream the client reset before node handed it over has no session any more: nothing to answer.
    const session = stream.session as H2Session | undefined;
    const c = session?.[CONN];
    if (!c || stream.destroyed) {
      if (!stream.destroyed) stream.close(http2constants.NGHTTP2_INTERNAL_ERROR);
      return;
    }
    const req: H2Req = { method: headers[':method'] ?? 'GET', url: headers[':path'] ?? '/', headers, httpVersion: '2.0', stream, body: (flags & http2constants.NGHTTP2_FLAG_END_STREAM) === 0 };
    if (isGrpc(req)) {
      answerGrpc(this, req, stream, c, ++c.seq);
      return;
    }
    this.handle(req, stream, c);
  };

  private handle(req: AnyRequest, res: AnyResponse, c: ConnState): void {
    const seq = ++c.seq;
    const t0 = this.log ? performance.now() : 0;
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    let path = url;
    let controls: Controls = NO_CONTROLS;
    if (q !== -1) {
      path = url.slice(0, q);
      controls = parseControls(url.slice(q + 1));
    }
    if (controls.waitMs > 0 && !controls.error) {
      const w: PendingWait = { timer: null, req, res, c, seq, path, controls, t0 };
      w.timer = setTimeout(this.fireWait, controls.waitMs, w);
      this.waits.add(w);
      (c.waits ??= []).push(w);
      return;
    }
    this.respond(req, res, c, seq, path, controls, t0);
  }

  private readonly fireWait = (w: PendingWait): void => {
    w.timer = null;
    this.waits.delete(w);
    const ws = w.c.waits;
    if (ws) {
      const i = ws.indexOf(w);
      if (i !== -1) ws.splice(i, 1);
      if (ws.length === 0) w.c.waits = null;
    }
    this.respond(w.req, w.res, w.c, w.seq, w.path, w.controls, w.t0);
  };

  private respond(req: AnyRequest, res: AnyResponse, c: ConnState, seq: number, path: string, controls: Controls, t0: number): void {
    if (c.broken) return; // a 400 already answered this request (see onClientError)
    if (res.destroyed || (!c.session && c.socket.destroyed)) {
      // The client went away while we waited: nginx's 499, for the log and the counters.
      c.done++;
      this.metrics.countResponse(499);
      if (this.log) this.logRequest(req, c, seq, path, 499, t0, true);
      return;
    }
    try {
      const method = req.method ?? 'GET';
      let status = 200;
      let type = TEXT;
      let body: string;
      let json = false;
      if (controls.error) {
        status = 400;
        body = `lbdiag whoami: ${controls.error}\n`;
      } else if (path === '/health') {
        if (method === 'POST') {
          const refusal = healthPostRefusal(req.headers as http.IncomingHttpHeaders);
          if (refusal === null) {
            readHealthBody(c.session ? (req as H2Req).stream : (req as IncomingMessage), (r) => {
              if (typeof r === 'number') {
                this.healthStatus = r;
                this.send(req, res, c, seq, controls.status || 200, TEXT, `health set to ${r}\n`, controls.close, path, t0);
              } else this.send(req, res, c, seq, 400, TEXT, `lbdiag whoami: ${r}\n`, controls.close, path, t0);
            });
            return;
          }
          status = 415;
          body = `lbdiag whoami: ${refusal}\n`;
        } else
        if (method !== 'GET' && method !== 'HEAD') {
          status = 405;
          body = 'lbdiag whoami: /health answers GET, HEAD and POST\n';
        } else if (this.state !== 'serving') {
          status = 503;
          body = 'draining\n';
        } else {
          status = this.healthStatus;
          body = status === 200 ? 'ok\n' : `unhealthy (set to ${status} by POST /health)\n`;
        }
      } else if (path === '/metrics') {
        type = PROM;
        body = this.prometheus();
      } else {
        if (c.session) scanH2Headers(req.headers as H2Headers);
        else scanHeaders((req as IncomingMessage).rawHeaders);
        json =
          path === '/api'
            ? controls.format !== 'text'
            : controls.format === 'json' || (controls.format === '' && scan.accept !== '' && scan.accept.includes('application/json'));
        if (json) {
          type = JSON_TYPE;
          body = jsonBody(buildAnswer(req, c, seq, this.identity, this.settings, this.state !== 'serving', this.ips(), this.echoSecrets));
        } else {
          localOf(c.socket);
          body = textAnswer(this.head, c, seq, method, req.url ?? '/', req.httpVersion, scan.host, scan.xff, this.state !== 'serving');
        }
      }
      if (controls.status) status = controls.status;
      if (controls.size > 0 && !STATUS_NO_BODY(status)) {
        const padded = json ? paddedJson(body, controls.size) : paddedText(body, controls.size);
        if (padded.pad > 0) {
          if (padded.pad > LARGE_PADDING_BYTES && this.largeInFlight >= MAX_LARGE_RESPONSES) {
            status = 503;
            body = `lbdiag whoami: ${MAX_LARGE_RESPONSES} large ?size= responses are being sent already; retry later\n`;
            this.send(req, res, c, seq, status, TEXT, body, controls.close, path, t0, RETRY_AFTER);
            return;
          }
          this.send(req, res, c, seq, status, type, padded, controls.close, path, t0);
          return;
        }
      }
      this.send(req, res, c, seq, status, type, body, controls.close, path, t0);
    } catch (e) {
      if (!res.headersSent) this.send(req, res, c, seq, 500, TEXT, `lbdiag whoami: internal error: ${(e as Error).message}\n`, true, path, t0);
      else if (c.session) (res as ServerHttp2Stream).close(http2constants.NGHTTP2_INTERNAL_ERROR);
      else (res as ServerResponse).destroy();
    }
  }

  /**
   * Whether this answer ends its connection, and why (labelled on the connection). HTTP/1.1: the
   * answer carries Connection: close. HTTP/2: the session gets GOAWAY once the answer is queued.
   */
  closingAfter(c: ConnState, seq: number, closeParam: boolean, keepAlive: boolean): boolean {
    if (closeParam) c.closedBy ??= 'server-close-param';
    else if (c.session ? this.maxStreams > 0 && seq >= this.maxStreams : this.maxRequests > 0 && seq >= this.maxRequests) c.closedBy ??= 'server-max-requests';
    else if (this.state !== 'serving') c.closedBy ??= 'drain';
    else if (this.maxAgeMs > 0 && performance.now() - c.openedAt >= this.maxAgeMs) c.closedBy ??= 'server-max-age';
    else if (!keepAlive) c.closedBy ??= 'client-header';
    else return false;
    return true;
  }

  private send(req: AnyRequest, res: AnyResponse, c: ConnState, seq: number, status: number, type: string, body: string | PaddedBody, closeParam: boolean, path: string, t0: number, extra?: string[]): void {
    if (c.broken) return; // onClientError answered 400 for this request
    const h1 = c.session ? null : (res as ServerResponse);
    const closing = this.closingAfter(c, seq, closeParam, h1 ? h1.shouldKeepAlive : true);
    const noBody = STATUS_NO_BODY(status);
    const padded = typeof body === 'string' ? null : body;
    const len = noBody ? 0 : padded ? paddedLength(padded) : Buffer.byteLength(body as string);
    const id = this.identity;
    if (!h1) {
      this.sendH2(req as H2Req, res as ServerHttp2Stream, c, seq, status, type, body, padded, len, noBody, closing, path, t0, extra);
      return;
    }
    // A flat [name, value, ...] list: node:http walks it by index (no object key iteration).
    const headers = [
      BACKEND_HEADER, id.name,
      INSTANCE_HEADER, id.instance,
      CONN_HEADER, formatConn(c.id, seq),
      PID_HEADER, this.pidStr,
      STARTED_HEADER, this.startedStr,
      'Cache-Control', 'no-store',
      'Content-Type', type,
      'Content-Length', String(len),
    ];
    // When the client asked to close (or spoke HTTP/1.0), node:http writes `Connection: close` itself.
    // HTTP/2 has no Connection header: the session is closed with GOAWAY instead.
    if (closing && h1.shouldKeepAlive) headers.push('Connection', 'close');
    if (extra) headers.push(...extra);
    h1.writeHead(status, headers);
    if (noBody || req.method === 'HEAD') h1.end();
    else if (padded) {
      const large = padded.pad > LARGE_PADDING_BYTES;
      if (large) this.largeInFlight++;
      streamPadded(h1, padded, large ? this.largeDone : noop);
    } else h1.end(body as string);
    c.done++;
    this.metrics.countResponse(status);
    if (this.log) this.logRequest(req, c, seq, path, status, t0, closing);
  }

  /** The HTTP/2 answer: the same identity as header fields (lower-case, as HTTP/2 wants), no Connection header (GOAWAY instead). */
  private sendH2(req: H2Req, stream: ServerHttp2Stream, c: ConnState, seq: number, status: number, type: string, body: string | PaddedBody, padded: PaddedBody | null, len: number, noBody: boolean, closing: boolean, path: string, t0: number, extra?: string[]): void {
    const id = this.identity;
    const headers: Record<string, string | number> = {
      ':status': status,
      [BACKEND_KEY]: id.name,
      [INSTANCE_KEY]: id.instance,
      [CONN_KEY]: formatConn(c.id, seq),
      [PID_KEY]: this.pidStr,
      [STARTED_KEY]: this.startedStr,
      'cache-control': 'no-store',
      'content-type': type,
      'content-length': len,
    };
    if (extra) for (let i = 0; i < extra.length; i += 2) headers[extra[i].toLowerCase()] = extra[i + 1];
    // A request body nobody reads (a POST to /api) must not hold the stream's flow-control window.
    // (Only then: resuming a stream that has no body costs a destroyed-write error per stream.)
    if (req.body && path !== '/health') stream.resume();
    if (noBody || req.method === 'HEAD') {
      stream.respond(headers, { endStream: true });
    } else {
      stream.respond(headers);
      if (padded) {
        const large = padded.pad > LARGE_PADDING_BYTES;
        if (large) this.largeInFlight++;
        streamPadded(stream as unknown as ServerResponse, padded, large ? this.largeDone : noop);
      } else stream.end(body as string);
    }
    if (closing) goaway(c);
    c.done++;
    this.metrics.countResponse(status);
    if (this.log) this.logRequest(req, c, seq, path, status, t0, closing);
  }

  private readonly largeDone = (): void => {
    this.largeInFlight--;
  };

  private logRequest(req: AnyRequest, c: ConnState, seq: number, path: string, status: number, t0: number, closing: boolean): void {
    this.log!.request({ conn: c.id, seq, remoteAddress: c.remoteAddress, remotePort: c.remotePort, method: req.method ?? '-', path, status, ms: performance.now() - t0, closing });
  }

  private ips(): InterfaceAddress[] {
    const now = performance.now();
    if (!this.ipsCache || now - this.ipsCache.at > 10_000) this.ipsCache = { at: now, ips: interfaceAddresses() };
    return this.ipsCache.ips;
  }

  prometheus(): string {
    return renderPrometheus(this.metrics, {
      name: this.identity.name,
      instance: this.identity.instance,
      pid: this.identity.pid,
      version: this.identity.version,
      startedSeconds: this.identity.started / 1000,
      draining: this.state !== 'serving',
      healthStatus: this.state !== 'serving' ? 503 : this.healthStatus,
      uptimeSeconds: (performance.now() - this.identity.startedMono) / 1000,
    });
  }

  // ---- malformed input (malformed.ts), listening (listen.ts), drain and close (drain.ts) ----

  readonly onClientError = (err: NodeJS.ErrnoException, socket: Duplex): void => answerMalformed(this, err, socket);

  listen(hosts: string[], port: number, defaultHost: boolean): Promise<Address[]> {
    return listenAll(this, hosts, port, defaultHost);
  }
}

