/**
 * One port, two protocols: the first bytes of a cleartext connection tell HTTP/2 by prior
 * knowledge (RFC 9113 §3.4: the 24-byte preface `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`) from HTTP/1.x.
 * The bytes read to decide are put back (unshift) before the connection is handed on, so the
 * node:http parser or the node:http2 session reads them as if it had accepted the socket itself.
 * The decision is taken on the first byte that differs from the preface: an HTTP/1.x request
 * ("GET ...") is decided on its first byte, never delayed.
 */
import type { Socket } from 'node:net';

export const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

export type Sniffed = 'h2c' | 'http/1.1';

/**
 * Calls `decided` once, with the socket paused and the bytes read so far unshifted; or `silent`
 * when no byte came within `timeoutMs` (the socket is left to the caller) and nothing when the
 * socket closed or broke first (it is destroyed).
 */
export function sniffProtocol(socket: Socket, timeoutMs: number, decided: (p: Sniffed) => void, silent: () => void, broken: () => void): void {
  let got: Buffer | null = null;
  const finish = (p: Sniffed | null): void => {
    socket.off('data', onData);
    socket.off('error', onError);
    socket.off('end', onEnd);
    if (timer) clearTimeout(timer);
    if (p === null) return;
    socket.pause();
    if (got) socket.unshift(got);
    decided(p);
  };
  const onData = (d: Buffer): void => {
    got = got === null ? d : Buffer.concat([got, d]);
    const n = Math.min(got.length, H2_PREFACE.length);
    if (got.compare(H2_PREFACE, 0, n, 0, n) !== 0) finish('http/1.1');
    else if (n === H2_PREFACE.length) finish('h2c');
    // else: a prefix of the preface so far; wait for more.
  };
  const onError = (): void => {
    finish(null);
    broken();
    socket.destroy();
  };
  const onEnd = (): void => {
    // The peer closed while what it sent was still a prefix of the preface (or nothing): there is
    // no request to answer, and bytes cannot be put back after 'end'. A plain close.
    finish(null);
    socket.destroy();
  };
  const timer: NodeJS.Timeout | null =
    timeoutMs > 0
      ? setTimeout(() => {
          if (got) finish('http/1.1'); // a prefix of the preface that never completed: let node:http judge it
          else {
            finish(null);
            silent();
          }
        }, timeoutMs)
      : null;
  socket.on('data', onData);
  socket.on('error', onError);
  socket.on('end', onEnd);
}
