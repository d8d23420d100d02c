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
 *
 * One file (just over 400 lines) on purpose: `feed()` is one state machine (head, Content-Length,
 * chunk size/data/CRLF, trailers, until close) over one buffer position; its states and the
 * head scan they share read top to bottom here, and split they would pass that state across modules.
 */

export const HEAD_CAP = 64 * 1024;
const LINE_CAP = 1024;

export interface MessageHead {
  /** Request: the method ('' for a response). Response: the status (0 for a request). Target and reason are not read. */
  method: string;
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
  /**
   * The message ended (its last byte was in `frame`). `body` holds its first bytes. The head given to
   * `head()`, its headers and `body` are valid until this call returns (the parser reuses them for its
   * next message): a sink copies what it keeps.
   */
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

/** Headers the parser always reads (framing). */
const FRAMING = ['content-length', 'transfer-encoding', 'connection'];
const NO_LENGTHS = new Uint8Array(64);

interface WantedTable {
  set: Set<string>;
  lengths: Uint8Array;
  byLength: (readonly string[] | undefined)[];
  /** The last value seen per header name (by every parser sharing this table): a repeated value is not sliced again. */
  last: Map<string, string>;
}

const tables = new WeakMap<readonly string[], WantedTable>();

function wantedTable(wanted: readonly string[]): WantedTable {
  let t = tables.get(wanted);
  if (t !== undefined) return t;
  const set = new Set([...FRAMING, ...wanted]);
  const lengths = new Uint8Array(64);
  const byLength: string[][] = [];
  for (const n of set) {
    lengths[Math.min(n.length, 63)] = 1;
    // Only plain ASCII lower-case names are compared byte by byte; any other name sends every name of its length to the slow path.
    if (n.length < 63) (byLength[n.length] ??= []).push(n);
  }
  for (const n of set) if (!/^[\x21-\x7e]+$/.test(n) || n !== n.toLowerCase()) byLength[Math.min(n.length, 63)] = undefined as unknown as string[];
  t = { set, lengths, byLength, last: new Map() };
  tables.set(wanted, t);
  return t;
}

/** The name text[i, c) lower-cased, when it is one of `names` (ASCII lower case); undefined when none. */
function matchName(text: string, i: number, c: number, names: readonly string[]): string | undefined {
  for (let k = 0; k < names.length; k++) {
    const n = names[k];
    let j = 0;
    for (; j < n.length; j++) {
      let ch = text.charCodeAt(i + j);
      if (ch >= 0x41 && ch <= 0x5a) ch += 0x20;
      if (ch !== n.charCodeAt(j)) break;
    }
    if (j === n.length) return n;
  }
  return undefined;
}

/** What String.prototype.trim() removes from a latin1 string: tab, LF, VT, FF, CR, space, no-break space. */
function isTrimmed(ch: number): boolean {
  return (ch >= 0x09 && ch <= 0x0d) || ch === 0x20 || ch === 0xa0;
}

/** b[from, to) as latin1 text (Buffer's own slice method, without toString's encoding dispatch). */
const latin1 = (b: Buffer, from: number, to: number): string => (b as unknown as { latin1Slice(s: number, e: number): string }).latin1Slice(from, to);

/** Common request methods as interned strings, so a request line costs no method string. */
const KNOWN_METHODS = ['GET', 'POST', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'CONNECT', 'TRACE'];

function knownMethod(text: string, end: number): string | undefined {
  for (let k = 0; k < KNOWN_METHODS.length; k++) {
    const m = KNOWN_METHODS[k];
    if (m.length === end && text.startsWith(m)) return m;
  }
  return undefined;
}

export class MessageParser {
  private state = S_IDLE;
  private pendingHead: Buffer = EMPTY;
  private headLen = 0;
  private line = '';
  private remaining = 0;
  /** The body's first bytes kept: the first piece, and any further pieces (null until a second one comes). */
  private body: Buffer | null = null;
  private bodyRest: Buffer[] | null = null;
  /** `body` holds views into the caller's buffer, valid only during the current feed() call. */
  private bodyViews = false;
  /** The head object handed to the sink, reused message after message; the header names set in it. */
  private readonly h: MessageHead = { method: '', status: 0, minor: 1, headers: {} };
  private readonly setNames: string[] = [];
  private setCount = 0;
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
    // One table per list of names, shared by every parser given that list (a capture has one parser per direction per connection).
    const w = wanted === null ? null : wantedTable(wanted);
    this.wanted = w === null ? null : w.set;
    this.last = w === null ? new Map() : w.last;
    this.wantedLengths = w === null ? NO_LENGTHS : w.lengths;
    this.byLength = w === null ? [] : w.byLength;
  }

  private readonly wantedLengths: Uint8Array;
  /** Wanted names by length (ASCII lower case), for comparing header names without slicing them. */
  private readonly byLength: (readonly string[] | undefined)[];

  private readonly wanted: Set<string> | null;
  private readonly last: Map<string, string>;

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
    this.body = null;
    this.bodyRest = null;
  }

  /** The connection closed in this direction: a body delimited by the close ends here. */
  close(frame: number, t: number): void {
    if (this.state === S_UNTIL_CLOSE) this.finish(frame, t);
  }

  feed(buf: Buffer, pos: number, end: number, frame: number, t: number): void {
    this.parse(buf, pos, end, frame, t);
    // A body still open after this segment: its first bytes are copied out of the caller's buffer.
    if (this.bodyViews) {
      this.bodyViews = false;
      if (this.body !== null) this.body = Buffer.from(this.body);
      if (this.bodyRest !== null) for (let i = 0; i < this.bodyRest.length; i++) this.bodyRest[i] = Buffer.from(this.bodyRest[i]);
    }
  }

  private parse(buf: Buffer, pos: number, end: number, frame: number, t: number): void {
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
    if (this.headLen === 0) {
      // The whole head in this segment (the usual case): found and read in place, no Buffer view or copy.
      const idx = headEnd(buf, pos, pos + take);
      if (idx >= 0) {
        this.headDone(buf, pos, idx, frame, t);
        return idx;
      }
    }
    const hb = this.headLen === 0 ? buf.subarray(pos, pos + take) : Buffer.concat([this.pendingHead, buf.subarray(pos, pos + take)]);
    const idx = headEnd(hb, Math.max(0, this.headLen - 3), hb.length);
    if (idx < 0) {
      if (take === room) this.stop('head over 64 KiB');
      else {
        this.pendingHead = Buffer.from(hb);
        this.headLen = hb.length;
      }
      return end;
    }
    const consumed = idx - this.headLen;
    this.pendingHead = EMPTY;
    this.headLen = 0;
    this.headDone(hb, 0, idx, frame, t);
    return pos + consumed;
  }

  /**
   * The head b[from, to) (start line, headers, blank line). Scanned as one latin1 text (the string
   * searches are native and fast; a byte loop in JS measured 2.5x slower); nothing else is allocated
   * for it but the wanted header values that differ from the last ones seen.
   */
  private headDone(b: Buffer, from: number, to: number, frame: number, t: number): void {
    const text = latin1(b, from, to);
    const eol = text.indexOf('\n');
    // The start line split at spaces by index (as `line.split(' ')` would, without the array and regexes).
    let le = eol < 0 ? text.length : eol;
    if (le > 0 && text.charCodeAt(le - 1) === 0x0d) le--;
    let sp1 = text.indexOf(' ');
    if (sp1 >= le) sp1 = -1;
    let sp2 = sp1 < 0 ? -1 : text.indexOf(' ', sp1 + 1);
    if (sp2 >= le) sp2 = -1;
    // One head object per parser: the previous message is over, its header values are cleared (so the
    // object keeps its shape and nothing is allocated for it).
    const h = this.h;
    h.method = '';
    h.status = 0;
    h.minor = 1;
    const set = this.setNames;
    for (let k = 0; k < this.setCount; k++) h.headers[set[k]] = undefined as unknown as string;
    this.setCount = 0;
    if (this.isResponse) {
      const minor = sp1 === 8 ? version(text, 0) : -1;
      const se = sp2 < 0 ? le : sp2;
      if (minor < 0 || sp1 < 0 || se - sp1 !== 4 || !digit(text, sp1 + 1) || !digit(text, sp1 + 2) || !digit(text, sp1 + 3)) {
        this.stop('not an HTTP/1.x status line');
        return;
      }
      h.minor = minor;
      h.status = (text.charCodeAt(sp1 + 1) - 0x30) * 100 + (text.charCodeAt(sp1 + 2) - 0x30) * 10 + (text.charCodeAt(sp1 + 3) - 0x30);
    } else {
      const sp3 = sp2 < 0 ? -1 : text.indexOf(' ', sp2 + 1);
      const minor = sp2 >= 0 && le - sp2 === 9 ? version(text, sp2 + 1) : -1;
      const method = sp1 < 0 ? '' : knownMethod(text, sp1) ?? text.slice(0, sp1);
      if (sp2 < 0 || (sp3 >= 0 && sp3 < le) || minor < 0 || !METHOD.test(method)) {
        this.stop('not an HTTP/1.x request line');
        return;
      }
      h.method = method;
      h.minor = minor;
    }
    // Headers: only the ones someone reads (framing, and for responses what identity needs), by one scan.
    const wanted = this.wanted;
    let count = 0;
    for (let i = eol + 1; i > 0 && i < text.length; ) {
      let e = text.indexOf('\n', i);
      if (e < 0) e = text.length;
      const c = text.indexOf(':', i);
      // Only names of a wanted length are compared (most headers are skipped without allocating).
      if (c > i && c < e && ++count <= 200 && (wanted === null || this.wantedLengths[Math.min(c - i, 63)] === 1)) {
        const len = c - i;
        const names = len < 63 ? this.byLength[len] : undefined;
        // Fast path: a name with no surrounding white space compared in place against the wanted names of its length.
        const plain = names !== undefined && text.charCodeAt(i) > 0x20 && text.charCodeAt(c - 1) > 0x20;
        const name = plain ? matchName(text, i, c, names) : text.slice(i, c).trim().toLowerCase();
        if (name !== undefined && (wanted === null || wanted.has(name))) {
          // The value trimmed as String#trim would, by index.
          let vs = c + 1;
          let ve = e;
          while (vs < ve && isTrimmed(text.charCodeAt(vs))) vs++;
          while (ve > vs && isTrimmed(text.charCodeAt(ve - 1))) ve--;
          // Backend names, instances, content types repeat response after response: the last string is reused when it matches.
          const seen = this.last.get(name);
          const value = seen !== undefined && seen.length === ve - vs && text.startsWith(seen, vs) ? seen : text.slice(vs, ve);
          if (value !== seen) this.last.set(name, value);
          const prev = h.headers[name];
          if (prev === undefined) set[this.setCount++] = name;
          h.headers[name] = prev === undefined ? value : `${prev}, ${value}`;
        }
      }
      i = e + 1;
    }
    this.body = null;
    this.bodyRest = null;
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
      // Plain digits (nearly always) without the regex; anything else (spaces, a repeated value) by it.
      const n = cl.length > 0 && cl.length <= 15 && allDigits(cl) ? [cl, cl] : /^\s*(\d{1,15})\s*(,\s*\1\s*)*$/.exec(cl);
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
      // A view: copied at the end of feed() only if the message is not over by then.
      const piece = buf.subarray(from, from + take);
      if (this.body === null) this.body = piece;
      else (this.bodyRest ??= []).push(piece);
      this.bodyViews = true;
      this.kept += take;
    }
  }

  private finish(frame: number, t: number): void {
    const body = this.body === null ? EMPTY : this.bodyRest === null ? this.body : Buffer.concat([this.body, ...this.bodyRest]);
    const bytes = this.bodyBytes;
    this.body = null;
    this.bodyRest = null;
    this.bodyViews = false;
    this.kept = 0;
    this.bodyBytes = 0;
    this.state = S_IDLE;
    this.messages++;
    this.sink.end(body, bytes, frame, t);
  }
}

/** HTTP/1.0 or HTTP/1.1 at text[i, i+8): the minor version, else -1. */
function version(text: string, i: number): number {
  if (!text.startsWith('HTTP/1.', i)) return -1;
  const m = text.charCodeAt(i + 7);
  return m === 0x30 ? 0 : m === 0x31 ? 1 : -1;
}

function digit(text: string, i: number): boolean {
  const c = text.charCodeAt(i);
  return c >= 0x30 && c <= 0x39;
}

function allDigits(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (!digit(s, i)) return false;
  return true;
}

/** Index just past the blank line ending a head (LF LF or CRLF CRLF, mixed allowed) in b[from, end), or -1. */
function headEnd(b: Buffer, from: number, end: number): number {
  for (let i = b.indexOf(0x0a, from); i >= 0 && i < end; i = b.indexOf(0x0a, i + 1)) {
    let j = i + 1;
    if (j < end && b[j] === 0x0d) j++;
    if (j < end && b[j] === 0x0a) return j + 1;
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
