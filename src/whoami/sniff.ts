/**
 * One port, two protocols: the first bytes of a cleartext connection tell HTTP/2 by prior
 * knowledge (RFC 9113 §3.4: the 24-byte preface `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`) from HTTP/1.x.
 * The decision is taken on the first byte that differs from the preface: an HTTP/1.x request
 * ("GET ...") is decided on its first byte, never delayed.
 * For HTTP/2 the bytes read are put back (unshift) and the socket paused before it is handed on,
 * so the node:http2 session reads them as if it had accepted the socket itself. For HTTP/1.x
 * they are handed to the caller instead, to give to node:http as its first 'data' right after
 * the connection: no pause, unshift, resume and second read pass for the common case.
 * Per connection: one small state object on the socket; the listeners are shared functions
 * (the socket is `this`), not closures.
 */
import type { Socket } from 'node:net';

export const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export type Sniffed = 'h2c' | 'http/1.1';

/** Where the sniff's outcome goes (one object per server, shared by its connections). */
export interface SniffTarget {
  /**
   * The protocol is known. `h2c`: the socket is paused with the bytes read put back, `first` is
   * null. `http/1.1`: `first` holds the bytes read so far (what node:http must parse first); the
   * socket is left flowing.
   */
  sniffed(socket: Socket, protocol: Sniffed, first: Buffer | null): void;
  /** No byte came within the timeout (the socket is left to the target). */
  silent(socket: Socket): void;
  /** The socket broke (error) before the decision; it is destroyed. */
  broken(socket: Socket): void;
}

const STATE = Symbol('sniff');

interface SniffState {
  target: SniffTarget;
  got: Buffer | null;
  timer: NodeJS.Timeout | null;
}

type SniffSocket = Socket & { [STATE]: SniffState | null };

/**
 * Calls `target.sniffed` once; or `target.silent` when no byte came within `timeoutMs` (the socket
 * is left to the caller) and `target.broken` when it broke first (nothing when the peer closed
 * first: the socket is destroyed).
 */
export function sniffProtocol(socket: Socket, timeoutMs: number, target: SniffTarget): void {
  const s = socket as SniffSocket;
  s[STATE] = { target, got: null, timer: timeoutMs > 0 ? setTimeout(onTimeout, timeoutMs, s) : null };
  s.on('data', onData);
  s.on('error', onError);
  s.on('end', onEnd);
}

/** Stops sniffing: listeners off, timer cleared; returns the state (null if already stopped). */
function stop(s: SniffSocket): SniffState | null {
  const st = s[STATE];
  if (!st) return null;
  s[STATE] = null;
  s.off('data', onData);
  s.off('error', onError);
  s.off('end', onEnd);
  if (st.timer) clearTimeout(st.timer);
  return st;
}

function decide(s: SniffSocket, p: Sniffed): void {
  const st = stop(s);
  if (!st) return;
  if (p === 'h2c') {
    s.pause();
    if (st.got) s.unshift(st.got);
    st.target.sniffed(s, p, null);
  } else st.target.sniffed(s, p, st.got);
}

function onData(this: SniffSocket, d: Buffer): void {
  const st = this[STATE];
  if (!st) return;
  const got = (st.got = st.got === null ? d : Buffer.concat([st.got, d]));
  const n = Math.min(got.length, H2_PREFACE.length);
  if (!prefacePrefix(got, n)) decide(this, 'http/1.1');
  else if (n === H2_PREFACE.length) decide(this, 'h2c');
  // else: a prefix of the preface so far; wait for more.
}

/** got[0..n) equals the preface's first n bytes (a loop: most requests differ at byte 0, and Buffer#compare's binding costs more). */
function prefacePrefix(got: Buffer, n: number): boolean {
  for (let i = 0; i < n; i++) if (got[i] !== H2_PREFACE[i]) return false;
  return true;
}

function onError(this: SniffSocket): void {
  const st = stop(this);
  if (st) st.target.broken(this);
  this.destroy();
}

function onEnd(this: SniffSocket): void {
  // The peer closed while what it sent was still a prefix of the preface (or nothing): there is
  // no request to answer, and bytes cannot be put back after 'end'. A plain close.
  stop(this);
  this.destroy();
}

function onTimeout(s: SniffSocket): void {
  const st = s[STATE];
  if (!st) return;
  st.timer = null;
  if (st.got) decide(s, 'http/1.1'); // a prefix of the preface that never completed: let node:http judge it
  else {
    stop(s);
    st.target.silent(s);
  }
}
