/**
 * Malformed input: what the HTTP parser rejects (bad request line or headers, oversized headers,
 * a bad chunk, headers that never arrive). Answered with 400/431/408 and the identity headers
 * (written as raw bytes: the parser holds no response object here), then the connection closes;
 * or closed without an answer when an answer is already being written. The server never crashes.
 */
import type { Duplex } from 'node:stream';
import type { ServerResponse } from 'node:http';
import { CONN, type CloseReason, type ConnSocket } from './connections.js';
import type { RequestLog } from './log.js';
import type { Metrics } from './metrics.js';
import { formatConn } from '../wire/identity-headers.js';
import { TEXT } from './answers.js';

/** The parts of the whoami server a malformed-input answer needs. */
export interface MalformedContext {
  readonly metrics: Metrics;
  readonly log: RequestLog | null;
  /** The identity headers as raw bytes: before the X-Lbdiag-Conn value, and after it. */
  readonly rawIdentityHead: string;
  readonly rawIdentityTail: string;
}

export function answerMalformed(w: MalformedContext, err: NodeJS.ErrnoException, socket: Duplex): void {
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
      w.rawIdentityHead +
      formatConn(c.id, seq) +
      w.rawIdentityTail +
      `Content-Type: ${TEXT}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
  setTimeout(destroySocket, 1000, socket).unref();
  w.metrics.countResponse(status);
  if (w.log) w.log.request({ conn: c.id, seq, remoteAddress: c.remoteAddress, remotePort: c.remotePort, method: '-', path: '-', status, ms: 0, closing: true });
}

function destroySocket(socket: Duplex): void {
  socket.destroy();
}
