/**
 * An incremental HTTP/1.x message parser for one direction of a reassembled TCP stream
 * (requests from the client, responses from the server). It is fed byte ranges in stream order
 * and reports each message's first byte, its head (start line + headers) and its end, with the
 * frame and capture time of the segment that carried them. Framing follows RFC 9112 §6:
 * chunked, then Content-Length, else (responses only) until the connection closes; responses to
 * HEAD, 1xx, 204 and 304 have no body (the caller says which via `noBody`).
 *
 * Memory per direction is bounded: a head is kept up to `HEAD_CAP` bytes (longer: the stream is
 * given up), a body only up to `bodyCap` bytes (what identity extraction needs); the rest is
 * counted and dropped.
 */

export const HEAD_CAP = 64 * 1024;
const LINE_CAP = 1024;

export interface MessageHead {
  /** Request: method, target. Response: status, reason. */
  method: string;
  target: string;
  status: number;
  /** HTTP/1.0 or HTTP/1.1 (minor version). */
  minor: number;
  /** Lower-cased names; repeated headers joined with ", ". */
  headers: Record<string, string>;
}

export interface MessageSink {
  /** First byte of a message. */
  start(frame: number, t: number): void;
  /** The head is parsed. Returns true when this message has no body (HEAD answer, 1xx, 204, 304). */
  head(h: MessageHead, frame: number, t: number): boolean;
  /** The message ended (its last byte was in `frame`). `body` holds its first bytes. */
  end(body: Buffer, bodyBytes: number, frame: number, t: number): void;
}

const EMPTY = Buffer.alloc(0);

const S_IDLE = 0;
const S_HEAD = 1;
const S_LENGTH = 2;
const S_CHUNK_SIZE = 3;
const S_CHUNK_DATA = 4;
const S_CHUNK_CRLF = 5;
const S_TRAILERS = 6;
const S_UNTIL_CLOSE = 7;
/** Not HTTP any more (a protocol switch, CONNECT tunnel or malformed input): bytes are ignored. */
const S_STOPPED = 8;

const METHOD = /^[A-Z][A-Z0-9_-]{1,19}$/;
const VERSION = /^HTTP\/1\.([01])$/;

export class MessageParser {
  private state = S_IDLE;
  private pendingHead: Buffer = EMPTY;
  private headLen = 0;
  private line = '';
  private remaining = 0;
  private body: Buffer[] = [];
  private kept = 0;
  private bodyBytes = 0;
  /** Why parsing stopped ('' while it goes on). */
  stopped = '';
  messages = 0;

  constructor(
    private readonly isResponse: boolean,
    private readonly sink: MessageSink,
    private readonly bodyCap: number,
    /** Header names (lower case) to keep; null keeps all. Framing headers are always kept. */
    wanted: readonly string[] | null = null,
  ) {
    this.wanted = wanted === null ? null : new Set(['content-length', 'transfer-encoding', 'connection', ...wanted]);
    for (const n of this.wanted ?? []) this.wantedLengths[Math.min(n.length, 63)] = 1;
  }

  private readonly wantedLengths = new Uint8Array(64);

  private readonly wanted: Set<string> | null;

  get inMessage(): boolean {
    return this.state !== S_IDLE && this.state !== S_STOPPED;
  }

  get untilClose(): boolean {
    return this.state === S_UNTIL_CLOSE;
  }

  /** Stops parsing for good (a protocol upgrade, a tunnel, a gap in the stream). */
  stop(reason: string): void {
    if (this.state === S_STOPPED) return;
    this.state = S_STOPPED;
    this.stopped = reason;
    this.pendingHead = EMPTY;
    this.body = [];
  }

  /** The connection closed in this direction: a body delimited by the close ends here. */
  close(frame: number, t: number): void {
    if (this.state === S_UNTIL_CLOSE) this.finish(frame, t);
  }

  feed(buf: Buffer, pos: number, end: number, frame: number, t: number): void {
    while (pos < end) {
      switch (this.state) {
        case S_STOPPED:
          return;
        case S_IDLE: {
          // Tolerate empty lines between messages (RFC 9112 §2.2).
          const b = buf[pos];
          if (b === 0x0d || b === 0x0a) {
            pos++;
            continue;
          }
          this.state = S_HEAD;
          this.pendingHead = EMPTY;
          this.headLen = 0;
          this.sink.start(frame, t);
          continue;
        }
        case S_HEAD:
          pos = this.readHead(buf, pos, end, frame, t);
          continue;
        case S_LENGTH: {
          const n = Math.min(this.remaining, end - pos);
          this.keep(buf, pos, pos + n);
          pos += n;
          this.remaining -= n;
          if (this.remaining === 0) this.finish(frame, t);
          continue;
        }
        case S_UNTIL_CLOSE:
          this.keep(buf, pos, end);
          return;
        case S_CHUNK_SIZE:
        case S_CHUNK_CRLF:
        case S_TRAILERS: {
          const nl = buf.indexOf(0x0a, pos);
          const stop = nl < 0 || nl >= end ? end : nl;
          if (this.line.length + (stop - pos) > LINE_CAP) {
            this.stop('chunk line too long');
            return;
          }
          this.line += buf.toString('latin1', pos, stop);
          pos = stop;
          if (nl < 0 || nl >= end) return;
          pos++; // past the LF
          const line = this.line.replace(/\r$/, '');
          this.line = '';
          this.lineDone(line, frame, t);
          continue;
        }
        case S_CHUNK_DATA: {
          const n = Math.min(this.remaining, end - pos);
          this.keep(buf, pos, pos + n);
          pos += n;
          this.remaining -= n;
          if (this.remaining === 0) this.state = S_CHUNK_CRLF;
          continue;
        }
      }
    }
  }

  private lineDone(line: string, frame: number, t: number): void {
    if (this.state === S_CHUNK_CRLF) {
      if (line !== '') this.stop('missing CRLF after chunk');
      else this.state = S_CHUNK_SIZE;
      return;
    }
    if (this.state === S_TRAILERS) {
      if (line === '') this.finish(frame, t);
      return;
    }
    const m = /^\s*([0-9a-fA-F]+)/.exec(line);
    if (!m || m[1].length > 12) {
      this.stop('bad chunk size');
      return;
    }
    const size = parseInt(m[1], 16);
    if (size === 0) this.state = S_TRAILERS;
    else {
      this.remaining = size;
      this.state = S_CHUNK_DATA;
    }
  }

  private readHead(buf: Buffer, pos: number, end: number, frame: number, t: number): number {
    const room = HEAD_CAP - this.headLen;
    const take = Math.min(end - pos, room);
    const hb = this.headLen === 0 ? buf.subarray(pos, pos + take) : Buffer.concat([this.pendingHead, buf.subarray(pos, pos + take)]);
    const idx = headEnd(hb, Math.max(0, this.headLen - 3));
    if (idx < 0) {
      if (take === room) this.stop('head over 64 KiB');
      else {
        this.pendingHead = Buffer.from(hb);
        this.headLen = hb.length;
      }
      return end;
    }
    const consumed = idx - this.headLen;
    const text = hb.toString('latin1', 0, idx);
    this.pendingHead = EMPTY;
    this.headLen = 0;
    this.headDone(text, frame, t);
    return pos + consumed;
  }

  private headDone(text: string, frame: number, t: number): void {
    const eol = text.indexOf('\n');
    const first = text.slice(0, eol < 0 ? text.length : eol).replace(/\r$/, '').split(' ');
    const h: MessageHead = { method: '', target: '', status: 0, minor: 1, headers: {} };
    if (this.isResponse) {
      const v = VERSION.exec(first[0] ?? '');
      const status = Number(first[1]);
      if (!v || !/^\d{3}$/.test(first[1] ?? '')) {
        this.stop('not an HTTP/1.x status line');
        return;
      }
      h.minor = Number(v[1]);
      h.status = status;
      h.target = first.slice(2).join(' ');
    } else {
      const v = VERSION.exec(first[first.length - 1] ?? '');
      if (first.length !== 3 || !METHOD.test(first[0]) || !v) {
        this.stop('not an HTTP/1.x request line');
        return;
      }
      h.method = first[0];
      h.target = first[1];
      h.minor = Number(v[1]);
    }
    // Headers: only the ones someone reads (framing, and for responses what identity needs), by one scan.
    const wanted = this.wanted;
    let count = 0;
    for (let i = text.indexOf('\n') + 1; i > 0 && i < text.length; ) {
      let e = text.indexOf('\n', i);
      if (e < 0) e = text.length;
      const c = text.indexOf(':', i);
      // Only names of a wanted length are sliced and compared (most headers are skipped without allocating).
      if (c > i && c < e && ++count <= 200 && (wanted === null || this.wantedLengths[Math.min(c - i, 63)] === 1)) {
        const name = text.slice(i, c).trim().toLowerCase();
        if (wanted === null || wanted.has(name)) {
          const value = text.slice(c + 1, e).trim();
          const prev = h.headers[name];
          h.headers[name] = prev === undefined ? value : `${prev}, ${value}`;
        }
      }
      i = e + 1;
    }
    this.body = [];
    this.kept = 0;
    this.bodyBytes = 0;
    const noBody = this.sink.head(h, frame, t);
    if (this.state === S_STOPPED) return; // the sink stopped us (protocol switch)
    const te = (h.headers['transfer-encoding'] ?? '').toLowerCase();
    const cl = h.headers['content-length'];
    if (noBody) this.finish(frame, t);
    else if (te !== '' && /(^|,)\s*chunked\s*$/.test(te)) {
      this.state = S_CHUNK_SIZE;
      this.line = '';
    } else if (cl !== undefined) {
      const n = /^\s*(\d{1,15})\s*(,\s*\1\s*)*$/.exec(cl);
      if (!n) {
        this.stop('bad Content-Length');
        return;
      }
      this.remaining = Number(n[1]);
      if (this.remaining === 0) this.finish(frame, t);
      else this.state = S_LENGTH;
    } else if (this.isResponse) this.state = S_UNTIL_CLOSE;
    else this.finish(frame, t);
  }

  private keep(buf: Buffer, from: number, to: number): void {
    const n = to - from;
    this.bodyBytes += n;
    if (this.kept < this.bodyCap && n > 0) {
      const take = Math.min(n, this.bodyCap - this.kept);
      this.body.push(Buffer.from(buf.subarray(from, from + take)));
      this.kept += take;
    }
  }

  private finish(frame: number, t: number): void {
    const body = this.body.length === 0 ? EMPTY : this.body.length === 1 ? this.body[0] : Buffer.concat(this.body);
    const bytes = this.bodyBytes;
    this.body = [];
    this.kept = 0;
    this.bodyBytes = 0;
    this.state = S_IDLE;
    this.messages++;
    this.sink.end(body, bytes, frame, t);
  }
}

/** Index just past the blank line ending a head (LF LF or CRLF CRLF, mixed allowed), or -1. */
function headEnd(b: Buffer, from: number): number {
  for (let i = b.indexOf(0x0a, from); i >= 0; i = b.indexOf(0x0a, i + 1)) {
    let j = i + 1;
    if (j < b.length && b[j] === 0x0d) j++;
    if (j < b.length && b[j] === 0x0a) return j + 1;
  }
  return -1;
}

/** Does a stream's first payload look like the start of an HTTP/1.x request or response? */
export function looksLikeHttp(buf: Buffer, pos: number, end: number): boolean {
  const n = Math.min(end - pos, 24);
  if (n < 4) return false;
  // "HTTP/1." response
  if (buf[pos] === 0x48 && buf[pos + 1] === 0x54 && buf[pos + 2] === 0x54 && buf[pos + 3] === 0x50) return n >= 7 && buf[pos + 4] === 0x2f && buf[pos + 5] === 0x31 && buf[pos + 6] === 0x2e;
  // A method token (upper case) followed by a space.
  let i = 0;
  while (i < n && buf[pos + i] >= 0x41 && buf[pos + i] <= 0x5a) i++;
  if (i < 3 || i > 10 || i >= n || buf[pos + i] !== 0x20) return false;
  return METHODS.has(buf.toString('latin1', pos, pos + i));
}

const METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH', 'PROPFIND', 'PROPPATCH', 'MKCOL', 'COPY', 'MOVE', 'LOCK', 'UNLOCK', 'SEARCH', 'REPORT', 'PURGE']);
