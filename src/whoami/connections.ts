/**
 * Per-connection state, kept on the socket under a symbol (one object per accepted connection,
 * nothing allocated per request), and the stable list of reasons a connection closed.
 */
import type { Socket } from 'node:net';
import type { Http2Session } from 'node:http2';
import type { WhoamiProtocol, AnswerTls } from '../wire/identity-headers.js';

/** Who closed a connection. Stable: appears in `--log` lines and in `/metrics` labels. */
export const CLOSE_REASONS = [
  'client', // the peer sent FIN
  'client-reset', // the peer reset the connection (or it broke under us)
  'client-header', // the request asked for it (Connection: close, HTTP/1.0); the server closed after answering
  'server-idle', // --idle-timeout expired on an idle keep-alive connection
  'server-max-requests', // --max-requests-per-conn (or --max-streams-per-conn) reached
  'server-close-param', // ?close=1
  'server-headers-timeout', // --headers-timeout: request headers did not arrive in time (408)
  'server-bad-request', // malformed request (400) or oversized headers (431)
  'drain', // SIGTERM/SIGINT drain
  'shutdown', // immediate close
  'server-max-age', // --max-conn-age reached (HTTP/2: GOAWAY; HTTP/1.1: Connection: close on the next answer)
  'client-protocol-error', // HTTP/2: the client broke the protocol (bad frames, flood); the session was torn down
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
  /** From the listener when it is bound to one address, else filled on first use (getsockname is a system call). */
  localAddress: string | null;
  localPort: number;
  /** `remote: ...\nlocal: ...\n` of the text answer, built on the connection's first text answer. */
  addrLines: string | null;
  /** `?wait=` requests pending on this connection (cancelled when it closes), null when none. */
  waits: { timer: NodeJS.Timeout | null }[] | null;
  /** The parser rejected input after a request was dispatched and a 400 answered it: no other answer follows. */
  broken: boolean;
  /** The open connections form a doubly linked list through their states (see OpenConnections). */
  socket: ConnSocket;
  /** Decided when the first bytes arrive (HTTP/2 preface or not) or by TLS ALPN. */
  protocol: WhoamiProtocol;
  /** The HTTP/2 session on this connection, once it is one. */
  session: Http2Session | null;
  /** TLS details (--tls), read once after the handshake. */
  tls: AnswerTls | null;
  prev: ConnState | null;
  next: ConnState | null;
}

export type ConnSocket = Socket & { [CONN]: ConnState };

/**
 * The open connections, linked through their states: O(1) add and remove with no hash table.
 * Measured against a Set<Socket> in short-connection mode (one connection per request), the
 * Set cost about 5 us of server CPU per connection more (wrk -H 'Connection: close', 7 rounds).
 */
export class OpenConnections {
  private head: ConnState | null = null;
  size = 0;

  add(c: ConnState): void {
    c.prev = null;
    c.next = this.head;
    if (this.head) this.head.prev = c;
    this.head = c;
    this.size++;
  }

  /** Idempotent. */
  remove(c: ConnState): void {
    if (c.prev) c.prev.next = c.next;
    else if (this.head === c) this.head = c.next;
    else return; // not in the list
    if (c.next) c.next.prev = c.prev;
    c.prev = null;
    c.next = null;
    this.size--;
  }

  /** A snapshot, so callers may destroy sockets while walking it. */
  list(): ConnState[] {
    const out: ConnState[] = [];
    for (let c = this.head; c; c = c.next) out.push(c);
    return out;
  }
}

/** Strips the IPv4-mapped prefix a dual-stack listener reports (`::ffff:127.0.0.1`). */
export function plainAddress(address: string | undefined): string {
  if (!address) return '';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

export function hostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

/** The address every connection accepted by a listener bound to `address` has, or null for a wildcard listener. */
export function boundLocal(address: string): string | null {
  return address === '::' || address === '0.0.0.0' || address === '' ? null : plainAddress(address);
}

export function localOf(socket: ConnSocket): ConnState {
  const c = socket[CONN];
  if (c.localAddress === null) {
    c.localAddress = plainAddress(socket.localAddress);
    c.localPort = socket.localPort ?? 0;
  }
  return c;
}
