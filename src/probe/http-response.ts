/**
 * A minimal, allocation-light HTTP/1.1 response parser for the probe's raw sockets: status
 * line, headers (names lower-cased), and a body framed by Content-Length, chunked encoding or
 * the connection's close. Only the first `bodyCap` bytes of the body are kept (identity comes
 * from small bodies); the rest is counted and dropped. 1xx interim responses are skipped.
 */
export interface HttpResponse {
  status: number;
  headers: Record<string, string>;
  /** The first bytes of the body (up to the cap), latin1-safe Buffer. */
  body: Buffer;
  bodyBytes: number;
  /** The server said `Connection: close` (or HTTP/1.0 without keep-alive). */
  close: boolean;
}

import { describeHttp2Frames, looksLikeHttp2Frame } from './h2-wire.js';

const HTTP_SLASH = Buffer.from('HTTP/');

/** Response head (status line + headers) larger than this: `head-too-large`. Node's http client allows 16 KiB. */
export const MAX_HEAD_BYTES = 64 * 1024;
/** A chunk-size line (hex size + extensions) longer than this: `chunk-line-too-long`. */
export const MAX_CHUNK_LINE_BYTES = 4 * 1024;
/** Trailer section larger than this: `head-too-large` (trailers are headers). */
export const MAX_TRAILER_BYTES = 64 * 1024;
/** More interim (1xx) responses than this before the final one: `too-many-1xx`. */
export const MAX_INTERIM_RESPONSES = 16;

/**
 * Error kinds the parser reports (a stable contract: they are the `error` of probe records).
 * - `bad-response`: not HTTP/1.x, bad Content-Length or bad chunk framing;
 * - `head-too-large`: response head (or trailers) above MAX_HEAD_BYTES;
 * - `chunk-line-too-long`: a chunk-size line above MAX_CHUNK_LINE_BYTES without its end;
 * - `too-many-1xx`: more than MAX_INTERIM_RESPONSES interim responses;
 * - `http2-frames`: an HTTP/2 frame header (SETTINGS or GOAWAY on stream 0) where the status line
 *   belongs: an h2-only server answering an HTTP/1.1 request (see h2-wire.ts, protocol-mismatch).
 */
export type ParseErrorKind = 'bad-response' | 'head-too-large' | 'chunk-line-too-long' | 'too-many-1xx' | 'http2-frames';

type State = 'head' | 'length' | 'chunk-size' | 'chunk-data' | 'chunk-end' | 'trailers' | 'until-close' | 'done';

export class ResponseParser {
  private state: State = 'head';
  /** Bytes of an unfinished head or line, accumulated without re-copying (amortised growth). */
  private acc: Buffer | null = null;
  private accLen = 0;
  /** How far the unfinished bytes in `acc` were already searched: each byte is scanned once. */
  private scanned = 0;
  private remaining = 0;
  private chunks: Buffer[] = [];
  private kept = 0;
  private interim = 0;
  private trailerBytes = 0;
  private fed = 0;
  response: HttpResponse | null = null;

  constructor(
    private readonly bodyCap = 16 * 1024,
    private readonly headRequest = false,
  ) {}

  get done(): boolean {
    return this.state === 'done';
  }

  /**
   * How far the current response got: `none` (no byte yet), `head` (bytes, no complete final
   * head), `body` (head parsed, body incomplete), `done`. Names the timeout's error kind.
   */
  get progress(): 'none' | 'head' | 'body' | 'done' {
    if (this.state === 'done') return 'done';
    if (this.response) return 'body';
    return this.fed > 0 ? 'head' : 'none';
  }

  /** Ready for the next response on the same connection (the previous `response` is released). */
  reset(): void {
    this.state = 'head';
    this.accLen = 0;
    this.scanned = 0;
    if (this.acc && this.acc.length > 64 * 1024) this.acc = null;
    this.remaining = 0;
    this.chunks.length = 0;
    this.kept = 0;
    this.interim = 0;
    this.trailerBytes = 0;
    this.fed = 0;
    this.response = null;
  }

  /** True when the body runs until the server closes the connection. */
  get untilClose(): boolean {
    return this.state === 'until-close';
  }

  /**
   * Feeds bytes. Returns true once a whole response is parsed. Throws ParseError (with its
   * `kind`) on a malformed or oversized response. Linear in the bytes fed, however they are split.
   */
  feed(data: Buffer): boolean {
    this.fed += data.length;
    let buf: Buffer;
    let scan = 0;
    if (this.accLen > 0) {
      this.append(data);
      buf = this.acc!.subarray(0, this.accLen);
      scan = this.scanned;
      this.accLen = 0;
      this.scanned = 0;
    } else buf = data;
    let pos = 0;
    while (pos < buf.length || this.state === 'done') {
      switch (this.state) {
        case 'done':
          return true;
        case 'head': {
          // Not even the start of a status line (an SSH banner, TLS, garbage): fail now, not at the deadline.
          const have = Math.min(5, buf.length - pos);
          if (buf[pos] === 0 && this.fed === buf.length - pos) {
            // A first byte 0 may be an HTTP/2 frame header (length < 64 KiB): decide on its 9 bytes.
            if (buf.length - pos < 9) {
              this.keepPending(buf, pos, 0);
              return false;
            }
            if (looksLikeHttp2Frame(buf, pos)) throw new ParseError('http2-frames', `HTTP/2 frames instead of an HTTP/1.x response: ${describeHttp2Frames(buf.subarray(pos))}`);
          }
          if (!startsHttp(buf, pos, have)) throw new ParseError('bad-response', `not an HTTP/1.x response: "${buf.toString('latin1', pos, pos + Math.min(40, buf.length - pos)).replace(/[^\x20-\x7e]/g, '.')}"`);
          const end = indexOfCrlfCrlf(buf, pos + scan);
          scan = 0;
          if (end < 0) {
            if (buf.length - pos > MAX_HEAD_BYTES) throw new ParseError('head-too-large', `response head larger than ${MAX_HEAD_BYTES / 1024} KiB`);
            this.keepPending(buf, pos, 3);
            return false;
          }
          if (end - pos > MAX_HEAD_BYTES) throw new ParseError('head-too-large', `response head larger than ${MAX_HEAD_BYTES / 1024} KiB`);
          const head = buf.toString('latin1', pos, end);
          pos = end + 4;
          if (this.parseHead(head)) continue; // 1xx: parse the next head
          break;
        }
        case 'length': {
          const n = Math.min(this.remaining, buf.length - pos);
          this.keep(buf, pos, pos + n);
          pos += n;
          this.remaining -= n;
          if (this.remaining === 0) this.finish();
          break;
        }
        case 'until-close': {
          this.keep(buf, pos, buf.length);
          pos = buf.length;
          break;
        }
        case 'chunk-size': {
          const eol = buf.indexOf(10, pos + scan); // \n
          scan = 0;
          if (eol < 0) {
            if (buf.length - pos > MAX_CHUNK_LINE_BYTES) throw new ParseError('chunk-line-too-long', `chunk-size line longer than ${MAX_CHUNK_LINE_BYTES} bytes`);
            this.keepPending(buf, pos, 0);
            return false;
          }
          if (eol - pos > MAX_CHUNK_LINE_BYTES) throw new ParseError('chunk-line-too-long', `chunk-size line longer than ${MAX_CHUNK_LINE_BYTES} bytes`);
          const line = buf.toString('latin1', pos, eol).trim();
          const sizeText = line.split(';')[0].trim();
          const size = /^[0-9a-f]{1,13}$/i.test(sizeText) ? parseInt(sizeText, 16) : NaN;
          if (!Number.isSafeInteger(size)) throw new ParseError('bad-response', `bad chunk size "${line.slice(0, 20)}"`);
          pos = eol + 1;
          if (size === 0) this.state = 'trailers';
          else {
            this.remaining = size;
            this.state = 'chunk-data';
          }
          break;
        }
        case 'chunk-data': {
          const n = Math.min(this.remaining, buf.length - pos);
          this.keep(buf, pos, pos + n);
          pos += n;
          this.remaining -= n;
          if (this.remaining === 0) this.state = 'chunk-end';
          break;
        }
        case 'chunk-end': {
          // Exactly CRLF (or a bare LF) after the chunk's data.
          const b0 = buf[pos];
          if (b0 === 10) {
            pos += 1;
            this.state = 'chunk-size';
            break;
          }
          if (b0 !== 13) throw new ParseError('bad-response', 'chunk data not followed by CRLF');
          if (pos + 1 >= buf.length) {
            this.keepPending(buf, pos, 0);
            return false;
          }
          if (buf[pos + 1] !== 10) throw new ParseError('bad-response', 'chunk data not followed by CRLF');
          pos += 2;
          this.state = 'chunk-size';
          break;
        }
        case 'trailers': {
          // Trailer lines until an empty line.
          const eol = buf.indexOf(10, pos + scan);
          scan = 0;
          if (eol < 0) {
            if (this.trailerBytes + buf.length - pos > MAX_TRAILER_BYTES) throw new ParseError('head-too-large', `trailers larger than ${MAX_TRAILER_BYTES / 1024} KiB`);
            this.keepPending(buf, pos, 0);
            return false;
          }
          this.trailerBytes += eol + 1 - pos;
          if (this.trailerBytes > MAX_TRAILER_BYTES) throw new ParseError('head-too-large', `trailers larger than ${MAX_TRAILER_BYTES / 1024} KiB`);
          const empty = eol === pos || (eol === pos + 1 && buf[pos] === 13);
          pos = eol + 1;
          if (empty) this.finish();
          break;
        }
      }
    }
    return this.done;
  }

  /** The server closed: completes a close-delimited body; false if the response was cut short. */
  end(): boolean {
    if (this.state === 'until-close') {
      this.finish();
      return true;
    }
    return this.state === 'done';
  }

  /** True once any byte of a response head has been seen. */
  get started(): boolean {
    return this.response !== null || this.fed > 0;
  }

  /**
   * Keeps buf[pos..] for the next feed. `overlap`: bytes of the tail to search again (a
   * delimiter split across reads); the rest was searched and is not scanned twice.
   */
  private keepPending(buf: Buffer, pos: number, overlap: number): void {
    const n = buf.length - pos;
    if (this.acc && buf.buffer === this.acc.buffer && buf.byteOffset === this.acc.byteOffset && pos === 0) {
      this.accLen = n; // already at the start of the accumulator: no copy
    } else {
      this.accLen = 0;
      this.append(buf.subarray(pos));
    }
    this.scanned = Math.max(0, n - overlap);
  }

  private append(data: Buffer): void {
    const need = this.accLen + data.length;
    if (!this.acc || this.acc.length < need) {
      const grown = Buffer.allocUnsafe(Math.max(need, 2 * (this.acc?.length ?? 0), 1024));
      if (this.acc && this.accLen) this.acc.copy(grown, 0, 0, this.accLen);
      this.acc = grown;
    }
    data.copy(this.acc, this.accLen);
    this.accLen = need;
  }

  private keep(buf: Buffer, from: number, to: number): void {
    if (!this.response) return;
    this.response.bodyBytes += to - from;
    if (this.kept < this.bodyCap && to > from) {
      const take = Math.min(to - from, this.bodyCap - this.kept);
      // Copied: `buf` may be the accumulator, which the next feed overwrites, or a shared read buffer.
      const copy = Buffer.allocUnsafe(take);
      if (take <= 64) for (let i = 0; i < take; i++) copy[i] = buf[from + i];
      else buf.copy(copy, 0, from, from + take);
      this.chunks.push(copy);
      this.kept += take;
    }
  }

  private finish(): void {
    if (this.response) this.response.body = this.chunks.length === 0 ? NO_BODY : this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    this.state = 'done';
  }

  /** Returns true for an interim 1xx response (another head follows). */
  private parseHead(head: string): boolean {
    // By hand rather than split/regex/trim (this runs once per response): the same result as
    // `head.split('\r\n')`, `/^HTTP\/1\.([01]) (\d{3})/` on the first line, and for each further
    // line with a colon after its first character, name = trim + lower case, value = trim.
    let eol = head.indexOf('\r\n');
    if (eol < 0) eol = head.length;
    const minor = head.charCodeAt(7);
    if (!(head.startsWith('HTTP/1.') && (minor === 48 || minor === 49) && head.charCodeAt(8) === 32 && isDigit(head.charCodeAt(9)) && isDigit(head.charCodeAt(10)) && isDigit(head.charCodeAt(11)))) {
      throw new ParseError('bad-response', `not an HTTP/1.x response: "${head.slice(0, eol).slice(0, 40)}"`);
    }
    const status = (head.charCodeAt(9) - 48) * 100 + (head.charCodeAt(10) - 48) * 10 + (head.charCodeAt(11) - 48);
    if (status >= 100 && status < 200 && status !== 101) {
      if (++this.interim > MAX_INTERIM_RESPONSES) throw new ParseError('too-many-1xx', `more than ${MAX_INTERIM_RESPONSES} interim (1xx) responses`);
      return true;
    }
    const headers: Record<string, string> = Object.create(null) as Record<string, string>;
    const len = head.length;
    let start = eol + 2;
    // The next colon at or after `start` (len when none): searched again only once passed, so a
    // head of many colon-less lines is still scanned once.
    let colon = -1;
    let field = 0;
    while (start <= len) {
      let end = head.indexOf('\r\n', start);
      if (end < 0) end = len;
      if (colon < start) {
        colon = head.indexOf(':', start);
        if (colon < 0) colon = len;
      }
      if (colon > start && colon < end) {
        let a = start;
        let b = colon;
        while (a < b && isSpace(head.charCodeAt(a))) a++;
        while (b > a && isSpace(head.charCodeAt(b - 1))) b--;
        const name = fieldName(head, a, b, field++);
        a = colon + 1;
        b = end;
        while (a < b && isSpace(head.charCodeAt(a))) a++;
        while (b > a && isSpace(head.charCodeAt(b - 1))) b--;
        const value = head.slice(a, b);
        headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
      }
      start = end + 2;
    }
    const conn = (headers.connection ?? '').toLowerCase();
    const close = conn.includes('close') || (minor === 48 && !conn.includes('keep-alive'));
    this.response = { status, headers, body: NO_BODY, bodyBytes: 0, close };
    const te = (headers['transfer-encoding'] ?? '').toLowerCase();
    if (this.headRequest || status === 204 || status === 304) this.finish();
    else if (te.includes('chunked')) this.state = 'chunk-size';
    else if (headers['content-length'] !== undefined) {
      const n = Number(headers['content-length']);
      if (!/^\s*\d+\s*$/.test(headers['content-length']) || !Number.isSafeInteger(n)) throw new ParseError('bad-response', `bad Content-Length "${headers['content-length'].slice(0, 40)}"`);
      this.remaining = n;
      if (n === 0) this.finish();
      else this.state = 'length';
    } else {
      this.state = 'until-close';
      this.response.close = true;
    }
    return false;
  }
}

/** buf[pos..pos+have) equals the first `have` bytes of `HTTP/` (a loop: Buffer#compare's binding costs more for 5 bytes). */
function startsHttp(buf: Buffer, pos: number, have: number): boolean {
  for (let i = 0; i < have; i++) if (buf[pos + i] !== HTTP_SLASH[i]) return false;
  return true;
}

/** Index of the first CRLFCRLF at or after `from`, -1 if none (a loop: heads are short, and Buffer#indexOf's binding costs more than scanning them). */
function indexOfCrlfCrlf(buf: Buffer, from: number): number {
  const last = buf.length - 4;
  for (let i = from; i <= last; i++) {
    if (buf[i + 3] !== 10) {
      // No match can end at i+3: skip by the position of the last \r or \n seen (at most 4).
      const c = buf[i + 3];
      if (c !== 13) i += 3;
      continue;
    }
    if (buf[i] === 13 && buf[i + 1] === 10 && buf[i + 2] === 13) return i;
  }
  return -1;
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** What String.prototype.trim strips from a latin1 string: tab, LF, VT, FF, CR, space and NBSP. */
function isSpace(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13) || c === 160;
}

/**
 * The field names of the last head parsed in this thread, by position (a server sends the same
 * names in the same order on every answer): the i-th name of the next head is compared in place
 * with the i-th one seen (no slice, no lower-casing) and taken from here when it is the same.
 */
const MAX_SEEN_FIELDS = 32;
const seenRaw: string[] = [];
const seenLower: string[] = [];

/** head[a..b), lower-cased: the name of the i-th field of the head. */
function fieldName(head: string, a: number, b: number, i: number): string {
  if (i < MAX_SEEN_FIELDS) {
    const raw = seenRaw[i];
    if (raw !== undefined && raw.length === b - a && head.startsWith(raw, a)) return seenLower[i];
  }
  const raw = head.slice(a, b);
  const lower = raw.toLowerCase();
  if (i < MAX_SEEN_FIELDS && raw.length <= 64) {
    seenRaw[i] = raw;
    seenLower[i] = lower;
  }
  return lower;
}

/** The body of a response without one (never written to: it has no bytes). */
const NO_BODY = Buffer.alloc(0);

export class ParseError extends Error {
  readonly code = 'BAD_RESPONSE';
  constructor(
    readonly kind: ParseErrorKind,
    message: string,
  ) {
    super(message);
  }
}
