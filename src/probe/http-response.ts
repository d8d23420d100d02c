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

const CRLFCRLF = Buffer.from('\r\n\r\n');

type State = 'head' | 'length' | 'chunk-size' | 'chunk-data' | 'chunk-end' | 'trailers' | 'until-close' | 'done';

export class ResponseParser {
  private state: State = 'head';
  private pending: Buffer | null = null;
  private remaining = 0;
  private chunks: Buffer[] = [];
  private kept = 0;
  response: HttpResponse | null = null;

  constructor(
    private readonly bodyCap = 16 * 1024,
    private readonly headRequest = false,
  ) {}

  get done(): boolean {
    return this.state === 'done';
  }

  /** True when the body runs until the server closes the connection. */
  get untilClose(): boolean {
    return this.state === 'until-close';
  }

  /**
   * Feeds bytes. Returns true once a whole response is parsed. Throws on a malformed head.
   */
  feed(data: Buffer): boolean {
    const buf = this.pending ? Buffer.concat([this.pending, data]) : data;
    this.pending = null;
    let pos = 0;
    while (pos < buf.length || this.state === 'done') {
      switch (this.state) {
        case 'done':
          return true;
        case 'head': {
          const end = buf.indexOf(CRLFCRLF, pos);
          if (end < 0) {
            if (buf.length - pos > 64 * 1024) throw new ParseError('response head larger than 64 KiB');
            this.pending = buf.subarray(pos);
            return false;
          }
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
          const eol = buf.indexOf(10, pos); // \n
          if (eol < 0) {
            this.pending = buf.subarray(pos);
            return false;
          }
          const line = buf.toString('latin1', pos, eol).trim();
          const size = parseInt(line.split(';')[0], 16);
          if (!Number.isFinite(size) || size < 0) throw new ParseError(`bad chunk size "${line.slice(0, 20)}"`);
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
          const eol = buf.indexOf(10, pos);
          if (eol < 0) {
            this.pending = buf.subarray(pos);
            return false;
          }
          pos = eol + 1;
          this.state = 'chunk-size';
          break;
        }
        case 'trailers': {
          // Trailer lines until an empty line.
          const eol = buf.indexOf(10, pos);
          if (eol < 0) {
            this.pending = buf.subarray(pos);
            return false;
          }
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
    return this.response !== null || (this.pending !== null && this.pending.length > 0);
  }

  private keep(buf: Buffer, from: number, to: number): void {
    if (!this.response) return;
    this.response.bodyBytes += to - from;
    if (this.kept < this.bodyCap && to > from) {
      const take = Math.min(to - from, this.bodyCap - this.kept);
      this.chunks.push(buf.subarray(from, from + take));
      this.kept += take;
    }
  }

  private finish(): void {
    if (this.response) this.response.body = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    this.state = 'done';
  }

  /** Returns true for an interim 1xx response (another head follows). */
  private parseHead(head: string): boolean {
    const lines = head.split('\r\n');
    const m = /^HTTP\/1\.([01]) (\d{3})/.exec(lines[0]);
    if (!m) throw new ParseError(`not an HTTP/1.x response: "${lines[0].slice(0, 40)}"`);
    const status = Number(m[2]);
    if (status >= 100 && status < 200 && status !== 101) return true;
    const headers: Record<string, string> = {};
    for (let i = 1; i < lines.length; i++) {
      const line = lines[i];
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      const name = line.slice(0, colon).trim().toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
    }
    const conn = (headers.connection ?? '').toLowerCase();
    const close = conn.includes('close') || (m[1] === '0' && !conn.includes('keep-alive'));
    this.response = { status, headers, body: Buffer.alloc(0), bodyBytes: 0, close };
    const te = (headers['transfer-encoding'] ?? '').toLowerCase();
    if (this.headRequest || status === 204 || status === 304) this.finish();
    else if (te.includes('chunked')) this.state = 'chunk-size';
    else if (headers['content-length'] !== undefined) {
      const n = Number(headers['content-length']);
      if (!Number.isSafeInteger(n) || n < 0) throw new ParseError(`bad Content-Length "${headers['content-length']}"`);
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

export class ParseError extends Error {
  readonly code = 'BAD_RESPONSE';
}
