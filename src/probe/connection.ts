/**
 * One client connection of the probe: a raw TCP (or TLS) socket carrying one request at a time
 * (pipelining 1), timed with socket events: connect, first response byte, end of response.
 * Callbacks, not promises, on the hot path; no per-socket timers: the engine sweeps its
 * connections on one coarse tick (`expired`), so a request costs no timer re-arming per read.
 */
import net from 'node:net';
import tls from 'node:tls';
import { performance } from 'node:perf_hooks';
import { errorKind } from '../core/errors.js';
import { ParseError, ResponseParser, type HttpResponse } from './http-response.js';
import type { SocketOwner, SocketPool } from './socket-pool.js';
import type { ExchangeTiming, ExchangePhase } from './record.js';
import { classifyHandshakeError, verifyPeer } from './tls-errors.js';
import { tlsInfo, type TlsInfo } from './tls-info.js';
import { tlsConnectOptions, type TlsSettings } from './tls-options.js';

/** ALPN offered by the HTTP/1.1 probe: the server's answer is reported (and an h2-only server says so). */
const ALPN_HTTP1 = ['http/1.1'];

export interface Endpoint {
  address: string;
  port: number;
  /** `--source`: the local address outgoing connections bind to (any, when absent). */
  localAddress?: string;
  /** https: SNI, trust (--cacert) and whether a certificate problem fails the request (see tls-options.ts). */
  tls?: TlsSettings;
  /** Whole-request deadline (connect, send, head and body), like hey's and oha's `-t`. */
  timeoutMs: number;
  headRequest: boolean;
  /**
   * Short-lived connections: who closes first. `server` (default): the request says
   * `Connection: close` and the client waits for the server's FIN (the server holds TIME_WAIT,
   * as with real HTTP/1.1 clients); `client`: the client closes right after the response (the
   * client holds TIME_WAIT and can run out of ephemeral ports).
   */
  close?: 'server' | 'client';
}

export interface Exchange extends ExchangeTiming {
  response?: HttpResponse;
  error?: string;
  phase?: ExchangePhase;
  /** TLS, first request of a connection: the handshake's result (also when it failed verification). */
  tls?: TlsInfo;
  /** A TLS error kind's exact problem (dates, names, alert). */
  tlsError?: string;
}

type Done = (ex: Exchange) => void;

/** A closing connection (its response is complete) waits this long at most for the server's FIN. */
const CLOSE_GRACE_MS = 2000;

/**
 * Local ports held by this process's own closing connections (response done, waiting for the
 * server's FIN). A connect that fails with EADDRNOTAVAIL while some are held waits for one to
 * close and tries again, as `curl` in a loop would have closed before connecting again: only when
 * none of ours is about to free a port is `no-local-port` reported (real exhaustion: TIME_WAIT,
 * a narrow ip_local_port_range, other programs).
 */
let portsHeld = 0;
let portWaiters: (() => void)[] = [];
function portReleased(): void {
  portsHeld--;
  const waiters = portWaiters;
  portWaiters = [];
  for (const w of waiters) w();
}
/** Retries per request after EADDRNOTAVAIL (each waits for one of our own ports to be released). */
const PORT_RETRIES = 8;

export class ProbeConnection implements SocketOwner {
  localPort = 0;
  requests = 0;
  /** False once the socket closed or is closing: open a new connection for the next request. */
  usable = true;
  openedAt = 0;
  /** The request in flight fails as a timeout at this time (send time + timeout: a whole-request deadline). */
  private deadlineAt = Infinity;
  /** Once the response is complete on a closing connection: drop the socket after this time. */
  private closeBy = Infinity;
  private socket: net.Socket | null = null;
  private connected = false;
  /** TLS: the TCP connection is up (the handshake may still be under way). */
  private tcpConnected = false;
  private connectMs: number | undefined;
  private tlsMs: number | undefined;
  private tcpAt = 0;
  private tls: TlsInfo | undefined;
  private tlsError: string | undefined;
  private readonly parser: ResponseParser;
  private done: Done | null = null;
  private t0 = 0;
  private tWrite = 0;
  private tFirst = 0;
  private lastEnd = 0;
  private payload: Buffer | null = null;
  private failed: string | null = null;
  /** This connection's socket is closing and holds a local port (counted in portsHeld). */
  private holdingPort = false;
  /** connect() failed with EADDRNOTAVAIL and is waiting for one of our own ports: retry on close. */
  private retryConnect = false;
  private waitingPort = false;
  private portRetries = 0;

  constructor(
    readonly id: number,
    readonly endpoint: Endpoint,
    /** Plain TCP: recycled Socket objects (TLS sockets are always new). */
    private readonly pool?: SocketPool,
  ) {
    this.parser = new ResponseParser(16 * 1024, endpoint.headRequest);
  }

  get busy(): boolean {
    return this.done !== null;
  }

  /** True while the socket is still open (in use, idle, or waiting for the server's FIN). */
  get open(): boolean {
    return this.socket !== null && !this.socket.destroyed;
  }

  /** Sends one request; `done` is called exactly once (unless `destroy()` comes first). `now`: the caller's performance.now(), if it just read it. */
  send(payload: Buffer, done: Done, now = performance.now()): void {
    this.t0 = now;
    this.deadlineAt = this.t0 + this.endpoint.timeoutMs;
    this.portRetries = 0;
    this.done = done;
    this.parser.reset();
    this.tFirst = 0;
    if (!this.socket) {
      this.payload = payload;
      this.connect();
      return;
    }
    this.tWrite = this.t0;
    this.socket.write(payload);
  }

  destroy(): void {
    this.usable = false;
    this.done = null;
    this.waitingPort = false;
    this.socket?.destroy();
  }

  /**
   * The engine's coarse tick: a request in flight past its deadline (send + timeout, however
   * many bytes trickled in) fails with a timeout kind naming how far it got; a closing
   * connection whose server never sent its FIN is dropped.
   * Returns true once the socket is gone (the engine can forget this connection).
   */
  expired(now: number): boolean {
    const s = this.socket;
    if (this.waitingPort && this.done && now >= this.deadlineAt) {
      this.waitingPort = false;
      this.usable = false;
      this.finish(undefined, 'no-local-port', 'connect');
      return true;
    }
    if (!s || s.destroyed) return this.done === null;
    if (this.done) {
      if (now >= this.deadlineAt) {
        this.usable = false;
        this.finish(undefined, this.timeoutKind(), this.phase());
        s.destroy();
        return true;
      }
      return false;
    }
    if (now >= this.closeBy) {
      s.destroy();
      return true;
    }
    return false;
  }

  /** Where a request that fails now failed: connecting (TCP), in the TLS handshake, or after the request was sent. */
  private phase(): ExchangePhase {
    return this.connected ? 'response' : this.tcpConnected ? 'tls' : 'connect';
  }

  /** `timeout` (no byte of an answer, or no connection), `head-timeout` (head incomplete), `body-timeout`. */
  private timeoutKind(): string {
    if (!this.connected) return 'timeout';
    switch (this.parser.progress) {
      case 'head':
        return 'head-timeout';
      case 'body':
        return 'body-timeout';
      default:
        return 'timeout';
    }
  }

  private connect(): void {
    const ep = this.endpoint;
    this.openedAt = this.t0;
    if (!ep.tls && this.pool) {
      const s = this.pool.take(this);
      this.socket = s;
      s.connect({ host: ep.address, port: ep.port, localAddress: ep.localAddress });
      return;
    }
    const s = ep.tls ? tls.connect(tlsConnectOptions(ep.tls, ep.address, ep.port, ep.localAddress, ALPN_HTTP1)) : net.connect({ host: ep.address, port: ep.port, localAddress: ep.localAddress, allowHalfOpen: true });
    this.socket = s;
    if (ep.tls) {
      s.once('connect', () => this.onTcpConnect());
      s.once('secureConnect', () => this.onSecureConnect(s as tls.TLSSocket, ep.tls!));
    } else s.on('connect', () => this.onConnect());
    s.on('data', (d: Buffer) => this.onData(d, d.length));
    s.on('end', () => this.onEnd());
    s.on('error', (e) => this.onError(e));
    s.on('close', () => this.onClose());
  }

  /** TLS: the TCP handshake is done (its time is the connect time); the TLS handshake starts. */
  private onTcpConnect(): void {
    this.tcpConnected = true;
    this.tcpAt = performance.now();
    this.connectMs = this.tcpAt - this.t0;
    this.localPort = this.socket?.localPort ?? 0;
  }

  /** TLS handshake done: note what it showed, verify the certificate (unless -k), then send. */
  private onSecureConnect(s: tls.TLSSocket, settings: TlsSettings): void {
    const now = performance.now();
    if (!this.tcpConnected) this.onTcpConnect();
    this.tlsMs = now - this.tcpAt;
    const info = tlsInfo(s, settings.servername);
    const problems = verifyPeer(s, settings);
    info.verify = problems.map((p) => p.kind);
    this.tls = info;
    if (problems.length && !settings.insecure) {
      this.tlsError = problems.map((p) => p.detail).join('; ');
      this.usable = false;
      this.failed = problems[0].kind;
      this.finish(undefined, problems[0].kind, 'tls');
      s.destroy();
      return;
    }
    this.onConnect();
  }

  /** Socket events (also forwarded by the SocketPool while this connection owns the socket). */
  onConnect(): void {
    const s = this.socket!;
    this.connected = true;
    this.localPort = s.localPort ?? 0;
    const now = performance.now();
    if (!this.endpoint.tls) this.connectMs = now - this.t0;
    this.tWrite = now;
    if (this.payload) s.write(this.payload);
    this.payload = null;
  }

  onEnd(): void {
    const s = this.socket;
    this.closed(null);
    s?.destroy();
  }

  onError(e: Error): void {
    if ((e as NodeJS.ErrnoException).code === 'EADDRNOTAVAIL' && !this.connected && this.done && portsHeld > 0 && this.portRetries < PORT_RETRIES) {
      this.retryConnect = true; // wait for one of our closing sockets to free its port (see portsHeld)
      return;
    }
    if (this.tcpConnected && !this.connected) {
      const f = classifyHandshakeError(e);
      if (f) {
        this.tlsError = f.detail;
        this.closed(f.kind);
        return;
      }
    }
    this.closed(errorKind(e));
  }

  onClose(): void {
    if (this.holdingPort) {
      this.holdingPort = false;
      portReleased();
    }
    if (this.retryConnect) {
      this.retryConnect = false;
      this.socket = null;
      this.portRetries++;
      const retry = (): void => {
        if (!this.waitingPort || !this.done) return;
        this.waitingPort = false;
        this.t0 = performance.now(); // the wait for our own port is not the network's connect time
        this.connect();
      };
      this.waitingPort = true;
      if (portsHeld > 0) portWaiters.push(retry);
      else queueMicrotask(retry);
      return;
    }
    this.closed(null);
    // The socket may now be recycled for another connection: forget it.
    this.socket = null;
  }

  /** `d[0..n)`: the bytes read (for pooled sockets `d` is the thread's shared read buffer: the parser copies what it keeps). */
  onData(d: Buffer, n: number): void {
    if (!this.done) return; // bytes while idle: ignore (the next request's parser starts clean)
    if (this.tFirst === 0) this.tFirst = performance.now();
    let complete: boolean;
    try {
      complete = this.parser.feed(n === d.length ? d : d.subarray(0, n));
    } catch (e) {
      this.usable = false;
      this.finish(undefined, e instanceof ParseError ? e.kind : 'bad-response', 'response');
      this.socket?.destroy();
      return;
    }
    if (complete) {
      const res = this.parser.response!;
      if (res.close) this.usable = false;
      this.finish(res, undefined, undefined);
    }
  }

  private closed(kind: string | null): void {
    this.usable = false;
    if (kind && !this.failed) this.failed = kind;
    if (!this.done) return;
    if (!kind && this.parser.end()) {
      this.finish(this.parser.response!, undefined, undefined);
      return;
    }
    const k = kind ?? this.failed ?? 'closed';
    this.finish(undefined, this.connected || this.tcpConnected ? k : k === 'closed' ? 'reset' : k, this.phase());
  }

  private finish(response: HttpResponse | undefined, error: string | undefined, phase: ExchangePhase | undefined): void {
    const done = this.done;
    if (!done) return;
    this.done = null;
    const now = performance.now();
    const reused = this.requests > 0;
    this.requests++;
    const ex: Exchange = { reused, seq: this.requests, totalMs: now - this.t0 };
    if (response) ex.response = response;
    if (error !== undefined) {
      ex.error = error;
      ex.phase = phase;
    }
    if (reused) ex.idleMs = this.t0 - this.lastEnd;
    else {
      if (this.connectMs !== undefined) ex.connectMs = this.connectMs;
      if (this.tlsMs !== undefined) ex.tlsMs = this.tlsMs;
      if (this.tls) ex.tls = this.tls;
      if (error !== undefined && this.tlsError !== undefined) ex.tlsError = this.tlsError;
    }
    if (this.tFirst) ex.ttfbMs = this.tFirst - this.tWrite;
    this.lastEnd = now;
    const s = this.socket;
    if (this.endpoint.close === 'client') this.usable = false; // one request, then the client closes first
    if (!this.usable && s && !s.destroyed) {
      if (error !== undefined || this.endpoint.close === 'client') s.destroy();
      else {
        // Closing (short-lived, or the server said close): the server closes first (its FIN is
        // usually already queued), so the TIME_WAIT stays on the server side; drop it if it never comes.
        this.closeBy = now + Math.min(this.endpoint.timeoutMs, CLOSE_GRACE_MS);
        this.holdingPort = true;
        portsHeld++;
        s.unref();
      }
    }
    done(ex);
  }
}
