/**
 * One client connection of the probe: a raw TCP (or TLS) socket carrying one request at a time
 * (pipelining 1), timed with socket events: connect, first response byte, end of response.
 * Callbacks, not promises, on the hot path.
 */
import net from 'node:net';
import tls from 'node:tls';
import { performance } from 'node:perf_hooks';
import { errorKind } from '../report/errors.js';
import { ResponseParser, type HttpResponse } from './http-response.js';

export interface Endpoint {
  address: string;
  port: number;
  /** TLS: SNI name and whether to verify the certificate. */
  tls?: { servername: string; rejectUnauthorized: boolean };
  timeoutMs: number;
  headRequest: boolean;
}

export interface Exchange {
  reused: boolean;
  seq: number;
  idleMs?: number;
  connectMs?: number;
  ttfbMs?: number;
  totalMs: number;
  response?: HttpResponse;
  error?: string;
  phase?: 'connect' | 'response';
}

type Done = (ex: Exchange) => void;

export class ProbeConnection {
  localPort = 0;
  requests = 0;
  /** False once the socket closed or is closing: open a new connection for the next request. */
  usable = true;
  openedAt = 0;
  private socket: net.Socket | null = null;
  private connected = false;
  private connectMs: number | undefined;
  private parser: ResponseParser | null = null;
  private done: Done | null = null;
  private t0 = 0;
  private tWrite = 0;
  private tFirst = 0;
  private lastEnd = 0;
  private payload: Buffer | null = null;
  private failed: string | null = null;

  constructor(
    readonly id: number,
    readonly endpoint: Endpoint,
  ) {}

  get busy(): boolean {
    return this.done !== null;
  }

  /** Sends one request; `done` is called exactly once (unless `destroy()` comes first). */
  send(payload: Buffer, done: Done): void {
    this.t0 = performance.now();
    this.done = done;
    this.parser = new ResponseParser(16 * 1024, this.endpoint.headRequest);
    this.tFirst = 0;
    if (!this.socket) {
      this.payload = payload;
      this.open();
      return;
    }
    this.tWrite = this.t0;
    // The socket's inactivity timeout (set once at open, re-armed by every read and write) bounds
    // each request; an idle connection's timeout is ignored (see open()).
    this.socket.write(payload);
  }

  destroy(): void {
    this.usable = false;
    this.done = null;
    this.socket?.destroy();
  }

  private open(): void {
    const ep = this.endpoint;
    this.openedAt = this.t0;
    const s = ep.tls
      ? tls.connect({ host: ep.address, port: ep.port, servername: ep.tls.servername, rejectUnauthorized: ep.tls.rejectUnauthorized, timeout: ep.timeoutMs })
      : net.connect({ host: ep.address, port: ep.port, timeout: ep.timeoutMs });
    this.socket = s;
    s.on(ep.tls ? 'secureConnect' : 'connect', () => {
      this.connected = true;
      this.localPort = s.localPort ?? 0;
      this.connectMs = performance.now() - this.t0;
      this.tWrite = performance.now();
      if (this.payload) s.write(this.payload);
      this.payload = null;
    });
    s.on('data', (d: Buffer) => this.onData(d));
    s.on('end', () => this.onClose(null));
    s.on('error', (e) => this.onClose(errorKind(e)));
    s.on('close', () => this.onClose(null));
    s.on('timeout', () => {
      if (this.done) {
        this.onClose('timeout');
        s.destroy();
      } else if (!this.usable) s.destroy();
    });
  }

  private onData(d: Buffer): void {
    if (!this.done || !this.parser) return; // bytes while idle: ignore (the next request's parser starts clean)
    if (this.tFirst === 0) this.tFirst = performance.now();
    let complete: boolean;
    try {
      complete = this.parser.feed(d);
    } catch {
      this.usable = false;
      this.finish({ error: 'bad-response', phase: 'response' });
      this.socket?.destroy();
      return;
    }
    if (complete) {
      const res = this.parser.response!;
      if (res.close) this.usable = false;
      this.finish({ response: res });
    }
  }

  private onClose(kind: string | null): void {
    this.usable = false;
    if (kind && !this.failed) this.failed = kind;
    if (!this.done) return;
    if (this.parser && !kind && this.parser.end()) {
      this.finish({ response: this.parser.response! });
      return;
    }
    const k = kind ?? this.failed ?? 'closed';
    this.finish({ error: this.connected ? k : k === 'closed' ? 'reset' : k, phase: this.connected ? 'response' : 'connect' });
  }

  private finish(result: { response?: HttpResponse; error?: string; phase?: 'connect' | 'response' }): void {
    const done = this.done;
    if (!done) return;
    this.done = null;
    const now = performance.now();
    const reused = this.requests > 0;
    this.requests++;
    const ex: Exchange = {
      reused,
      seq: this.requests,
      totalMs: now - this.t0,
      ...result,
    };
    if (reused) ex.idleMs = this.t0 - this.lastEnd;
    else if (this.connectMs !== undefined) ex.connectMs = this.connectMs;
    else if (result.phase === 'connect') ex.connectMs = undefined;
    if (this.tFirst) ex.ttfbMs = this.tFirst - this.tWrite;
    this.lastEnd = now;
    if (this.usable) {
      /* keep the inactivity timeout armed: it only acts while a request is in flight */
    } else if (this.socket && !this.socket.destroyed) {
      // Closing (short-lived, or the server said close): give the server's FIN a moment, then drop it.
      this.socket.setTimeout(Math.min(this.endpoint.timeoutMs, 2000));
      this.socket.unref();
      if (result.error) this.socket.destroy();
    }
    done(ex);
  }
}
