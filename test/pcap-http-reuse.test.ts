/**
 * The capture's HTTP layer reuses what a finished connection leaves (http/layer.ts keeps finished
 * `HttpStream`s, with their parsers and spare requests, for later connections; parser.ts gathers a
 * body that spans segments in a buffer of its own instead of Buffer views): a reused stream must be
 * exactly a new one, and bodies must reach the sink byte for byte however they were segmented.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Conn } from '../src/pcap/connection.js';
import { HttpLayer, type HttpSink } from '../src/pcap/http/layer.js';
import { HttpStream, BODY_CAP, type CaptureExchange } from '../src/pcap/http/stream.js';
import { MessageParser, type MessageHead } from '../src/pcap/http/parser.js';

/**
 * Left out: what is shared or a cache (the sink, counters, wanted-header tables, last values, the
 * body copy buffer, spare requests), the scratch lists of set header slots, read only below
 * `setCount` (which is compared), and the request queue's store (its capacity only grows; that it
 * holds nothing is checked apart).
 */
const SKIP = new Set(['events', 'counters', 'conn', 'sink', 'table', 'names', 'wantedLengths', 'byLength', 'last', 'lastByName', 'own', 'spareReqs', 's', 'setSlots', 'setNames', 'items']);

/** A deep, comparable picture of an object's own state (shared tables and caches left out; unset header slots dropped). */
function snap(v: unknown, depth = 0): unknown {
  if (depth > 6) return '...';
  if (Buffer.isBuffer(v)) return `buf:${v.toString('hex')}`;
  if (Array.isArray(v)) return v.map((e) => snap(e, depth + 1));
  if (v instanceof Map) return [...v].map(([k, e]) => [k, snap(e, depth + 1)]);
  if (v !== null && typeof v === 'object') {
    const o: Record<string, unknown> = { class: v.constructor?.name };
    for (const [k, e] of Object.entries(v)) if (!SKIP.has(k) && e !== undefined) o[k] = snap(e, depth + 1);
    return o;
  }
  return v;
}

function conn(stream: number): Conn {
  const c = new Conn();
  c.stream = stream;
  c.a0 = 0x7f000001;
  c.b0 = 0x7f000002;
  c.ap = 40000 + stream;
  c.bp = 80;
  c.clientIsA = 1;
  return c;
}

class Recorder implements HttpSink {
  exchanges: { stream: number; seq: number; status: number; error: string; body: string; bodyBytes: number; idleS: number }[] = [];
  exchange(x: CaptureExchange): void {
    this.exchanges.push({ stream: x.stream, seq: x.seq, status: x.status, error: x.error, body: x.body.toString('latin1', x.bodyStart, x.bodyEnd), bodyBytes: x.bodyBytes, idleS: x.idleS });
  }
  connectionDone(): void {}
}

const FIN = 0x01;

test('a finished HttpStream handed to a new connection is exactly a new one', () => {
  const sink = new Recorder();
  const layer = new HttpLayer(sink, undefined, ['x-lbdiag-backend', 'content-type']);
  const c1 = conn(1);
  const s1 = layer.open(c1);
  // Client: seven pipelined requests and half of an eighth (the queue grows past its first store); server: one answer,
  // the head and part of the body of the next, and a segment ahead of a hole (waits in the out-of-order buffer).
  const req = Buffer.from(`${'GET /a HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(7)}POST /c HTTP/1.1\r\nContent-Length: 10\r\n\r\n12345`);
  layer.segment(s1, c1, true, 1000, 1001, req.length, 0x18, 1.0, req, 0, req.length, 5);
  const res = Buffer.from('HTTP/1.1 200 OK\r\nX-Lbdiag-Backend: be1\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nbe1HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n0123456789');
  layer.segment(s1, c1, false, 5000, 5001, res.length, 0x18, 1.1, res, 0, res.length, 6);
  const ahead = Buffer.from('zz');
  layer.segment(s1, c1, false, 5000, 5001 + res.length + 5, 2, 0x18, 1.2, ahead, 0, 2, 7);
  layer.finish(s1, c1);
  assert.equal(sink.exchanges.length, 1);
  const c2 = conn(2);
  const s2 = layer.open(c2);
  assert.equal(s2, s1, 'the finished stream is reused');
  assert.equal(s2.conn, c2);
  const fresh = new HttpStream(c2, { exchange: () => {} }, { gaps: 0, snaplen: 0, orphanResponses: 0, gaveUp: 0, responseHeaders: ['x-lbdiag-backend', 'content-type'], requestOrder: 0 });
  assert.deepEqual(snap(s2), snap(fresh));
  const items = (s2 as unknown as { queue: { items: unknown[] } }).queue.items;
  assert.ok(items.length > 4 && items.every((r) => r === null), 'the grown queue store holds no request');
  // And it works as a new one: a full exchange on the new connection, numbered from 1.
  const r2 = Buffer.from('GET / HTTP/1.1\r\n\r\n');
  layer.segment(s2, c2, true, 100, 101, r2.length, 0x18, 2.0, r2, 0, r2.length, 9);
  const a2 = Buffer.from('HTTP/1.1 204 No Content\r\n\r\n');
  layer.segment(s2, c2, false, 200, 201, a2.length, 0x18, 2.1, a2, 0, a2.length, 10);
  assert.deepEqual(sink.exchanges[1], { stream: 2, seq: 1, status: 204, error: '', body: '', bodyBytes: 0, idleS: -1 });
});

test('MessageParser.reset makes a parser stopped mid-message exactly a new one', () => {
  const sinkOf = (): { start(): void; head(h: MessageHead): boolean; end(): void } => ({ start() {}, head: () => false, end() {} });
  const p = new MessageParser(true, sinkOf(), BODY_CAP, ['content-type']);
  const b = Buffer.from('HTTP/1.1 200 OK\r\nContent-Type: a/b\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel');
  p.feed(b, 0, b.length, 1, 1);
  assert.ok(p.inMessage);
  p.reset();
  assert.deepEqual(snap(p), snap(new MessageParser(true, sinkOf(), BODY_CAP, ['content-type'])));
});

/** The response bodies the sink gets for `wire` fed in pieces of `step` bytes (several messages, pipelined). */
function bodies(wire: Buffer, step: number): { body: string; bytes: number }[] {
  const out: { body: string; bytes: number }[] = [];
  const p = new MessageParser(true, { start() {}, head: () => false, end: (body, from, to, bytes) => void out.push({ body: body.toString('latin1', from, to), bytes }) }, BODY_CAP, []);
  for (let i = 0; i < wire.length; i += step) {
    // A fresh buffer per feed, scribbled afterwards: what the parser keeps must be its own copy.
    const piece = Buffer.from(wire.subarray(i, Math.min(wire.length, i + step)));
    p.feed(piece, 0, piece.length, 1, 1);
    piece.fill(0x23);
  }
  return out;
}

test('bodies reach the sink byte for byte, however the stream is cut (length, chunked, over the kept cap)', () => {
  const big = Buffer.alloc(BODY_CAP + 5000);
  for (let i = 0; i < big.length; i++) big[i] = 0x41 + (i % 26);
  const chunked = 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nWiki\r\n6\r\npedia \r\nE\r\nin \r\n\r\nchunks.\r\n0\r\n\r\n';
  const wire = Buffer.concat([
    Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nnginx\n'),
    Buffer.from(chunked),
    Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${big.length}\r\n\r\n`),
    big,
    Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n'),
  ]);
  const want = [
    { body: 'nginx\n', bytes: 6 },
    { body: 'Wikipedia in \r\n\r\nchunks.', bytes: 24 },
    { body: big.toString('latin1', 0, BODY_CAP), bytes: big.length },
    { body: '', bytes: 0 },
  ];
  // Compared as digests: a failure prints a few lines, not 16 KiB of body.
  const digest = (l: { body: string; bytes: number }[]): string[] => l.map((m) => `${m.bytes} ${m.body.length} ${createHash('sha1').update(m.body, 'latin1').digest('hex')}`);
  for (const step of [1, 2, 3, 7, 64, 1000, 4096, wire.length]) assert.deepEqual(digest(bodies(wire, step)), digest(want), `pieces of ${step} bytes`);
});

test('a pooled stream keeps no FIN or queue state from its last connection', () => {
  const sink = new Recorder();
  const layer = new HttpLayer(sink, undefined, []);
  const c1 = conn(1);
  const s1 = layer.open(c1);
  const req = Buffer.from('GET / HTTP/1.1\r\n\r\n');
  layer.segment(s1, c1, true, 10, 11, req.length, 0x18 | FIN, 1, req, 0, req.length, 1);
  c1.ba.finFrame = 2;
  layer.segment(s1, c1, false, 20, 21, 0, 0x10 | FIN, 1.5, req, 0, 0, 2);
  layer.finish(s1, c1);
  assert.deepEqual(sink.exchanges, [{ stream: 1, seq: 1, status: 0, error: 'closed', body: '', bodyBytes: 0, idleS: -1 }]);
  const c2 = conn(2);
  const s2 = layer.open(c2);
  assert.equal(s2, s1);
  layer.segment(s2, c2, true, 10, 11, req.length, 0x18, 3, req, 0, req.length, 3);
  const a = Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
  layer.segment(s2, c2, false, 20, 21, a.length, 0x18, 3.5, a, 0, a.length, 4);
  layer.finish(s2, c2);
  assert.deepEqual(sink.exchanges[1], { stream: 2, seq: 1, status: 200, error: '', body: 'ok', bodyBytes: 2, idleS: -1 });
  assert.equal(sink.exchanges.length, 2);
});

test('header lines of every length and alignment: values read exactly (the head scan reads four bytes at a time)', () => {
  // Bytes next to LF in value (0x0b, 0x8a, 0x0a0a pairs) and lines ending at every offset modulo 4.
  const fill = '\x0b\x8a\x09a\x80\x0c';
  for (let len = 0; len <= 41; len++) {
    for (let shift = 0; shift < 8; shift++) {
      const value = Array.from({ length: len }, (_, i) => fill[i % fill.length]).join('');
      const head = `HTTP/1.1 200 OK\r\nX-Pad: ${'p'.repeat(shift)}\r\nContent-Type: t${value}z\nVia: ${value}\r\nContent-Length: 2\r\n\r\nok`;
      const buf = Buffer.alloc(shift + head.length + 3, 0x0a);
      buf.write(head, shift, 'latin1');
      let got: { ctype: string; via: string; body: string } | null = null;
      const p = new MessageParser(true, {
        start() {},
        head: (h: MessageHead) => {
          got = { ctype: h.headers['content-type'], via: h.headers.via, body: '' };
          return false;
        },
        end: (b, from, to) => void (got!.body = b.toString('latin1', from, to)),
      }, BODY_CAP, ['content-type', 'via']);
      p.feed(buf, shift, shift + head.length, 1, 1);
      const trimmed = value.replace(/^[\t\n\v\f\r \xa0]+|[\t\n\v\f\r \xa0]+$/g, '');
      assert.deepEqual(got, { ctype: `t${value}z`, via: trimmed, body: 'ok' }, `value of ${len} bytes, shift ${shift}`);
    }
  }
});
