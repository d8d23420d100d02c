/**
 * What a TCP stream that is not HTTP/1.x speaks, from its first payload, so a capture of HTTP/2 or
 * TLS traffic says why its requests are not tallied instead of saying nothing: cleartext HTTP/2
 * with prior knowledge (the client's connection preface, RFC 9113 §3.4: gRPC, `lbdiag probe
 * --http2`, h2c behind a balancer) and TLS (a record header: handshake at the start of a
 * connection, application data or an alert when the capture began mid-connection).
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
