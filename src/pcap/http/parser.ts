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
   * The message ended (its last byte was in `frame`). `body[bodyStart, bodyEnd)` holds its first bytes
   * (`body` may be the buffer the parser was fed, or the parser's own copy: no view is made for it).
   * The head given to `head()`, its headers and `body` are valid until this call returns (the parser
   * reuses them for its next message): a sink copies what it keeps.
   */
  end(body: Buffer, bodyStart: number, bodyEnd: number, bodyBytes: number, frame: number, t: number): void;
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

/** Headers the parser always reads (framing): the first slots of every table. */
const FRAMING = ['content-length', 'transfer-encoding', 'connection'];
const NO_LENGTHS = new Uint8Array(64);

/**
 * The header names a parser keeps, as numbered slots. Shared by every parser given the same list
 * (a capture has one parser per direction per connection).
 */
interface WantedTable {
  /** Slot -> name (lower case): framing first, then the wanted names. */
  names: readonly string[];
  slots: Map<string, number>;
  lengths: Uint8Array;
  /** Slots of plain ASCII lower-case names by length, for comparing header names in place (undefined: that length goes by the slow path). */
  byLength: (readonly number[] | undefined)[];
  /** The last value seen per slot (by every parser sharing this table): a repeated value is not sliced again. */
  last: (string | undefined)[];
  /** A headers object with every name present (undefined): each parser's is a copy, made without adding properties one by one. */
  template: Record<string, string>;
}

const tables = new WeakMap<readonly string[], WantedTable>();

function wantedTable(wanted: readonly string[]): WantedTable {
  let t = tables.get(wanted);
  if (t !== undefined) return t;
  const names = [...new Set([...FRAMING, ...wanted])];
  const slots = new Map(names.map((n, i) => [n, i] as [string, number]));
  const lengths = new Uint8Array(64);
  const byLength: number[][] = [];
  for (let i = 0; i < names.length; i++) {
    const n = names[i];
    lengths[Math.min(n.length, 63)] = 1;
    // Only plain ASCII lower-case names are compared byte by byte; any other name sends every name of its length to the slow path.
    if (n.length < 63) (byLength[n.length] ??= []).push(i);
  }
  for (const n of names) if (!/^[\x21-\x7e]+$/.test(n) || n !== n.toLowerCase()) byLength[Math.min(n.length, 63)] = undefined as unknown as number[];
  t = { names, slots, lengths, byLength, last: names.map(() => undefined), template: shapedHeaders(names) };
  tables.set(wanted, t);
  return t;
}

/**
 * A head object whose headers have one property per wanted name, made in the same order for every
 * parser sharing the table: one hidden class, fast (not dictionary) properties, stores that do not
 * add properties.
 */
function shapedHeaders(names: readonly string[]): Record<string, string> {
  const o: Record<string, string> = {};
  for (let i = 0; i < names.length; i++) o[names[i]] = undefined as unknown as string;
  return o;
}

/** The slot of the header name b[i, c) (compared ASCII case-insensitively against `slots`' names), or -1. */
function matchName(b: Buffer, i: number, c: number, slots: readonly number[], names: readonly string[]): number {
  for (let k = 0; k < slots.length; k++) {
    const n = names[slots[k]];
    let j = 0;
    for (; j < n.length; j++) {
      let ch = b[i + j];
      if (ch >= 0x41 && ch <= 0x5a) ch += 0x20;
      if (ch !== n.charCodeAt(j)) break;
    }
    if (j === n.length) return slots[k];
  }
  return -1;
}

/** The buffer `view` reads (the last one a head was scanned in: a capture's payloads come from a few buffers). */
let viewed: Buffer | null = null;
let view: DataView<ArrayBufferLike> = new DataView(new ArrayBuffer(0));

/**
 * Index of the first LF in b[from, to), or `to`: four bytes at a time (a 32-bit read and the
 * has-a-zero-byte test on it XOR LF), then byte by byte from the word that holds it. Header values
 * (dates, user agents, cookies) are most of a head's bytes.
 */
function lineFeed(b: Buffer, from: number, to: number): number {
  let e = from;
  if (to - e >= 8) {
    if (b !== viewed) {
      view = new DataView(b.buffer, b.byteOffset, b.byteLength);
      viewed = b;
    }
    const v = view;
    for (; e + 4 <= to; e += 4) {
      const w = v.getUint32(e, true) ^ 0x0a0a0a0a;
      if (((w - 0x01010101) & ~w & 0x80808080) !== 0) break;
    }
  }
  while (e < to && b[e] !== 0x0a) e++;
  return e;
}

/** Does b[pos, pos + s.length) hold the latin1 string s? */
function bytesEqual(b: Buffer, pos: number, s: string): boolean {
  for (let k = 0; k < s.length; k++) if (b[pos + k] !== s.charCodeAt(k)) return false;
  return true;
}

/** What String.prototype.trim() removes from a latin1 string: tab, LF, VT, FF, CR, space, no-break space. */
function isTrimmed(ch: number): boolean {
  return (ch >= 0x09 && ch <= 0x0d) || ch === 0x20 || ch === 0xa0;
}

/** b[from, to) as latin1 text (Buffer's own slice method, without toString's encoding dispatch). */
const latin1 = (b: Buffer, from: number, to: number): string => (b as unknown as { latin1Slice(s: number, e: number): string }).latin1Slice(from, to);

/** Common request methods as interned strings, so a request line costs no method string. */
const KNOWN_METHODS = ['GET', 'POST', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'CONNECT', 'TRACE'];

/** b[from, end) as a method string: a known one without allocating, else sliced. */
function methodAt(b: Buffer, from: number, end: number): string {
  for (let k = 0; k < KNOWN_METHODS.length; k++) {
    const m = KNOWN_METHODS[k];
    if (m.length === end - from && bytesEqual(b, from, m)) return m;
  }
  return latin1(b, from, end);
}

/** b[from, end) matches /^[A-Z][A-Z0-9_-]{1,19}$/ (a method token as requests use them). */
function isMethod(b: Buffer, from: number, end: number): boolean {
  const n = end - from;
  if (n < 2 || n > 20) return false;
  const c0 = b[from];
  if (c0 < 0x41 || c0 > 0x5a) return false;
  for (let k = from + 1; k < end; k++) {
    const c = b[k];
    if (!((c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c === 0x5f || c === 0x2d)) return false;
  }
  return true;
}

export class MessageParser {
  private state = S_IDLE;
  private pendingHead: Buffer = EMPTY;
  private headLen = 0;
  private line = '';
  private remaining = 0;
  /**
   * The body's first bytes kept: `bodyBuf[bodyStart, bodyEnd)` (`kept` bytes). Until `bodyOwned`,
   * `bodyBuf` is the buffer being fed (valid during this feed() only, copied into `own` at its end
   * if the message is not over); a body kept from several pieces is gathered in `own`. No Buffer
   * view is made per message.
   */
  private bodyBuf: Buffer | null = null;
  private bodyStart = 0;
  private bodyEnd = 0;
  private bodyOwned = false;
  /** This parser's copy of a body's first bytes, grown on demand up to `bodyCap`, reused message after message. */
  private own: Buffer = EMPTY;
  /** The head object handed to the sink, reused message after message; the header slots set in it. */
  private readonly h: MessageHead;
  private readonly setSlots: number[] = [];
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
    this.table = w;
    this.names = w === null ? FRAMING : w.names;
    this.last = w === null ? [] : w.last;
    this.lastByName = w === null ? new Map() : null;
    this.wantedLengths = w === null ? NO_LENGTHS : w.lengths;
    this.byLength = w === null ? [] : w.byLength;
    this.h = { method: '', status: 0, minor: 1, headers: w === null ? {} : { ...w.template } };
  }

  private readonly table: WantedTable | null;
  private readonly names: readonly string[];
  private readonly wantedLengths: Uint8Array;
  /** Wanted slots by name length (ASCII lower case), for comparing header names without slicing them. */
  private readonly byLength: (readonly number[] | undefined)[];
  private readonly last: (string | undefined)[];
  /** Keeping every header (no table): the last value per name. */
  private readonly lastByName: Map<string, string> | null;

  get inMessage(): boolean {
    return this.state !== S_IDLE && this.state !== S_STOPPED;
  }

  get untilClose(): boolean {
    return this.state === S_UNTIL_CLOSE;
  }

  /**
   * As new (the stream that owns this parser is reused for another connection). The header
   * values of the last message are cleared; what stays is what a new parser would compute alike
   * (the shared wanted table, the last-value caches) and the body copy buffer (small ones only).
   */
  reset(): void {
    this.state = S_IDLE;
    this.pendingHead = EMPTY;
    this.headLen = 0;
    this.line = '';
    this.remaining = 0;
    this.bodyBuf = null;
    this.bodyStart = 0;
    this.bodyEnd = 0;
    this.bodyOwned = false;
    if (this.own.length > 4096) this.own = EMPTY;
    this.clearHeaders();
    const h = this.h;
    h.method = '';
    h.status = 0;
    h.minor = 1;
    this.kept = 0;
    this.bodyBytes = 0;
    this.stopped = '';
    this.messages = 0;
  }

  /** The previous message's header values cleared (the object keeps its shape). */
  private clearHeaders(): void {
    const headers = this.h.headers;
    if (this.table !== null) {
      const names = this.names;
      const set = this.setSlots;
      for (let k = 0; k < this.setCount; k++) headers[names[set[k]]] = undefined as unknown as string;
    } else {
      const set = this.setNames;
      for (let k = 0; k < this.setCount; k++) headers[set[k]] = undefined as unknown as string;
    }
    this.setCount = 0;
  }

  /** Stops parsing for good (a protocol upgrade, a tunnel, a gap in the stream). */
  stop(reason: string): void {
    if (this.state === S_STOPPED) return;
    this.state = S_STOPPED;
    this.stopped = reason;
    this.pendingHead = EMPTY;
    this.bodyBuf = null;
    this.bodyOwned = false;
  }

  /** The connection closed in this direction: a body delimited by the close ends here. */
  close(frame: number, t: number): void {
    if (this.state === S_UNTIL_CLOSE) this.finish(frame, t);
  }

  feed(buf: Buffer, pos: number, end: number, frame: number, t: number): void {
    this.parse(buf, pos, end, frame, t);
    // A body still open after this segment: its first bytes are copied out of the caller's buffer.
    if (this.bodyBuf !== null && !this.bodyOwned) this.toOwn(this.kept);
  }

  /** Moves the kept body bytes into `own` (with room for `need` bytes in all). */
  private toOwn(need: number): void {
    const b = this.bodyBuf!;
    if (this.bodyOwned && need <= this.own.length) return;
    let own = this.own;
    if (need > own.length) {
      own = Buffer.allocUnsafe(Math.min(this.bodyCap, Math.max(need, 2 * own.length, 256)));
      if (this.bodyOwned) b.copy(own, 0, 0, this.kept);
      this.own = own;
    }
    if (!this.bodyOwned) b.copy(own, 0, this.bodyStart, this.bodyEnd);
    this.bodyBuf = own;
    this.bodyStart = 0;
    this.bodyEnd = this.kept;
    this.bodyOwned = true;
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
      // The whole head in this segment (the usual case): found and read in place in one pass, no Buffer view or copy.
      const idx = this.headDone(buf, pos, pos + take, frame, t);
      if (idx >= 0) return idx;
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
   * The head at b[from, ...) (start line, headers, blank line), found and read in place in one pass
   * byte by byte, before `to`: returns the index just past its blank line, or -1 when it does not end
   * before `to` (then nothing was decided: the caller gathers more bytes and calls again). Nothing is
   * allocated for it but the wanted header values that differ from the last ones seen (and, for an
   * unusual header name such as one with white space before its colon, that name).
   */
  private headDone(b: Buffer, from: number, to: number, frame: number, t: number): number {
    const eol = lineFeed(b, from, to);
    if (eol >= to) return -1;
    // The start line split at spaces by index (as `line.split(' ')` would, without the array and regexes).
    let le = eol;
    if (le > from && b[le - 1] === 0x0d) le--;
    let sp1 = from;
    while (sp1 < le && b[sp1] !== 0x20) sp1++;
    let sp2 = -1;
    if (sp1 >= le) sp1 = -1;
    else {
      sp2 = sp1 + 1;
      while (sp2 < le && b[sp2] !== 0x20) sp2++;
      if (sp2 >= le) sp2 = -1;
    }
    // Checked now, acted on once the head is known to be complete.
    let bad = '';
    let minor = -1;
    if (this.isResponse) {
      minor = sp1 - from === 8 ? version(b, from) : -1;
      const se = sp2 < 0 ? le : sp2;
      if (minor < 0 || sp1 < 0 || se - sp1 !== 4 || !digit(b[sp1 + 1]) || !digit(b[sp1 + 2]) || !digit(b[sp1 + 3])) bad = 'not an HTTP/1.x status line';
    } else {
      let sp3 = -1;
      if (sp2 >= 0) for (let k = sp2 + 1; k < le; k++) if (b[k] === 0x20) { sp3 = k; break; }
      minor = sp2 >= 0 && le - sp2 === 9 ? version(b, sp2 + 1) : -1;
      if (sp1 < 0 || sp2 < 0 || sp3 >= 0 || minor < 0 || !isMethod(b, from, sp1)) bad = 'not an HTTP/1.x request line';
    }
    // One head object per parser: the previous message is over, its header values are cleared (so the
    // object keeps its shape and nothing is allocated for it).
    const h = this.h;
    const headers = h.headers;
    this.clearHeaders();
    // Headers: only the ones someone reads (framing, and for responses what identity needs), by one scan.
    const keepAll = this.table === null;
    let count = 0;
    let past = -1;
    for (let i = eol + 1; ; ) {
      // A blank line (LF or CR LF) ends the head.
      if (i >= to) return -1;
      const b0 = b[i];
      if (b0 === 0x0a) {
        past = i + 1;
        break;
      }
      if (b0 === 0x0d && i + 1 < to && b[i + 1] === 0x0a) {
        past = i + 2;
        break;
      }
      // The first colon of the line (if any), then its end.
      let c = i;
      while (c < to && b[c] !== 0x3a && b[c] !== 0x0a) c++;
      const e = lineFeed(b, c, to);
      if (e >= to) return -1;
      // Only names of a wanted length are compared (most headers are skipped without allocating).
      if (c > i && c < e && ++count <= 200 && (keepAll || this.wantedLengths[Math.min(c - i, 63)] === 1)) {
        const len = c - i;
        const slots = len < 63 ? this.byLength[len] : undefined;
        // Fast path: a name with no surrounding white space compared in place against the wanted names of its length.
        let slot = -1;
        let name: string | undefined;
        if (slots !== undefined && b[i] > 0x20 && b[c - 1] > 0x20) slot = matchName(b, i, c, slots, this.names);
        else {
          name = latin1(b, i, c).trim().toLowerCase();
          if (!keepAll) slot = this.table!.slots.get(name) ?? -1;
        }
        if (slot >= 0 || (keepAll && name !== undefined)) {
          // The value trimmed as String#trim would, by index.
          let vs = c + 1;
          let ve = e;
          while (vs < ve && isTrimmed(b[vs])) vs++;
          while (ve > vs && isTrimmed(b[ve - 1])) ve--;
          // Backend names, instances, content types repeat response after response: the last string is reused when it matches.
          const seen = slot >= 0 ? this.last[slot] : this.lastByName!.get(name!);
          const value = seen !== undefined && seen.length === ve - vs && bytesEqual(b, vs, seen) ? seen : latin1(b, vs, ve);
          if (value !== seen) {
            if (slot >= 0) this.last[slot] = value;
            else this.lastByName!.set(name!, value);
          }
          const key = slot >= 0 ? this.names[slot] : name!;
          const prev = headers[key];
          if (prev === undefined) {
            if (slot >= 0) this.setSlots[this.setCount++] = slot;
            else this.setNames[this.setCount++] = key;
          }
          headers[key] = prev === undefined ? value : `${prev}, ${value}`;
        }
      }
      i = e + 1;
    }
    if (bad !== '') {
      this.stop(bad);
      return past;
    }
    h.minor = minor;
    if (this.isResponse) {
      h.method = '';
      h.status = (b[sp1 + 1] - 0x30) * 100 + (b[sp1 + 2] - 0x30) * 10 + (b[sp1 + 3] - 0x30);
    } else {
      h.method = methodAt(b, from, sp1);
      h.status = 0;
    }
    this.bodyBuf = null;
    this.bodyOwned = false;
    this.kept = 0;
    this.bodyBytes = 0;
    const noBody = this.sink.head(h, frame, t);
    if (this.state === S_STOPPED) return past; // the sink stopped us (protocol switch)
    const te = headers['transfer-encoding'];
    const cl = headers['content-length'];
    if (noBody) this.finish(frame, t);
    else if (te !== undefined && te !== '' && /(^|,)\s*chunked\s*$/.test(te.toLowerCase())) {
      this.state = S_CHUNK_SIZE;
      this.line = '';
    } else if (cl !== undefined) {
      // Plain digits (nearly always) without the regex; anything else (spaces, a repeated value) by it.
      const plain = cl.length > 0 && cl.length <= 15 && allDigits(cl);
      const m = plain ? null : /^\s*(\d{1,15})\s*(,\s*\1\s*)*$/.exec(cl);
      if (!plain && m === null) {
        this.stop('bad Content-Length');
        return past;
      }
      this.remaining = Number(plain ? cl : m![1]);
      if (this.remaining === 0) this.finish(frame, t);
      else this.state = S_LENGTH;
    } else if (this.isResponse) this.state = S_UNTIL_CLOSE;
    else this.finish(frame, t);
    return past;
  }

  private keep(buf: Buffer, from: number, to: number): void {
    const n = to - from;
    this.bodyBytes += n;
    if (this.kept < this.bodyCap && n > 0) {
      const take = Math.min(n, this.bodyCap - this.kept);
      if (this.bodyBuf === null) {
        // The caller's buffer itself: copied at the end of feed() only if the message is not over by then.
        this.bodyBuf = buf;
        this.bodyStart = from;
        this.bodyEnd = from + take;
        this.bodyOwned = false;
      } else {
        this.toOwn(this.kept + take);
        buf.copy(this.own, this.kept, from, from + take);
        this.bodyEnd = this.kept + take;
      }
      this.kept += take;
    }
  }

  private finish(frame: number, t: number): void {
    const body = this.bodyBuf ?? EMPTY;
    const from = this.bodyBuf === null ? 0 : this.bodyStart;
    const to = this.bodyBuf === null ? 0 : this.bodyEnd;
    const bytes = this.bodyBytes;
    this.bodyBuf = null;
    this.bodyOwned = false;
    this.kept = 0;
    this.bodyBytes = 0;
    this.state = S_IDLE;
    this.messages++;
    this.sink.end(body, from, to, bytes, frame, t);
  }
}

const HTTP_1 = 'HTTP/1.';

/** HTTP/1.0 or HTTP/1.1 at b[i, i+8): the minor version, else -1. */
function version(b: Buffer, i: number): number {
  if (!bytesEqual(b, i, HTTP_1)) return -1;
  const m = b[i + 7];
  return m === 0x30 ? 0 : m === 0x31 ? 1 : -1;
}

function digit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

function allDigits(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (!digit(s.charCodeAt(i))) return false;
  return true;
}

/** Index just past the blank line ending a head (LF LF or CRLF CRLF, mixed allowed) in b[from, end), or -1. */
function headEnd(b: Buffer, from: number, end: number): number {
  // A byte loop: heads are short, and Buffer#indexOf costs a native call per line.
  for (let i = from; i < end; i++) {
    if (b[i] !== 0x0a) continue;
    let j = i + 1;
    if (j < end && b[j] === 0x0d) j++;
    if (j < end && b[j] === 0x0a) return j + 1;
  }
  return -1;
}
