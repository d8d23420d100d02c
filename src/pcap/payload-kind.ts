/**
 * What a TCP stream speaks, from its first payload (no HTTP parser needed, so a `--no-http` run
 * uses it too):
 * - HTTP/1.x or not (`looksLikeHttp`: the HTTP layer parses only those streams);
 * - for the others, so that a capture of HTTP/2 or TLS traffic says why its requests are not
 *   tallied instead of saying nothing: cleartext HTTP/2 with prior knowledge (the client's
 *   connection preface, RFC 9113 §3.4: gRPC, `lbdiag probe --http2`, h2c behind a balancer) and
 *   TLS (a record header: handshake at the start of a connection, application data or an alert
 *   when the capture began mid-connection);
 * - which side asks (`requesterOf`), when the protocol is one where a side asks and the other
 *   answers: the tracker claims that a gap was a wait for an answer only then.
 */

export const KIND_OTHER = 0;
export const KIND_HTTP2 = 1;
export const KIND_TLS = 2;

/** "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n": its first 14 bytes are enough to tell. */
const PREFACE = Buffer.from('PRI * HTTP/2.0');

/** The kind of the stream whose first payload is buf[pos, end). */
export function payloadKind(buf: Buffer, pos: number, end: number): number {
  const n = end - pos;
  if (n >= PREFACE.length && buf[pos] === 0x50 && buf.compare(PREFACE, 0, PREFACE.length, pos, pos + PREFACE.length) === 0) return KIND_HTTP2;
  // TLS record: content type 20-23 (change_cipher_spec, alert, handshake, application_data), version 3.x
  // (SSL 3.0 to TLS 1.3's legacy 3.3), a length no record may exceed (2^14 + 2048).
  if (n >= 5) {
    const type = buf[pos];
    if (type >= 20 && type <= 23 && buf[pos + 1] === 3 && buf[pos + 2] <= 4) {
      const len = (buf[pos + 3] << 8) | buf[pos + 4];
      if (len > 0 && len <= 18432) return KIND_TLS;
    }
  }
  return KIND_OTHER;
}

/** Does a stream's first payload look like the start of an HTTP/1.x request or response? */
export function looksLikeHttp(buf: Buffer, pos: number, end: number): boolean {
  return httpStart(buf, pos, end) !== HTTP_NONE;
}

const HTTP_NONE = 0;
const HTTP_REQUEST = 1;
const HTTP_RESPONSE = 2;

function httpStart(buf: Buffer, pos: number, end: number): number {
  const n = Math.min(end - pos, 24);
  if (n < 4) return HTTP_NONE;
  // "HTTP/1." response
  if (buf[pos] === 0x48 && buf[pos + 1] === 0x54 && buf[pos + 2] === 0x54 && buf[pos + 3] === 0x50) return n >= 7 && buf[pos + 4] === 0x2f && buf[pos + 5] === 0x31 && buf[pos + 6] === 0x2e ? HTTP_RESPONSE : HTTP_NONE;
  // A method token (upper case) followed by a space.
  let i = 0;
  while (i < n && buf[pos + i] >= 0x41 && buf[pos + i] <= 0x5a) i++;
  if (i < 3 || i > 10 || i >= n || buf[pos + i] !== 0x20) return HTTP_NONE;
  // Compared in place (no string per new stream).
  for (let k = 0; k < METHODS.length; k++) {
    const m = METHODS[k];
    if (m.length !== i) continue;
    let j = 0;
    while (j < i && buf[pos + j] === m.charCodeAt(j)) j++;
    if (j === i) return HTTP_REQUEST;
  }
  return HTTP_NONE;
}

const METHODS: readonly string[] = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH', 'PROPFIND', 'PROPPATCH', 'MKCOL', 'COPY', 'MOVE', 'LOCK', 'UNLOCK', 'SEARCH', 'REPORT', 'PURGE'];

/** `Conn.requester`: not decided yet (no payload so far). */
export const REQUESTER_UNKNOWN = 0;
/** `Conn.requester`: A (the connection's first address) asks, B answers. */
export const REQUESTER_A = 1;
/** `Conn.requester`: B asks, A answers. */
export const REQUESTER_B = 2;
/**
 * `Conn.requester`: the first payload does not show a protocol where one side asks and the other
 * answers (OpenFlow, BGP, SMB, a database, TLS or HTTP/2 joined mid-connection...): a side that
 * speaks after a pause may be speaking on its own.
 */
export const REQUESTER_NONE = 3;

/**
 * Who asks on a connection whose first payload is buf[pos, end), sent by A when `fromA`: the
 * sender of an HTTP/1.x request, of the HTTP/2 client preface or of a TLS ClientHello; the other
 * side of an HTTP/1.x response or a TLS ServerHello (the capture missed the question). Anything
 * else: REQUESTER_NONE.
 */
export function requesterOf(buf: Buffer, pos: number, end: number, fromA: boolean): number {
  const sender = fromA ? REQUESTER_A : REQUESTER_B;
  const other = fromA ? REQUESTER_B : REQUESTER_A;
  const http = httpStart(buf, pos, end);
  if (http === HTTP_REQUEST) return sender;
  if (http === HTTP_RESPONSE) return other;
  const kind = payloadKind(buf, pos, end);
  if (kind === KIND_HTTP2) return sender;
  // A TLS handshake record (22) whose first message is a ClientHello (1) or a ServerHello (2).
  if (kind === KIND_TLS && end - pos >= 6 && buf[pos] === 22) {
    if (buf[pos + 5] === 1) return sender;
    if (buf[pos + 5] === 2) return other;
  }
  return REQUESTER_NONE;
}
