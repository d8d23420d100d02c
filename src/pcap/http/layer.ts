/**
 * The capture's HTTP layer: one `HttpStream` per connection that started like HTTP/1.x, fed the
 * compact segment events the TCP side hands over (http/front.ts decides which connections are
 * HTTP and extracts the events; in one thread it calls this class directly, with `--threads` it
 * writes them into a ring that threads/http-worker.ts replays here). Exchanges go to the sink (the
 * tallies adapter) as responses complete; `finish` is called when the tracker is done with a
 * connection.
 *
 * What this layer (stream.ts, tallies.ts) reads of a connection: its stream number, addresses and
 * ports, which side is the client, and at `finish` the FIN/RST frames of both directions and the
 * time of its last packet. It never sees a decoded packet: test/pcap-threads.test.ts checks that
 * the worker's copy carries every field of `Conn` these files name (threads/event.ts).
 */
import type { Conn } from '../connection.js';
import { clientIsA } from '../connection.js';
import { KIND_HTTP2, KIND_TLS } from '../payload-kind.js';
import { HttpStream, type CaptureExchange } from './stream.js';

export interface HttpCounters {
  /** Streams recognised as HTTP/1.x. */
  streams: number;
  requests: number;
  responses: number;
  /** Streams given up on a hole in the reassembled data (capture loss, snaplen, buffer cap). */
  gaps: number;
  /** Streams given up because the capture's snaplen cut a payload (tcpdump -s). */
  snaplen: number;
  gaveUp: number;
  /** Responses with no request before them (the capture started mid-connection). */
  orphanResponses: number;
  /** Requests with no response when the capture (or the connection) ended without a close. */
  unanswered: number;
  /** Streams not decoded: cleartext HTTP/2 (the client's preface seen), TLS (a record header first). */
  http2: number;
  tls: number;
}

export interface HttpSink {
  exchange(x: CaptureExchange, c: Conn): void;
  connectionDone(c: Conn, s: HttpStream): void;
}

/**
 * Where the TCP side's HTTP events go (http/front.ts): this layer in one thread, the ring to the
 * worker with `--threads`. `H` is the handle kept in `Conn.http` for a connection that is HTTP.
 */
export interface HttpBack<H extends object> {
  /** `c` is HTTP/1.x (its first payload looked like it): a new stream. */
  open(c: Conn): H;
  /** A stream that is not HTTP/1.x, of this kind (pcap/payload-kind.ts: KIND_*). */
  other(kind: number): void;
  /** A segment with payload, FIN or RST; `sIsA`: it was sent by endpoint A. See HttpStream.segment. */
  segment(h: H, c: Conn, sIsA: boolean, baseSeq: number, seq: number, len: number, flags: number, t: number, buf: Buffer, poff: number, end: number, frame: number): void;
  /** The tracker is done with `c`: requests left fail or are dropped, the connection is filed. */
  finish(h: H, c: Conn): void;
  /** The packet loop stops reading from the buffer it passed (its bytes may move): copy what is still needed. */
  flush?(): void;
}

/** Finished streams kept for reuse. */
const SPARE_STREAMS = 64;

export class HttpLayer implements HttpBack<HttpStream> {
  readonly counters: HttpCounters = { streams: 0, requests: 0, responses: 0, gaps: 0, snaplen: 0, gaveUp: 0, orphanResponses: 0, unanswered: 0, http2: 0, tls: 0 };
  private readonly events;
  private readonly shared;
  /** Finished streams kept for reuse (HttpStream.reset): a capture of many short connections makes few. */
  private readonly spare: HttpStream[] = [];

  constructor(
    private readonly sink: HttpSink,
    onMessage?: (stream: number, response: boolean, frame: number) => void,
    /** Response headers identity extraction reads (null: all). */
    responseHeaders: readonly string[] | null = null,
  ) {
    this.events = { exchange: (x: CaptureExchange, c: Conn) => sink.exchange(x, c), message: onMessage };
    this.shared = Object.assign(this.counters, { responseHeaders, requestOrder: 0 });
  }

  open(c: Conn): HttpStream {
    this.counters.streams++;
    const s = this.spare.pop();
    if (s === undefined) return new HttpStream(c, this.events, this.shared);
    s.reset(c);
    return s;
  }

  other(kind: number): void {
    if (kind === KIND_HTTP2) this.counters.http2++;
    else if (kind === KIND_TLS) this.counters.tls++;
  }

  segment(s: HttpStream, c: Conn, sIsA: boolean, baseSeq: number, seq: number, len: number, flags: number, t: number, buf: Buffer, poff: number, end: number, frame: number): void {
    s.segment(sIsA === clientIsA(c), baseSeq, seq, len, flags, t, buf, poff, end, frame);
  }

  finish(s: HttpStream, c: Conn): void {
    this.counters.unanswered += s.finish();
    this.counters.requests += s.requests;
    this.counters.responses += s.responses;
    this.sink.connectionDone(c, s);
    // Nothing holds a finished stream (the front's handle is gone, the sink read it): reused for a later connection.
    if (this.spare.length < SPARE_STREAMS) this.spare.push(s);
  }
}
