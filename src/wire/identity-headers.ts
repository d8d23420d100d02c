/**
 * The whoami ↔ probe wire contract: the response headers lbdiag whoami sends on every answer, the
 * `<connection id>;seq=<n>` value of X-Lbdiag-Conn (one formatter, one parser), and the JSON answer's
 * type. whoami writes them, the probe (and the capture identity rules) read them, the lab's own tiny
 * backends imitate them. Header names are given in their canonical case (as sent); `*_KEY` are the
 * lower-case forms node:http and the probe's parser use as object keys. Imports nothing.
 */

export const BACKEND_HEADER = 'X-Lbdiag-Backend';
export const INSTANCE_HEADER = 'X-Lbdiag-Instance';
export const CONN_HEADER = 'X-Lbdiag-Conn';
export const PID_HEADER = 'X-Lbdiag-Pid';
export const STARTED_HEADER = 'X-Lbdiag-Started';
/** Request header: a POST /health carrying it is not a cross-site form (see whoami/health.ts). */
export const HEALTH_HEADER = 'X-Lbdiag-Health';
/** Set by the lab's haproxy (http mode) on the answers of one reload generation ("old" / "new"). */
export const GENERATION_HEADER = 'X-Lbdiag-Generation';

export const BACKEND_KEY = 'x-lbdiag-backend';
export const INSTANCE_KEY = 'x-lbdiag-instance';
export const CONN_KEY = 'x-lbdiag-conn';
export const PID_KEY = 'x-lbdiag-pid';
export const STARTED_KEY = 'x-lbdiag-started';
export const HEALTH_KEY = 'x-lbdiag-health';
export const GENERATION_KEY = 'x-lbdiag-generation';

/** X-Lbdiag-Conn's value: the server's connection id and the n-th request on it (1-based). */
export function formatConn(id: number | string, seq: number): string {
  return id + ';seq=' + seq;
}

/**
 * Reads an X-Lbdiag-Conn value. Lenient as the probe has always been: spaces around the parts,
 * a missing `;seq=` (the id alone) and trailing text are accepted; null when there is no id.
 */
export function parseConn(value: string): { conn: string; seq?: number } | null {
  // What lbdiag whoami sends (digits;seq=digits), read without the regular expression; anything else by it.
  const semi = value.indexOf(';seq=');
  if (semi > 0 && semi + 5 < value.length && value.length - semi <= 20 && digitsOnly(value, 0, semi) && digitsOnly(value, semi + 5, value.length)) {
    return { conn: value.slice(0, semi), seq: Number(value.slice(semi + 5)) };
  }
  const m = /^\s*([^;\s]+)\s*(?:;\s*seq=(\d+))?/.exec(value);
  if (!m) return null;
  return m[2] ? { conn: m[1], seq: Number(m[2]) } : { conn: m[1] };
}

function digitsOnly(s: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x30 || c > 0x39) return false;
  }
  return true;
}

/** X-Lbdiag-Started's value: integer Unix epoch milliseconds; undefined when absent or malformed. */
export function parseStarted(value: string | undefined): number | undefined {
  return value !== undefined && /^\s*\d{1,16}\s*$/.test(value) ? Number(value) : undefined;
}

// ---- the JSON answer (GET /api, or / with Accept: application/json / ?format=json) ------------

export interface Kubernetes {
  pod?: string;
  namespace?: string;
  node?: string;
}

export interface InterfaceAddress {
  interface: string;
  address: string;
  family: 'IPv4' | 'IPv6';
}

export interface Forwarded {
  xForwardedFor: string[];
  forwarded: string | null;
  via: string | null;
  xRealIp: string | null;
  xForwardedProto: string | null;
}

/** The server settings the answer reports (whoami's --idle-timeout, --max-requests-per-conn, ...). */
export interface AnswerSettings {
  idleTimeoutMs: number;
  maxRequestsPerConn: number | null;
  headersTimeoutMs: number;
  drainDelayMs: number;
  /** HTTP/2: GOAWAY after this many streams per connection (absent from older whoami versions). */
  maxStreamsPerConn?: number | null;
  /** GOAWAY / Connection: close once a connection is this old (absent from older whoami versions). */
  maxConnAgeMs?: number | null;
}

/** Request headers as node:http gives them (a name to a value, or several for Set-Cookie-like ones). */
export type AnswerHeaders = Record<string, string | string[] | undefined>;

/** How a request reached whoami: HTTP/1.x (plain or TLS), HTTP/2 by prior knowledge (cleartext), HTTP/2 over TLS (ALPN h2). */
export type WhoamiProtocol = 'http/1.1' | 'h2c' | 'h2';

/** TLS details of the connection (whoami --tls). */
export interface AnswerTls {
  /** The name the client asked for (SNI), null when it sent none (e.g. it connected to an IP address). */
  servername: string | null;
  /** The ALPN protocol agreed ('h2', 'http/1.1'), null when the client offered none. */
  alpn: string | null;
  /** 'TLSv1.3', 'TLSv1.2', ... */
  version: string | null;
  /** OpenSSL cipher name, e.g. 'TLS_AES_256_GCM_SHA384'. */
  cipher: string | null;
}

export interface WhoamiAnswer {
  name: string;
  hostname: string;
  pid: number;
  instance: string;
  started: number;
  version: string;
  startedAt: string;
  uptimeMs: number;
  ips: InterfaceAddress[];
  kubernetes?: Kubernetes;
  request: { method: string; url: string; httpVersion: string; host: string | null; headers: AnswerHeaders };
  connection: {
    id: number;
    seq: number;
    ageMs: number;
    local: { address: string; port: number };
    remote: { address: string; port: number };
  };
  forwarded: Forwarded;
  server: { state: 'serving' | 'draining' } & AnswerSettings;
  /** Added with HTTP/2 support; absent in answers from older whoami versions (read as 'http/1.1'). */
  protocol?: WhoamiProtocol;
  /** HTTP/2 stream id of this request (odd, client-initiated); absent over HTTP/1.1. */
  stream?: number;
  /** Present when the connection is TLS (whoami --tls). */
  tls?: AnswerTls;
  padding?: string;
}
