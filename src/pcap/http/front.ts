/**
 * The TCP side of the HTTP layer: what the packet loop (payload hook) and the tracker (finish,
 * revived) call, in one thread and with `--threads` alike. It decides which connections are
 * HTTP/1.x (the first payload of a connection; a stream that does not look like HTTP is marked
 * once and costs one property check per later packet; HTTP/2 and TLS streams are counted) and turns each segment of an HTTP
 * connection into a compact event (direction, base sequence number, sequence number, length,
 * flags, time, frame, payload) for its back end: the HTTP layer itself in one thread
 * (http/layer.ts), or the ring to the worker thread (threads/http-thread.ts). This is the only
 * HTTP file that reads a decoded packet.
 */
import type { Conn } from '../connection.js';
import type { Decoded } from '../decode.js';
import type { HttpBack } from './layer.js';
import { KIND_OTHER, looksLikeHttp, payloadKind } from '../payload-kind.js';

/** `Conn.http` for a stream that is not HTTP/1.x, or whose HTTP state was already finished. */
const NOT_HTTP: object = Object.freeze({ notHttp: true });

export class HttpFront<H extends object> {
  constructor(readonly back: HttpBack<H>) {}

  /** A TCP segment with payload, FIN or RST; `poff` is where its payload starts in `buf`, `end` where the captured bytes end. */
  segment(c: Conn, p: Decoded, buf: Buffer, poff: number, end: number, frame: number): void {
    let h = c.http;
    if (h === NOT_HTTP) return;
    const len = p.seglen;
    if (h === null) {
      if (len <= 0) return; // decided on the first payload
      const last = Math.min(end, poff + len);
      if (!looksLikeHttp(buf, poff, last)) {
        c.http = NOT_HTTP;
        const kind = payloadKind(buf, poff, last);
        if (kind !== KIND_OTHER) this.back.other(kind);
        return;
      }
      h = c.http = this.back.open(c);
    }
    const sIsA = p.sport === c.ap && p.s0 === c.a0 && (!p.v6 || (p.s1 === c.a1 && p.s2 === c.a2 && p.s3 === c.a3));
    this.back.segment(h as H, c, sIsA, (sIsA ? c.ab : c.ba).baseSeq, p.seq, len, p.flags, p.t, buf, poff, end, frame);
  }

  /** The packet loop is done with the buffer it passed to segment() until now (see HttpBack.flush). */
  flush(): void {
    this.back.flush?.();
  }

  /** The tracker is done with `c` (settled, released, replaced or at the end of input). */
  finish(c: Conn): void {
    const h = c.http;
    if (h === null || h === NOT_HTTP) return;
    c.http = NOT_HTTP;
    this.back.finish(h as H, c);
  }

  /** A settled connection came back to life: its HTTP state was finished already. */
  revived(c: Conn): void {
    c.http = NOT_HTTP;
  }
}
