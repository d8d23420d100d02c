/**
 * HTTP/1.x on one TCP stream: both directions reassembled in sequence order and parsed, requests
 * matched to responses in order (pipelining), one exchange per final response.
 *
 * Reassembly: each direction delivers bytes from the next expected sequence number. Bytes already
 * delivered (retransmissions, out-of-order duplicates, overlaps) are skipped; a segment ahead of
 * the next expected byte waits in a small buffer (`OOO_CAP` bytes per direction) until the hole
 * fills. A hole that never fills (capture loss, snaplen-truncated payload, buffer over its cap) is
 * a gap: the stream is given up cleanly (counted; exchanges already complete are kept, pending
 * requests are dropped, never guessed).
 */
import type { Conn } from '../connection.js';
import { clientIsA } from '../connection.js';
import { MessageParser, type MessageHead, type MessageSink } from './parser.js';

export const OOO_CAP = 64 * 1024;
/** Requests waiting for their responses (pipelining depth) kept per stream; more: given up. */
export const QUEUE_CAP = 256;
/** Body bytes kept per message for identity extraction. */
export const BODY_CAP = 16 * 1024;

/** Requests: only the framing headers are read. */
const NO_HEADERS: readonly string[] = [];

const FIN = 0x01;
const RST = 0x04;

/**
 * One request and its response (or how it failed), as a capture shows it. Every field is always
 * present with one type (numbers stay numbers: refilling the object allocates nothing).
 */
export interface CaptureExchange {
  stream: number;
  /** 1-based request number on the connection. */
  seq: number;
  method: string;
  /** Capture-relative seconds: request first byte, request last byte. */
  reqT: number;
  reqEndT: number;
  reqFrame: number;
  /** Place of the request among all HTTP requests of the capture, in the order they were seen (0-based): the probe's dispatch order. */
  order: number;
  /** No response: 'reset' (RST from the server side), 'closed' (FIN before a complete response); '' when a response came. */
  error: '' | 'reset' | 'closed';
  /** The response (when `error` is ''; else 0 and empty): first and last byte, status, headers, first body bytes `body[bodyStart, bodyEnd)`. */
  resT: number;
  resEndT: number;
  resFrame: number;
  status: number;
  headers: Record<string, string>;
  body: Buffer;
  bodyStart: number;
  bodyEnd: number;
  bodyBytes: number;
  /** The response ended the connection (Connection: close, HTTP/1.0 without keep-alive, or a body delimited by close). */
  close: boolean;
  /** Previous response on the connection ended this long before the request (seconds); -1: not a later request after a response. */
  idleS: number;
}

const EMPTY = Buffer.alloc(0);
const NO_RESPONSE_HEADERS: Record<string, string> = Object.freeze({}) as Record<string, string>;

/**
 * The one exchange object handed to `exchange()`, refilled for every exchange (one object, one shape,
 * no garbage per exchange): valid only during the call, a sink copies what it keeps.
 */
const X: CaptureExchange = {
  stream: 0,
  seq: 0,
  method: '',
  reqT: 0,
  reqEndT: 0,
  reqFrame: 0,
  order: 0,
  error: '',
  resT: 0,
  resEndT: 0,
  resFrame: 0,
  status: 0,
  headers: NO_RESPONSE_HEADERS,
  body: EMPTY,
  bodyStart: 0,
  bodyEnd: 0,
  bodyBytes: 0,
  close: false,
  idleS: -1,
};

function request(stream: number, r: Req): CaptureExchange {
  X.stream = stream;
  X.seq = r.seq;
  X.method = r.method;
  X.reqT = r.t;
  X.reqEndT = r.endT;
  X.reqFrame = r.frame;
  X.order = r.order;
  X.error = '';
  X.resT = X.resEndT = X.resFrame = X.status = X.bodyStart = X.bodyEnd = X.bodyBytes = 0;
  X.idleS = -1;
  X.headers = NO_RESPONSE_HEADERS;
  X.body = EMPTY;
  X.close = false;
  return X;
}

/** The last Connection header value seen and what it says (one backend sends the same value response after response). */
let lastConnection: string | undefined;
let lastSaysClose = false;
let lastSaysKeepAlive = false;

/** Does a response with this Connection header (and HTTP/1.`minor`) end its connection? */
function connectionCloses(value: string | undefined, minor: number): boolean {
  if (value !== lastConnection) {
    // Lower-cased once per distinct value (toLowerCase makes a new string every call).
    const v = (value ?? '').toLowerCase();
    lastConnection = value;
    lastSaysClose = v.includes('close');
    lastSaysKeepAlive = v.includes('keep-alive');
  }
  return lastSaysClose || (minor === 0 && !lastSaysKeepAlive);
}

export interface StreamEvents {
  /** An exchange: `x` is reused for the next one (see `X`). */
  exchange(x: CaptureExchange, c: Conn): void;
  /** Each parsed message, for comparison with tshark's http.request / http.response frames. */
  message?(stream: number, response: boolean, frame: number): void;
}

interface Pending {
  seq: number;
  data: Buffer;
}

class Way {
  next = 0;
  started = false;
  pending: Pending[] = [];
  pendingBytes = 0;
  fin = false;
  constructor(readonly parser: MessageParser) {}

  /** As new (for a stream reused for another connection). */
  reset(): void {
    this.next = 0;
    this.started = false;
    if (this.pending.length) this.pending = [];
    this.pendingBytes = 0;
    this.fin = false;
    this.parser.reset();
  }
}

/** A request waiting for its response; reused once its exchange is handed over (HttpStream.spareReqs). */
class Req {
  seq = 0;
  method = '';
  t = 0;
  endT = 0;
  frame = 0;
  order = 0;
}

/**
 * Requests waiting for their responses, oldest first: a ring whose store only grows (Array#shift
 * trims an array's store and the next push grows it again, garbage on every exchange).
 */
class ReqQueue {
  private items: (Req | null)[] = [null, null, null, null];
  private head = 0;
  length = 0;

  push(r: Req): void {
    let items = this.items;
    if (this.length === items.length) {
      const grown: (Req | null)[] = new Array<Req | null>(items.length * 2).fill(null);
      for (let i = 0; i < this.length; i++) grown[i] = items[(this.head + i) & (items.length - 1)];
      this.items = items = grown;
      this.head = 0;
    }
    items[(this.head + this.length) & (items.length - 1)] = r;
    this.length++;
  }

  /** The oldest, or undefined. */
  first(): Req | undefined {
    return this.length > 0 ? this.items[this.head]! : undefined;
  }

  shift(): Req | undefined {
    if (this.length === 0) return undefined;
    const r = this.items[this.head]!;
    this.items[this.head] = null;
    this.head = (this.head + 1) & (this.items.length - 1);
    this.length--;
    return r;
  }

  at(i: number): Req {
    return this.items[(this.head + i) & (this.items.length - 1)]!;
  }

  /** Empties the queue, handing its requests to `spare` (up to `cap` there). */
  clear(spare: Req[] | null, cap: number): void {
    for (let i = 0; i < this.length; i++) {
      const k = (this.head + i) & (this.items.length - 1);
      if (spare !== null && spare.length < cap) spare.push(this.items[k]!);
      this.items[k] = null;
    }
    this.head = 0;
    this.length = 0;
  }
}

/** The request parser's sink: one small object per stream (not a literal with three closures). */
class RequestSink implements MessageSink {
  constructor(private readonly s: HttpStream) {}
  start(frame: number, t: number): void {
    this.s.reqStart(frame, t);
  }
  head(h: MessageHead): boolean {
    return this.s.reqHead(h);
  }
  end(_b: Buffer, _bs: number, _be: number, _n: number, frame: number, t: number): void {
    this.s.reqEnd(frame, t);
  }
}

/**
 * One connection's HTTP state. Reused: when the layer is done with a stream it may hand the same
 * object (its parsers, buffers, spare requests) to a later connection after reset(), which makes
 * it as new (test/pcap-http-reuse.test.ts checks that field by field).
 */
export class HttpStream implements MessageSink {
  stream: number;
  conn: Conn;
  requests = 0;
  /** The client asked to close: its last request had `Connection: close` (or was HTTP/1.0 without keep-alive). */
  clientClose = false;
  responses = 0;
  gaveUp = '';
  private readonly cli: Way;
  private readonly srv: Way;
  private readonly queue = new ReqQueue();
  private cur: Req | null = null;
  private resT = 0;
  private resFrame = 0;
  private resHead: MessageHead | null = null;
  private lastResEnd = -1;
  private reqSeq = 0;
  /** Requests whose exchanges were handed over, for reuse. */
  private readonly spareReqs: Req[] = [];

  constructor(
    conn: Conn,
    private readonly events: StreamEvents,
    private readonly counters: { gaps: number; snaplen: number; orphanResponses: number; gaveUp: number; responseHeaders: readonly string[] | null; requestOrder: number },
  ) {
    this.conn = conn;
    this.stream = conn.stream;
    this.cli = new Way(new MessageParser(false, new RequestSink(this), 0, NO_HEADERS));
    this.srv = new Way(new MessageParser(true, this, BODY_CAP, counters.responseHeaders));
  }

  /** Makes this stream as new for connection `conn` (the layer reuses finished streams). */
  reset(conn: Conn): void {
    this.conn = conn;
    this.stream = conn.stream;
    this.requests = 0;
    this.responses = 0;
    this.gaveUp = '';
    this.clientClose = false;
    this.cli.reset();
    this.srv.reset();
    const spare = this.spareReqs;
    this.queue.clear(spare, QUEUE_CAP);
    if (this.cur !== null && spare.length < QUEUE_CAP) spare.push(this.cur);
    this.cur = null;
    this.resT = 0;
    this.resFrame = 0;
    this.resHead = null;
    this.lastResEnd = -1;
    this.reqSeq = 0;
  }

  /**
   * One segment with payload, FIN or RST, after the tracker has seen it, as the compact event both
   * paths hand over (http/front.ts, threads/): whether it came from the client, its direction's
   * base sequence number (read on the direction's first segment), sequence number, TCP payload
   * length, flags and capture time; the captured payload is `buf[poff, end)`.
   */
  segment(fromClient: boolean, baseSeq: number, seqNo: number, len: number, flags: number, t: number, buf: Buffer, poff: number, end: number, frame: number): void {
    if (this.gaveUp !== '') return;
    const way = fromClient ? this.cli : this.srv;
    if (!way.started) {
      way.started = true;
      way.next = (baseSeq + 1) >>> 0;
    }
    if (flags & RST) {
      // A reset ends both ways; pending requests fail at finish().
      return;
    }
    if (len > 0) {
      const seq = seqNo >>> 0;
      const rel = (seq - way.next) | 0;
      const avail = Math.min(len, end - poff);
      if (rel <= 0) {
        const skip = -rel;
        if (skip < len) {
          if (avail < len) return this.giveUp('payload cut by the capture snaplen', true);
          way.next = (way.next + (len - skip)) >>> 0;
          way.parser.feed(buf, poff + skip, poff + len, frame, t);
          if (way.pending.length) this.drain(way, frame, t);
        }
      } else {
        if (avail < len) return this.giveUp('payload cut by the capture snaplen', true);
        if (way.pendingBytes + len > OOO_CAP) return this.giveUp('hole in the stream (segments missing from the capture)');
        way.pending.push({ seq, data: Buffer.from(buf.subarray(poff, poff + len)) });
        way.pendingBytes += len;
      }
    }
    if (flags & FIN && !way.fin) {
      const finSeq = ((seqNo >>> 0) + Math.max(0, len)) >>> 0;
      if (finSeq === way.next && way.pending.length === 0) {
        way.fin = true;
        way.parser.close(frame, t);
      }
    }
    if (this.cli.parser.stopped !== '' && this.srv.parser.stopped !== '') this.gaveUp = this.gaveUp || 'stopped';
  }

  private drain(way: Way, frame: number, t: number): void {
    let progress = true;
    while (progress && way.pending.length) {
      progress = false;
      for (let i = 0; i < way.pending.length; i++) {
        const s = way.pending[i];
        const rel = (s.seq - way.next) | 0;
        if (rel > 0) continue;
        way.pending.splice(i, 1);
        way.pendingBytes -= s.data.length;
        const skip = -rel;
        if (skip < s.data.length) {
          way.next = (way.next + (s.data.length - skip)) >>> 0;
          way.parser.feed(s.data, skip, s.data.length, frame, t);
        }
        progress = true;
        break;
      }
    }
  }

  private giveUp(reason: string, snaplen = false): void {
    if (this.gaveUp !== '') return;
    this.gaveUp = reason;
    if (snaplen) this.counters.snaplen++;
    else this.counters.gaps++;
    this.counters.gaveUp++;
    this.cli.parser.stop(reason);
    this.srv.parser.stop(reason);
    this.cli.pending = [];
    this.srv.pending = [];
    this.queue.clear(null, 0);
    this.cur = null;
  }

  // Requests ---------------------------------------------------------------------------------

  /** @internal (RequestSink) */
  reqStart(frame: number, t: number): void {
    const r = this.spareReqs.pop() ?? new Req();
    r.seq = ++this.reqSeq;
    r.method = '';
    r.t = t;
    r.endT = t;
    r.frame = frame;
    r.order = this.counters.requestOrder++;
    this.cur = r;
  }

  /** @internal (RequestSink) */
  reqHead(h: MessageHead): boolean {
    if (this.cur) this.cur.method = h.method;
    const conn = h.headers.connection;
    this.clientClose = conn !== undefined ? /close/i.test(conn) : h.minor === 0;
    if (h.minor === 0 && conn !== undefined && !/keep-alive/i.test(conn)) this.clientClose = true;
    return false;
  }

  /** @internal (RequestSink) */
  reqEnd(frame: number, t: number): void {
    const r = this.cur;
    if (!r) return;
    this.cur = null;
    r.endT = t;
    r.frame = frame;
    this.requests++;
    this.events.message?.(this.stream, false, frame);
    if (this.queue.length >= QUEUE_CAP) return this.giveUp('too many requests without responses');
    this.queue.push(r);
  }

  // Responses (this object is the response parser's sink) -------------------------------------

  start(frame: number, t: number): void {
    this.resT = t;
    this.resFrame = frame;
    this.resHead = null;
  }

  head(h: MessageHead): boolean {
    this.resHead = h;
    const req = this.queue.first();
    if (h.status >= 100 && h.status < 200) {
      if (h.status === 101) {
        // Protocol switch (WebSocket, h2c): the rest is not HTTP/1.x. The 101 is counted, then stop.
        this.responses++;
        this.events.message?.(this.stream, true, this.resFrame);
        this.cli.parser.stop('protocol switch');
        this.srv.parser.stop('protocol switch');
      }
      return true;
    }
    if (req && req.method === 'CONNECT' && h.status < 300) {
      this.cli.parser.stop('CONNECT tunnel');
    }
    return (req !== undefined && req.method === 'HEAD') || h.status === 204 || h.status === 304;
  }

  end(body: Buffer, bodyStart: number, bodyEnd: number, bodyBytes: number, frame: number, t: number): void {
    const h = this.resHead;
    if (!h) return;
    this.responses++;
    this.events.message?.(this.stream, true, frame);
    if (h.status < 200) return; // interim (100 Continue, 103 Early Hints): the final one follows
    const req = this.queue.shift();
    if (req === undefined) {
      this.counters.orphanResponses++;
      return;
    }
    const close = connectionCloses(h.headers.connection, h.minor) || this.srv.parser.untilClose || this.srv.fin;
    const x = request(this.stream, req);
    x.resT = this.resT;
    x.resEndT = t;
    x.resFrame = frame;
    x.status = h.status;
    x.headers = h.headers;
    x.body = body;
    x.bodyStart = bodyStart;
    x.bodyEnd = bodyEnd;
    x.bodyBytes = bodyBytes;
    x.close = close;
    if (this.lastResEnd >= 0 && req.seq > 1) x.idleS = Math.max(0, req.t - this.lastResEnd);
    this.lastResEnd = t;
    this.events.exchange(x, this.conn);
    this.spareReqs.push(req);
  }

  /** The connection is over (closed, released, or the capture ended): requests left fail or are dropped; returns how many were dropped (unanswered). */
  finish(): number {
    const c = this.conn;
    const srvIsA = !clientIsA(c);
    const srvDir = srvIsA ? c.ab : c.ba;
    const cliDir = srvIsA ? c.ba : c.ab;
    // The server side closed with the request outstanding: that is how the probe's requests fail too.
    const how: 'reset' | 'closed' | '' = srvDir.rstFrame !== 0 || cliDir.rstFrame !== 0 ? 'reset' : srvDir.finFrame !== 0 ? 'closed' : '';
    let unanswered = 0;
    // The client acknowledged server bytes the capture never delivered (tshark: "ACKed unseen segment"):
    // the capture lost part of the answers, so a request still waiting is not a failed one. One byte
    // of slack for the server's FIN, which the capture may have lost harmlessly.
    if (this.gaveUp === '' && this.queue.length > 0 && cliDir.lastack !== 0) {
      const expected = this.srv.started ? this.srv.next : srvDir.baseSet ? (srvDir.baseSeq + 1) >>> 0 : -1;
      if (expected >= 0 && ((cliDir.lastack - expected) | 0) > 1) this.giveUp('server data acknowledged but not in the capture');
    }
    if (this.gaveUp !== '' && this.gaveUp !== 'stopped') return unanswered;
    // A body delimited by a close that came as a reset: the response is as complete as it will get.
    for (let i = 0; i < this.queue.length; i++) {
      const r = this.queue.at(i);
      if (how === '' || this.srv.parser.stopped !== '') {
        unanswered++;
        continue;
      }
      const x = request(this.stream, r);
      x.error = how;
      if (this.lastResEnd >= 0 && r.seq > 1) x.idleS = Math.max(0, r.t - this.lastResEnd);
      this.events.exchange(x, c);
    }
    this.queue.clear(this.spareReqs, QUEUE_CAP);
    return unanswered;
  }
}
