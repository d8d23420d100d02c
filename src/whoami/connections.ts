/**
 * Per-connection state, kept on the socket under a symbol (one object per accepted connection,
 * nothing allocated per request), and the stable list of reasons a connection closed.
 */
import type { Socket } from 'node:net';

/** Who closed a connection. Stable: appears in `--log` lines and in `/metrics` labels. */
export const CLOSE_REASONS = [
  'client', // the peer sent FIN
  'client-reset', // the peer reset the connection (or it broke under us)
  'client-header', // the request asked for it (Connection: close, HTTP/1.0); the server closed after answering
  'server-idle', // --idle-timeout expired on an idle keep-alive connection
  'server-max-requests', // --max-requests-per-conn reached
  'server-close-param', // ?close=1
  'server-headers-timeout', // --headers-timeout: request headers did not arrive in time (408)
  'server-bad-request', // malformed request (400) or oversized headers (431)
  'drain', // SIGTERM/SIGINT drain
  'shutdown', // immediate close
  'unknown',
] as const;
export type CloseReason = (typeof CLOSE_REASONS)[number];

export const CONN = Symbol('lbdiag.conn');

export interface ConnState {
  id: number;
  /** Requests received on this connection (the last one's seq). */
  seq: number;
  /** Responses completed on this connection; seq - done = requests in flight. */
  done: number;
  openedAt: number;
  closedBy: CloseReason | null;
  remoteAddress: string;
  remotePort: number;
  /** Filled on first use (getsockname is a system call). */
  localAddress: string | null;
  localPort: number;
}

export type ConnSocket = Socket & { [CONN]: ConnState };

/** Strips the IPv4-mapped prefix a dual-stack listener reports (`::ffff:127.0.0.1`). */
export function plainAddress(address: string | undefined): string {
  if (!address) return '';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

export function hostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

export function localOf(socket: ConnSocket): ConnState {
  const c = socket[CONN];
  if (c.localAddress === null) {
    c.localAddress = plainAddress(socket.localAddress);
    c.localPort = socket.localPort ?? 0;
  }
  return c;
}
