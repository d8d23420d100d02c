/**
 * The capture's HTTP layer: the packet loop hands it every TCP segment with payload, FIN or RST
 * (after the tracker), and it keeps one `HttpStream` per connection that started like HTTP/1.x.
 * A stream whose first payload does not look like HTTP is marked once and costs one property
 * check per later packet. Exchanges go to the sink (the tallies adapter) as responses complete;
 * `finish(c)` is called when the tracker is done with a connection.
 */
import type { Conn } from '../connection.js';
import type { Decoded } from '../decode.js';
import { looksLikeHttp } from './parser.js';
import { KIND_HTTP2, KIND_TLS, payloadKind } from './payload-kind.js';
import { HttpStream, type CaptureExchange } from './stream.js';

/** `Conn.http` for a stream that is not HTTP/1.x, or whose HTTP state was already finished. */
const NOT_HTTP: object = Object.freeze({ notHttp: true });

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

export class HttpLayer {
  readonly counters: HttpCounters = { streams: 0, requests: 0, responses: 0, gaps: 0, snaplen: 0, gaveUp: 0, orphanResponses: 0, unanswered: 0, http2: 0, tls: 0 };
  private readonly events;
  private readonly shared;

  constructor(
    private readonly sink: HttpSink,
    onMessage?: (stream: number, response: boolean, frame: number) => void,
    /** Response headers identity extraction reads (null: all). */
    responseHeaders: readonly string[] | null = null,
  ) {
    this.events = { exchange: (x: CaptureExchange, c: Conn) => sink.exchange(x, c), message: onMessage };
    this.shared = Object.assign(this.counters, { responseHeaders, requestOrder: 0 });
  }

  /** A TCP segment with payload, FIN or RST; `poff` is where its payload starts in `buf`, `end` where the captured bytes end. */
  segment(c: Conn, p: Decoded, buf: Buffer, poff: number, end: number, frame: number): void {
    let h = c.http;
    if (h === NOT_HTTP) return;
    if (h === null) {
      if (p.seglen <= 0) return; // decided on the first payload
      const last = Math.min(end, poff + p.seglen);
      if (!looksLikeHttp(buf, poff, last)) {
        c.http = NOT_HTTP;
        const kind = payloadKind(buf, poff, last);
        if (kind === KIND_HTTP2) this.counters.http2++;
        else if (kind === KIND_TLS) this.counters.tls++;
        return;
      }
      h = new HttpStream(c, this.events, this.shared);
      c.http = h;
      this.counters.streams++;
    }
    (h as HttpStream).segment(p, buf, poff, end, frame);
  }

  /** The tracker is done with `c` (settled, released, replaced or at the end of input). */
  finish(c: Conn): void {
    const h = c.http;
    if (h === null || h === NOT_HTTP) return;
    c.http = NOT_HTTP;
    const s = h as HttpStream;
    const { unanswered } = s.finish();
    this.counters.unanswered += unanswered;
    this.counters.requests += s.requests;
    this.counters.responses += s.responses;
    this.sink.connectionDone(c, s);
  }

  /** A settled connection came back to life: its HTTP state was finished already. */
  revived(c: Conn): void {
    c.http = NOT_HTTP;
  }
}
