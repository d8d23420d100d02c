/**
 * What is on the wire when the two ends disagree on the protocol (the evidence of
 * `protocol-mismatch`): an HTTP/2 frame header where an HTTP/1.1 status line was expected, and the
 * reply an HTTP/2 connection preface gets from a server, read on a short diagnostic connection.
 */
import net from 'node:net';
import { tlsConnectOptions, type TlsSettings } from './tls-options.js';
import tls from 'node:tls';

/** HTTP/2 frame types a server sends first: SETTINGS (its preface) and GOAWAY (refusing ours). */
const SETTINGS = 4;
const GOAWAY = 7;

/**
 * True when `buf` at `pos` starts like an HTTP/2 frame a server sends on a new connection: a
 * 9-byte frame header of type SETTINGS or GOAWAY on stream 0, with a length that fits the type
 * (SETTINGS: a multiple of 6; GOAWAY: at least 8). That is what a prior-knowledge h2c server
 * (haproxy `proto h2`, node:http2, grpc-go) answers to an HTTP/1.1 request.
 */
export function looksLikeHttp2Frame(buf: Buffer, pos = 0): boolean {
  if (buf.length - pos < 9) return false;
  const len = (buf[pos] << 16) | (buf[pos + 1] << 8) | buf[pos + 2];
  const type = buf[pos + 3];
  const stream = buf.readUInt32BE(pos + 5) & 0x7fffffff;
  if (stream !== 0 || len > 16_384) return false;
  if (type === SETTINGS) return len % 6 === 0;
  if (type === GOAWAY) return len >= 8;
  return false;
}

/** The frames an HTTP/1.1 request got back, in words ("SETTINGS, GOAWAY (PROTOCOL_ERROR)"). */
export function describeHttp2Frames(buf: Buffer): string {
  const out: string[] = [];
  let pos = 0;
  while (out.length < 4 && buf.length - pos >= 9) {
    const len = (buf[pos] << 16) | (buf[pos + 1] << 8) | buf[pos + 2];
    const type = buf[pos + 3];
    if (type === SETTINGS) out.push(buf[pos + 4] & 1 ? 'SETTINGS ACK' : 'SETTINGS');
    else if (type === GOAWAY) {
      const code = buf.length >= pos + 17 ? buf.readUInt32BE(pos + 13) : -1;
      out.push(`GOAWAY${code >= 0 ? ` (${H2_ERROR_NAMES[code] ?? `error ${code}`})` : ''}`);
    } else out.push(`frame type ${type}`);
    pos += 9 + len;
  }
  return out.join(', ');
}

/** RFC 9113 section 7 error codes. */
export const H2_ERROR_NAMES: Record<number, string> = {
  0: 'NO_ERROR',
  1: 'PROTOCOL_ERROR',
  2: 'INTERNAL_ERROR',
  3: 'FLOW_CONTROL_ERROR',
  4: 'SETTINGS_TIMEOUT',
  5: 'STREAM_CLOSED',
  6: 'FRAME_SIZE_ERROR',
  7: 'REFUSED_STREAM',
  8: 'CANCEL',
  9: 'COMPRESSION_ERROR',
  10: 'CONNECT_ERROR',
  11: 'ENHANCE_YOUR_CALM',
  12: 'INADEQUATE_SECURITY',
  13: 'HTTP_1_1_REQUIRED',
};

/** The client connection preface (RFC 9113 3.4) followed by an empty SETTINGS frame. */
const PREFACE = Buffer.concat([Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'), Buffer.from([0, 0, 0, SETTINGS, 0, 0, 0, 0, 0])]);

export interface PrefaceReply {
  /** `http1`: the reply starts with "HTTP/1."; `http2`: an HTTP/2 frame; `other`: bytes neither; `none`: closed or silent. */
  kind: 'http1' | 'http2' | 'other' | 'none';
  /** The first line (HTTP/1.x) or the frames, printable. */
  seen: string;
  /** https: the protocol ALPN agreed on (false: none). */
  alpn?: string | false;
}

/**
 * Opens one short connection, sends the HTTP/2 preface and reads what comes back (bounded by
 * `timeoutMs`). With `tlsOptions` (from tls-options.ts: SNI, trust, -k), over TLS offering ALPN
 * h2 and http/1.1, and reports the ALPN result. Used once per run after HTTP/2 sessions failed before the server's SETTINGS arrived.
 */
export function readPrefaceReply(host: string, port: number, timeoutMs: number, tlsOptions?: TlsSettings): Promise<PrefaceReply> {
  return new Promise((resolve) => {
    let got = Buffer.alloc(0);
    let alpn: string | false | undefined;
    let settled = false;
    const s = tlsOptions
      ? // The run's SNI and CAs (src/probe/tls-options.ts); not verified: only the protocol is looked at.
        tls.connect(tlsConnectOptions(tlsOptions, host, port, undefined, ['h2', 'http/1.1']))
      : net.connect({ host, port });
    const done = (): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      s.destroy();
      resolve({ ...classify(got), ...(alpn !== undefined ? { alpn } : {}) });
    };
    const timer = setTimeout(done, Math.min(timeoutMs, 3000));
    s.on(tlsOptions ? 'secureConnect' : 'connect', () => {
      if (tlsOptions) alpn = (s as tls.TLSSocket).alpnProtocol ?? false;
      s.write(PREFACE);
    });
    s.on('data', (d: Buffer) => {
      got = Buffer.concat([got, d]);
      if (got.length >= 64 || got.includes(0x0a)) done();
    });
    s.on('error', done);
    s.on('close', done);
  });
}

function classify(b: Buffer): Omit<PrefaceReply, 'alpn'> {
  if (b.length === 0) return { kind: 'none', seen: 'no reply' };
  if (b.subarray(0, 7).toString('latin1') === 'HTTP/1.') {
    const eol = b.indexOf(0x0a);
    return { kind: 'http1', seen: `"${b.toString('latin1', 0, eol > 0 ? eol : Math.min(b.length, 60)).trim()}"` };
  }
  if (looksLikeHttp2Frame(b)) return { kind: 'http2', seen: describeHttp2Frames(b) };
  return { kind: 'other', seen: `"${b.toString('latin1', 0, Math.min(b.length, 40)).replace(/[^\x20-\x7e]/g, '.')}"` };
}
