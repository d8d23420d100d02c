/**
 * `--log` lines: one per request and one per closed connection, as text or NDJSON
 * (`--log-format json`). Built only when logging is on; the hot path checks one boolean.
 */
import type { CloseReason } from './connections.js';
import { hostPort } from './connections.js';

export type LogFormat = 'text' | 'json';

export interface RequestLine {
  conn: number;
  seq: number;
  remoteAddress: string;
  remotePort: number;
  method: string;
  path: string;
  status: number;
  ms: number;
  closing: boolean;
}

export interface CloseLine {
  conn: number;
  requests: number;
  lifetimeMs: number;
  closedBy: CloseReason;
  remoteAddress: string;
  remotePort: number;
}

export class RequestLog {
  constructor(
    private readonly format: LogFormat,
    private readonly pid: number,
    private readonly withPid: boolean,
    private readonly out: NodeJS.WritableStream = process.stdout,
  ) {}

  request(r: RequestLine): void {
    const time = new Date().toISOString();
    const remote = hostPort(r.remoteAddress, r.remotePort);
    const ms = Math.round(r.ms * 100) / 100;
    if (this.format === 'json') {
      this.out.write(
        JSON.stringify({ time, event: 'request', pid: this.pid, conn: r.conn, seq: r.seq, remote, method: r.method, path: r.path, status: r.status, ms, connection: r.closing ? 'close' : 'keep-alive' }) + '\n',
      );
    } else {
      const pid = this.withPid ? ` pid=${this.pid}` : '';
      this.out.write(`${time} request${pid} conn=${r.conn} seq=${r.seq} remote=${remote} ${r.method} ${r.path} ${r.status} ${ms}ms${r.closing ? ' connection=close' : ''}\n`);
    }
  }

  close(c: CloseLine): void {
    const time = new Date().toISOString();
    const remote = hostPort(c.remoteAddress, c.remotePort);
    const lifetimeMs = Math.round(c.lifetimeMs);
    if (this.format === 'json') {
      this.out.write(JSON.stringify({ time, event: 'close', pid: this.pid, conn: c.conn, requests: c.requests, lifetimeMs, closedBy: c.closedBy, remote }) + '\n');
    } else {
      const pid = this.withPid ? ` pid=${this.pid}` : '';
      this.out.write(`${time} close${pid} conn=${c.conn} requests=${c.requests} lifetime=${lifetimeMs}ms closed-by=${c.closedBy} remote=${remote}\n`);
    }
  }
}
