/**
 * Seeded generators of HTTP/1.1 responses for fuzzing the probe: well-formed ones with every
 * framing the parser knows (Content-Length, chunked with extensions and trailers, close-delimited,
 * 1xx before the final head) and mutations of them (garbage, truncation, flipped bytes, huge
 * headers, bad chunking). Deterministic for a seed, so a failure names the seed that replays it.
 */
export class Rng {
  private s: number;
  constructor(seed: number) {
    this.s = seed >>> 0 || 0x9e3779b9;
  }
  /** xorshift32 in [0, 1). */
  next(): number {
    let x = this.s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.s = x >>> 0;
    return this.s / 0x1_0000_0000;
  }
  int(n: number): number {
    return Math.floor(this.next() * n);
  }
  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)];
  }
  bytes(n: number): Buffer {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
}

export interface Generated {
  bytes: Buffer;
  /** What the response is, for failure messages. */
  label: string;
  /** The body ends only when the server closes (the parser needs end()). */
  untilClose: boolean;
}

/** A well-formed response with random framing. */
export function wellFormed(r: Rng): Generated {
  const body = Buffer.from('x'.repeat(r.int(3) === 0 ? r.int(40_000) : r.int(300)));
  const interim = r.int(4) === 0 ? 'HTTP/1.1 100 Continue\r\n\r\n'.repeat(1 + r.int(3)) : '';
  const status = r.pick([200, 201, 204, 301, 404, 503]);
  const headers = [`HTTP/1.${r.int(2)} ${status} Whatever`, `X-Lbdiag-Backend: b${r.int(5)}`];
  for (let i = r.int(5); i > 0; i--) headers.push(`X-Pad-${i}: ${'p'.repeat(r.int(200))}`);
  const framing = status === 204 ? 'none' : r.pick(['length', 'chunked', 'close']);
  let payload: Buffer;
  if (framing === 'length') {
    headers.push(`Content-Length: ${body.length}`);
    payload = body;
  } else if (framing === 'chunked') {
    headers.push('Transfer-Encoding: chunked');
    const parts: Buffer[] = [];
    let i = 0;
    while (i < body.length) {
      const n = Math.min(body.length - i, 1 + r.int(5000));
      const ext = r.int(5) === 0 ? ';name=value' : '';
      parts.push(Buffer.from(`${n.toString(r.int(2) ? 16 : 16).toUpperCase()}${ext}\r\n`), body.subarray(i, i + n), Buffer.from('\r\n'));
      i += n;
    }
    parts.push(Buffer.from(r.int(3) === 0 ? '0\r\nX-Trailer: t\r\n\r\n' : '0\r\n\r\n'));
    payload = Buffer.concat(parts);
  } else if (framing === 'close') {
    payload = body;
  } else payload = Buffer.alloc(0);
  const head = Buffer.from(`${interim}${headers.join('\r\n')}\r\n\r\n`, 'latin1');
  return { bytes: Buffer.concat([head, payload]), label: `${status} ${framing}${interim ? ' +1xx' : ''} body ${body.length}`, untilClose: framing === 'close' };
}

const MUTATIONS = ['garbage', 'truncate', 'flip', 'insert', 'huge-header', 'bad-chunk-size', 'bad-length', 'long-chunk-line', 'duplicate'] as const;

/** A well-formed response, mutated one or more ways (or pure garbage). */
export function mutated(r: Rng): Generated {
  const base = wellFormed(r);
  let b = base.bytes;
  const applied: string[] = [];
  for (let k = 1 + r.int(2); k > 0; k--) {
    const m = r.pick(MUTATIONS);
    applied.push(m);
    switch (m) {
      case 'garbage':
        b = r.bytes(1 + r.int(2000));
        break;
      case 'truncate':
        b = b.subarray(0, r.int(b.length + 1));
        break;
      case 'flip': {
        b = Buffer.from(b);
        for (let i = 1 + r.int(4); i > 0 && b.length; i--) b[r.int(b.length)] = r.int(256);
        break;
      }
      case 'insert': {
        const at = r.int(b.length + 1);
        b = Buffer.concat([b.subarray(0, at), r.pick([Buffer.from('\r\n'), Buffer.from('\r\n\r\n'), Buffer.from(':'), r.bytes(1 + r.int(30))]), b.subarray(at)]);
        break;
      }
      case 'huge-header': {
        const at = b.indexOf('\r\n');
        if (at > 0) b = Buffer.concat([b.subarray(0, at + 2), Buffer.from(`X-Huge: ${'h'.repeat(r.int(3) === 0 ? 70_000 : 20_000)}\r\n`), b.subarray(at + 2)]);
        break;
      }
      case 'bad-chunk-size':
        b = Buffer.from(b.toString('latin1').replace(/\r\n\r\n([0-9A-F]+)/, `\r\n\r\n${r.pick(['-5', 'zz', '0x10', '', ' ', 'FFFFFFFFFFFFFFFFFF'])}`), 'latin1');
        break;
      case 'bad-length':
        b = Buffer.from(b.toString('latin1').replace(/Content-Length: \d+/, `Content-Length: ${r.pick(['-1', 'abc', '1e3', '99999999999999999999', '5, 6', ''])}`), 'latin1');
        break;
      case 'long-chunk-line':
        b = Buffer.from(b.toString('latin1').replace(/\r\n\r\n([0-9A-F]+)/, `\r\n\r\n$1;${'e'.repeat(5000)}`), 'latin1');
        break;
      case 'duplicate':
        b = Buffer.concat([b, b]);
        break;
    }
  }
  return { bytes: b, label: `${base.label} mutated ${applied.join('+')}`, untilClose: base.untilClose };
}
