/**
 * The whoami server: node:http with one request handler shared by every listening address.
 * Hot path: one symbol lookup for the connection state, constant headers from fields, no
 * per-request closures, counters only. `startWhoami` is the programmatic API used by the CLI,
 * the lab and the tests.
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { UsageError } from '../core/errors.js';
import { forwardedOf, jsonBody, textAnswer, textHead, type Identity, type ServerSettings } from './answers.js';
import { boundLocal, CONN, localOf, OpenConnections, plainAddress, type CloseReason, type ConnSocket, type ConnState } from './connections.js';
import { NO_CONTROLS, parseControls, WAIT_CAP_MS, type Controls } from './controls.js';
import { defaultName, interfaceAddresses, isValidName, kubernetesFromEnv, newInstanceId } from './identity.js';
import { RequestLog, type LogFormat } from './log.js';
import { healthPostRefusal, parseHealthBody } from './health.js';
import { LARGE_PADDING_BYTES, MAX_LARGE_RESPONSES, paddedJson, paddedLength, paddedText, streamPadded, type PaddedBody } from './padding.js';
import { redactHeaders } from './secrets.js';
import { Metrics, renderPrometheus, type MetricsSnapshot } from './metrics.js';
import { BACKEND_HEADER, CONN_HEADER, formatConn, INSTANCE_HEADER, PID_HEADER, STARTED_HEADER, type InterfaceAddress, type WhoamiAnswer } from '../wire/identity-headers.js';

const require = createRequire(import.meta.url);
const { version: VERSION } = require('../../../package.json') as { version: string };

export const DEFAULT_PORT = 18088;
export const DEFAULT_DRAIN_DELAY_MS = 5000;
/** Node's own defaults, shown in the banner when the user did not override them. */
export const NODE_KEEP_ALIVE_TIMEOUT_MS = 5000;
export const NODE_HEADERS_TIMEOUT_MS = 60_000;
const NODE_REQUEST_TIMEOUT_MS = 300_000;

export interface WhoamiOptions {
  /** Addresses to listen on; default `::` (IPv4 and IPv6 on a dual-stack kernel, else 0.0.0.0). */
  host?: string | string[];
  /** 0 picks a free port (shared by every host). */
  port: number;
  name?: string;
  /** server.keepAliveTimeout; 0 keeps idle connections open forever. Default: Node's 5 s. */
  idleTimeoutMs?: number;
  /** Close after the n-th response on a connection; 0/undefined = unlimited. */
  maxRequestsPerConn?: number;
  /** server.headersTimeout (408 when request headers take longer). Default: Node's 60 s. */
  headersTimeoutMs?: number;
  /** How long drain() keeps answering (health 503, Connection: close) before it stops listening. */
  drainDelayMs?: number;
  log?: boolean | LogFormat;
  /** Where log lines go (default stdout). */
  logStream?: NodeJS.WritableStream;
  /** Put pid= in text log lines (set for --workers). */
  logPid?: boolean;
  /** Echo Authorization, Cookie and other credential headers verbatim (default: redacted, see secrets.ts). */
  echoSecrets?: boolean;
  /** The generation this process belongs to (--workers: made by the primary); default a new one. */
  generation?: Generation;
}

/**
 * One whoami start: its id (X-Lbdiag-Instance) and start time (X-Lbdiag-Started), shared by every
 * worker. Worker `worker` of `workers` numbers its connections worker, worker + workers, ... so a
 * connection id is unique within the generation, not only within the process.
 */
export interface Generation {
  instance: string;
  startedMs: number;
  worker?: number;
  workers?: number;
}

export function newGeneration(): Generation {
  return { instance: newInstanceId(), startedMs: Date.now() };
}

export interface WhoamiStats extends MetricsSnapshot {
  state: 'serving' | 'draining' | 'closed';
  healthStatus: number;
}

export interface WhoamiHandle {
  readonly name: string;
  readonly instance: string;
  readonly pid: number;
  readonly addresses: { address: string; port: number }[];
  readonly settings: ServerSettings;
  readonly identity: Identity;
  stats(): WhoamiStats;
  /** Graceful: health 503 and Connection: close at once, idle connections closed; after drainDelayMs stop listening, let in-flight requests finish. */
  drain(): Promise<void>;
  /** Immediate: stop listening and destroy every connection. */
  close(): Promise<void>;
}

const TEXT = 'text/plain; charset=utf-8';
const JSON_TYPE = 'application/json; charset=utf-8';
const PROM = 'text/plain; version=0.0.4; charset=utf-8';
const STATUS_NO_BODY = (s: number): boolean => s === 204 || s === 304;
const RETRY_AFTER = ['Retry-After', '1'];
const noop = (): void => {};

interface PendingWait {
  timer: NodeJS.Timeout | null;
  req: IncomingMessage;
  res: ServerResponse;
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

class WhoamiServer {
  readonly servers: http.Server[] = [];
  readonly open = new OpenConnections();
  readonly metrics = new Metrics();
  readonly waits = new Set<PendingWait>();
  state: 'serving' | 'draining' | 'closed' = 'serving';
  healthStatus = 200;
  private nextConnId: number;
  private readonly connIdStep: number;
  private readonly pidStr: string;
  private readonly startedStr: string;
  /** The identity headers as raw bytes for answers written straight to the socket: head, conn value, tail. */
  private readonly rawIdentityHead: string;
  private readonly rawIdentityTail: string;
  /** Large ?size= responses streaming now (capped at MAX_LARGE_RESPONSES). */
  largeInFlight = 0;
  private readonly head: string;
  private readonly maxRequests: number;
  private readonly log: RequestLog | null;
  private drainPromise: Promise<void> | null = null;
  private drainTimer: NodeJS.Timeout | null = null;
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
  ) {
    this.pidStr = String(identity.pid);
    this.startedStr = String(identity.started);
    this.rawIdentityHead = `${BACKEND_HEADER}: ${identity.name}\r\n${INSTANCE_HEADER}: ${identity.instance}\r\n${CONN_HEADER}: `;
    this.rawIdentityTail = `\r\n${PID_HEADER}: ${this.pidStr}\r\n${STARTED_HEADER}: ${this.startedStr}\r\n`;
    this.connIdStep = Math.max(1, generation.workers ?? 1);
    this.nextConnId = (generation.worker ?? 1) - this.connIdStep;
    this.head = textHead(identity);
    this.maxRequests = settings.maxRequestsPerConn ?? 0;
    this.log = log ? new RequestLog(log, identity.pid, logPid, logStream) : null;
    const self = this;
    this.onSocketClose = function (this: ConnSocket) {
      self.connectionClosed(this);
    };
  }

  // ---- connections -------------------------------------------------------------------------

  /**
   * `local` is the listener's own address when it is bound to one (every connection it accepts
   * has that local address: no getsockname system call per connection), null for a wildcard.
   */
  private accept(socket: Socket, local: { address: string; port: number } | null): void {
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
      prev: null,
      next: null,
    };
    this.open.add(s[CONN]);
    this.metrics.accepted++;
    this.metrics.active++;
    s.on('close', this.onSocketClose);
  };

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
    const by: CloseReason = c.closedBy ?? (s.readableEnded ? 'client' : c.seq === c.done && c.done > 0 ? 'server-idle' : 'unknown');
    this.metrics.connectionClosed(c.done, by);
    if (this.log) this.log.close({ conn: c.id, requests: c.done, lifetimeMs: performance.now() - c.openedAt, closedBy: by, remoteAddress: c.remoteAddress, remotePort: c.remotePort });
    if (this.open.size === 0 && this.allClosed.length > 0) {
      const waiting = this.allClosed;
      this.allClosed = [];
      for (const f of waiting) f();
    }
  }

  private whenAllClosed(): Promise<void> {
    if (this.open.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.allClosed.push(resolve));
  }


  // ---- requests ----------------------------------------------------------------------------

  readonly onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const c = (req.socket as ConnSocket)[CONN];
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
  };

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

  private respond(req: IncomingMessage, res: ServerResponse, c: ConnState, seq: number, path: string, controls: Controls, t0: number): void {
    if (c.broken) return; // a 400 already answered this request (see onClientError)
    if (res.destroyed || req.socket.destroyed) {
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
          const refusal = healthPostRefusal(req.headers);
          if (refusal === null) {
            this.readHealthBody(req, res, c, seq, path, controls, t0);
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
        scanHeaders(req.rawHeaders);
        json =
          path === '/api'
            ? controls.format !== 'text'
            : controls.format === 'json' || (controls.format === '' && scan.accept !== '' && scan.accept.includes('application/json'));
        if (json) {
          type = JSON_TYPE;
          body = jsonBody(this.answer(req, c, seq));
        } else {
          localOf(req.socket as ConnSocket);
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
      else res.destroy();
    }
  }

  private send(req: IncomingMessage, res: ServerResponse, c: ConnState, seq: number, status: number, type: string, body: string | PaddedBody, closeParam: boolean, path: string, t0: number, extra?: string[]): void {
    if (c.broken) return; // onClientError answered 400 for this request
    let closing = true;
    if (closeParam) c.closedBy ??= 'server-close-param';
    else if (this.maxRequests > 0 && seq >= this.maxRequests) c.closedBy ??= 'server-max-requests';
    else if (this.state !== 'serving') c.closedBy ??= 'drain';
    else if (!res.shouldKeepAlive) c.closedBy ??= 'client-header';
    else closing = false;
    const noBody = STATUS_NO_BODY(status);
    const padded = typeof body === 'string' ? null : body;
    const len = noBody ? 0 : padded ? paddedLength(padded) : Buffer.byteLength(body as string);
    // A flat [name, value, ...] list: node:http walks it by index (no object key iteration).
    const id = this.identity;
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
    if (closing && res.shouldKeepAlive) headers.push('Connection', 'close');
    if (extra) headers.push(...extra);
    res.writeHead(status, headers);
    if (noBody || req.method === 'HEAD') res.end();
    else if (padded) {
      const large = padded.pad > LARGE_PADDING_BYTES;
      if (large) this.largeInFlight++;
      streamPadded(res, padded, large ? this.largeDone : noop);
    } else res.end(body);
    c.done++;
    this.metrics.countResponse(status);
    if (this.log) this.logRequest(req, c, seq, path, status, t0, closing);
  }

  private readonly largeDone = (): void => {
    this.largeInFlight--;
  };

  private logRequest(req: IncomingMessage, c: ConnState, seq: number, path: string, status: number, t0: number, closing: boolean): void {
    this.log!.request({ conn: c.id, seq, remoteAddress: c.remoteAddress, remotePort: c.remotePort, method: req.method ?? '-', path, status, ms: performance.now() - t0, closing });
  }

  private readHealthBody(req: IncomingMessage, res: ServerResponse, c: ConnState, seq: number, path: string, controls: Controls, t0: number): void {
    let text = '';
    req.setEncoding('latin1');
    req.on('data', (d: string) => {
      if (text.length < 256) text += d.slice(0, 256);
    });
    req.on('end', () => {
      const r = parseHealthBody(text);
      if (typeof r === 'number') {
        this.healthStatus = r;
        this.send(req, res, c, seq, controls.status || 200, TEXT, `health set to ${r}\n`, controls.close, path, t0);
      } else {
        this.send(req, res, c, seq, 400, TEXT, `lbdiag whoami: ${r}\n`, controls.close, path, t0);
      }
    });
  }

  private ips(): InterfaceAddress[] {
    const now = performance.now();
    if (!this.ipsCache || now - this.ipsCache.at > 10_000) this.ipsCache = { at: now, ips: interfaceAddresses() };
    return this.ipsCache.ips;
  }

  answer(req: IncomingMessage, c: ConnState, seq: number): WhoamiAnswer {
    const now = performance.now();
    const h = req.headers;
    localOf(req.socket as ConnSocket);
    const id = this.identity;
    const s = this.settings;
    const a: WhoamiAnswer = {
      name: id.name,
      hostname: id.hostname,
      pid: id.pid,
      instance: id.instance,
      started: id.started,
      version: id.version,
      startedAt: id.startedAt,
      uptimeMs: Math.round(now - id.startedMono),
      ips: this.ips(),
      request: { method: req.method ?? '', url: req.url ?? '', httpVersion: req.httpVersion, host: h.host ?? null, headers: this.echoSecrets ? h : redactHeaders(h) },
      connection: {
        id: c.id,
        seq,
        ageMs: Math.round((now - c.openedAt) * 1000) / 1000,
        local: { address: c.localAddress ?? '', port: c.localPort },
        remote: { address: c.remoteAddress, port: c.remotePort },
      },
      forwarded: forwardedOf(h),
      server: {
        state: this.state === 'serving' ? 'serving' : 'draining',
        idleTimeoutMs: s.idleTimeoutMs,
        maxRequestsPerConn: s.maxRequestsPerConn,
        headersTimeoutMs: s.headersTimeoutMs,
        drainDelayMs: s.drainDelayMs,
      },
    };
    if (id.kubernetes) a.kubernetes = id.kubernetes;
    return a;
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

  // ---- malformed input ---------------------------------------------------------------------

  readonly onClientError = (err: NodeJS.ErrnoException, socket: Duplex): void => {
    const s = socket as ConnSocket;
    const c = s[CONN];
    const code = err.code ?? '';
    if (!c) {
      socket.destroy();
      return;
    }
    // Answer only when nothing of a response is being written on this socket: no request in flight,
    // or one whose body the parser rejected (a bad chunk) and whose answer has not started, as bare
    // node:http does. A pipelined earlier answer still pending would be overtaken: close instead.
    const inFlight = c.seq - c.done;
    const current = (s as unknown as { _httpMessage?: ServerResponse | null })._httpMessage;
    // An answer whose head is out but whose body is still going (a streamed ?size=) must not be
    // interleaved with a 400: close, as bare node:http does.
    const writing = current != null && current.headersSent;
    const bodyError = inFlight === 1 && !c.broken && !writing;
    if (code === 'ECONNRESET' || code === 'EPIPE' || !socket.writable || writing || (inFlight !== 0 && !bodyError)) {
      c.closedBy ??= code === 'ECONNRESET' || code === 'EPIPE' ? 'client-reset' : 'unknown';
      socket.destroy();
      return;
    }
    if (code === 'ERR_HTTP_REQUEST_TIMEOUT' && s.bytesRead === 0) {
      // Connected but never sent a byte (a pre-opened or health-check connection): close quietly.
      c.closedBy ??= 'server-headers-timeout';
      socket.destroy();
      return;
    }
    let status = 400;
    let reason = 'Bad Request';
    let by: CloseReason = 'server-bad-request';
    if (code === 'HPE_HEADER_OVERFLOW') {
      status = 431;
      reason = 'Request Header Fields Too Large';
    } else if (code === 'ERR_HTTP_REQUEST_TIMEOUT') {
      status = 408;
      reason = 'Request Timeout';
      by = 'server-headers-timeout';
    }
    let seq: number;
    if (bodyError) {
      // The dispatched request's answer is this 400; its handler must not answer too.
      seq = c.seq;
      c.broken = true;
    } else seq = ++c.seq;
    c.done = c.seq;
    c.closedBy ??= by;
    const detail = (err as { reason?: string }).reason ?? err.message;
    const body = `lbdiag whoami: ${status} ${reason} (${code}${detail ? `: ${detail}` : ''})\n`;
    socket.end(
      `HTTP/1.1 ${status} ${reason}\r\n` +
        this.rawIdentityHead +
        formatConn(c.id, seq) +
        this.rawIdentityTail +
        `Content-Type: ${TEXT}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
    setTimeout(destroySocket, 1000, socket).unref();
    this.metrics.countResponse(status);
    if (this.log) this.log.request({ conn: c.id, seq, remoteAddress: c.remoteAddress, remotePort: c.remotePort, method: '-', path: '-', status, ms: 0, closing: true });
  };

  // ---- lifecycle ---------------------------------------------------------------------------

  async listen(hosts: string[], port: number, defaultHost: boolean): Promise<{ address: string; port: number }[]> {
    const s = this.settings;
    const v4 = hosts.some((h) => !h.includes(':'));
    const out: { address: string; port: number }[] = [];
    try {
      for (const host of hosts) {
        const server = http.createServer(
          {
            requireHostHeader: false,
            headersTimeout: s.headersTimeoutMs,
            requestTimeout: Math.max(NODE_REQUEST_TIMEOUT_MS, s.headersTimeoutMs),
            connectionsCheckingInterval: Math.min(1000, Math.max(50, Math.floor(s.headersTimeoutMs / 4))),
          },
          this.onRequest,
        );
        server.keepAliveTimeout = s.idleTimeoutMs;
        // One listener per server (not per connection); `local` is known once listening.
        let local: { address: string; port: number } | null = null;
        server.on('connection', (socket: Socket) => this.accept(socket, local));
        server.on('clientError', this.onClientError);
        this.servers.push(server);
        // With `::` next to an IPv4 address, `::` must be IPv6-only or the two would collide.
        const ipv6Only = host === '::' && v4;
        let addr: { address: string; port: number };
        try {
          addr = await listenOn(server, host, port, ipv6Only);
        } catch (e) {
          if (defaultHost && host === '::' && ['EAFNOSUPPORT', 'EADDRNOTAVAIL'].includes((e as NodeJS.ErrnoException).code ?? '')) {
            addr = await listenOn(server, '0.0.0.0', port, false); // no IPv6 on this machine
          } else throw e;
        }
        port = addr.port;
        const bound = boundLocal(addr.address);
        local = bound === null ? null : { address: bound, port: addr.port };
        out.push(addr);
      }
    } catch (e) {
      for (const srv of this.servers) srv.close();
      throw listenError(e, port);
    }
    return out;
  }

  drain(): Promise<void> {
    if (this.drainPromise) return this.drainPromise;
    if (this.state === 'closed') return Promise.resolve();
    this.state = 'draining';
    // Every connection stays open for the drain delay: the next request on each is answered with
    // `Connection: close`, then the connection closes. Closing an idle keep-alive connection now
    // would race the request its client may already have sent (in the receive buffer, or on the
    // wire): a reset for a client that did nothing wrong. Listeners stay open too, so a balancer
    // that has not yet seen /health turn 503 still gets answers.
    this.drainPromise = new Promise<void>((resolve) => {
      this.finishDrain = resolve;
      this.drainTimer = setTimeout(() => {
        this.drainTimer = null;
        for (const c of this.open.list()) c.closedBy ??= 'drain';
        // Stop listening; node's server.close() also closes the connections its parser holds no
        // request on (closeIdleConnections), and leaves the others to finish.
        for (const srv of this.servers) srv.close();
        // In-flight requests finish (each answers Connection: close); bounded by the wait cap.
        const cap = setTimeout(() => {
          for (const c of this.open.list()) c.socket.destroy();
        }, WAIT_CAP_MS + 5000);
        cap.unref();
        void this.whenAllClosed().then(() => {
          clearTimeout(cap);
          if (this.state === 'draining') this.state = 'closed';
          resolve();
        });
      }, this.settings.drainDelayMs);
    });
    return this.drainPromise;
  }

  private finishDrain: (() => void) | null = null;

  async close(): Promise<void> {
    this.state = 'closed';
    if (this.drainTimer) clearTimeout(this.drainTimer);
    this.drainTimer = null;
    for (const w of this.waits) if (w.timer) clearTimeout(w.timer);
    this.waits.clear();
    for (const srv of this.servers) srv.close();
    for (const c of this.open.list()) {
      c.closedBy ??= 'shutdown';
      c.socket.destroy();
    }
    await this.whenAllClosed();
    this.finishDrain?.();
  }
}

function destroySocket(socket: Duplex): void {
  socket.destroy();
}

function listenOn(server: http.Server, host: string, port: number, ipv6Only: boolean): Promise<{ address: string; port: number }> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error): void => reject(e);
    server.once('error', onError);
    server.listen({ host, port, ipv6Only }, () => {
      server.off('error', onError);
      const a = server.address();
      if (a && typeof a === 'object') resolve({ address: a.address, port: a.port });
      else reject(new Error(`no address for ${host}`));
    });
  });
}

function listenError(e: unknown, port: number): Error {
  const err = e as NodeJS.ErrnoException & { address?: string; hostname?: string };
  const where = err.address ? `${err.address.includes(':') ? `[${err.address}]` : err.address}:${port}` : `port ${port}`;
  switch (err.code) {
    case 'EADDRINUSE':
      return new UsageError(`cannot listen on ${where}: address already in use (another server has it; pick another --port)`);
    case 'EACCES':
      return new UsageError(`cannot listen on ${where}: permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)`);
    case 'EADDRNOTAVAIL':
      return new UsageError(`cannot listen on ${where}: no such address on this machine (check --host)`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new UsageError(`cannot listen: --host "${err.hostname ?? ''}" does not resolve`);
    default:
      return new UsageError(`cannot listen on ${where}: ${err.message}`);
  }
}

function checkDuration(ms: number | undefined, what: string, fallback: number): number {
  if (ms === undefined) return fallback;
  if (!Number.isFinite(ms) || ms < 0 || ms > 2 ** 31 - 1) throw new UsageError(`invalid ${what} ${ms} ms`);
  return Math.round(ms);
}

export async function startWhoami(opts: WhoamiOptions): Promise<WhoamiHandle> {
  const hostList = opts.host === undefined ? [] : Array.isArray(opts.host) ? opts.host : [opts.host];
  const defaultHost = hostList.length === 0;
  const hosts = defaultHost ? ['::'] : [...new Set(hostList.map((h) => h.replace(/^\[(.*)\]$/, '$1')))];
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) throw new UsageError(`invalid port ${opts.port} (expected 0 to 65535)`);
  const name = opts.name ?? defaultName();
  if (!isValidName(name)) throw new UsageError(`invalid --name "${name}" (printable ASCII, it goes into a response header)`);
  const max = opts.maxRequestsPerConn ?? 0;
  if (!Number.isInteger(max) || max < 0) throw new UsageError(`invalid max requests per connection ${max}`);
  const idleTimeoutMs = checkDuration(opts.idleTimeoutMs, 'idle timeout', NODE_KEEP_ALIVE_TIMEOUT_MS);
  const headersTimeoutMs = checkDuration(opts.headersTimeoutMs, 'headers timeout', NODE_HEADERS_TIMEOUT_MS);
  if (headersTimeoutMs === 0) throw new UsageError('invalid headers timeout 0 (must be above zero)');
  const settings: ServerSettings = {
    idleTimeoutMs,
    idleTimeoutIsDefault: opts.idleTimeoutMs === undefined,
    maxRequestsPerConn: max > 0 ? max : null,
    headersTimeoutMs,
    headersTimeoutIsDefault: opts.headersTimeoutMs === undefined,
    drainDelayMs: checkDuration(opts.drainDelayMs, 'drain delay', DEFAULT_DRAIN_DELAY_MS),
  };
  const generation = opts.generation ?? newGeneration();
  const identity: Identity = {
    name,
    hostname: os.hostname(),
    pid: process.pid,
    instance: generation.instance,
    started: generation.startedMs,
    version: VERSION,
    startedAt: new Date().toISOString(),
    startedMono: performance.now(),
    kubernetes: kubernetesFromEnv(),
  };
  const log: LogFormat | null = opts.log === true ? 'text' : opts.log ? opts.log : null;
  const w = new WhoamiServer(identity, settings, log, opts.logPid ?? false, opts.logStream ?? process.stdout, opts.echoSecrets ?? false, generation);
  const addresses = await w.listen(hosts, opts.port, defaultHost);
  return {
    name,
    instance: identity.instance,
    pid: identity.pid,
    addresses,
    settings,
    identity,
    stats: () => ({ ...w.metrics.snapshot(), state: w.state, healthStatus: w.healthStatus }),
    drain: () => w.drain(),
    close: () => w.close(),
  };
}

/** Compact duration for settings: `5s`, `400ms`, `1.5s`, `2m`. */
export function settingDuration(ms: number): string {
  if (ms >= 600_000 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms >= 1000 && ms % 1000 === 0) return `${ms / 1000}s`;
  if (ms < 1000) return `${ms}ms`;
  return `${Number((ms / 1000).toFixed(3))}s`;
}

/** `5s (Node default)` style text for the banner. */
export function describeSetting(ms: number, isDefault: boolean, zero = 'off'): string {
  return `${ms === 0 ? zero : settingDuration(ms)}${isDefault ? ' (Node default)' : ''}`;
}
