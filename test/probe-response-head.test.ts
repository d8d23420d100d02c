/**
 * The probe's response-head parser (src/probe/http-response.ts) parses status lines and header
 * fields by hand, for speed. This checks it against the straightforward definition it replaced
 * (split on CRLF, a regex for the status line, trim and lower-case per field) on generated heads
 * full of the awkward cases (OWS, NBSP, tabs, lone CR or LF, empty names, repeated fields, mixed
 * case, colons in values), each fed whole and in random pieces.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { ResponseParser } from '../src/probe/http-response.js';

/** The definition: what the parser must produce for a head (the text before CRLFCRLF). */
function reference(head: string): { status: number; headers: Record<string, string>; close: boolean } | 'bad' | 'interim' {
  const lines = head.split('\r\n');
  const m = /^HTTP\/1\.([01]) (\d{3})/.exec(lines[0]);
  if (!m) return 'bad';
  const status = Number(m[2]);
  if (status >= 100 && status < 200 && status !== 101) return 'interim';
  const headers: Record<string, string> = Object.create(null) as Record<string, string>;
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i];
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
  }
  const conn = (headers.connection ?? '').toLowerCase();
  return { status, headers: { ...headers }, close: conn.includes('close') || (m[1] === '0' && !conn.includes('keep-alive')) };
}

/** A small deterministic PRNG (mulberry32): the same heads on every run. */
function rng(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ (t + t);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PIECES = [' ', '\t', '\xa0', '\x0b', '\x0c', '\r', '\n', ':', ': ', 'a', 'B', 'x-Lbdiag-Backend', 'Connection', 'close', 'Keep-Alive', 'Via', 'constructor', 'é', '\xff', '0'];
const STATUS = ['HTTP/1.1 200 OK', 'HTTP/1.0 200 OK', 'HTTP/1.1 503 Unavailable', 'HTTP/1.1 204', 'HTTP/1.1 101 Switching', 'HTTP/1.2 200 OK', 'HTTP/1.1 2x0 OK', 'HTTP/1.1  200', 'HTTP/1.1 200', 'http/1.1 200 OK', 'HTTP/1.1 20'];

function generateHead(r: () => number): string {
  let head = STATUS[Math.floor(r() * STATUS.length)];
  const fields = Math.floor(r() * 8);
  for (let i = 0; i < fields; i++) {
    let line = '';
    const parts = Math.floor(r() * 7);
    for (let j = 0; j < parts; j++) line += PIECES[Math.floor(r() * PIECES.length)];
    head += `\r\n${line}`;
  }
  // The head ends before the first CRLFCRLF: cut it there if the pieces made one.
  const cut = head.indexOf('\r\n\r\n');
  head = cut >= 0 ? head.slice(0, cut) : head;
  // A head ending in CR would make CRLFCRLF start one byte earlier than intended: drop it.
  return head.endsWith('\r') ? head.slice(0, -1) : head;
}

function parse(head: string, r: () => number): { status: number; headers: Record<string, string>; close: boolean } | 'bad' | 'interim' {
  const bytes = Buffer.from(`${head}\r\n\r\n`, 'latin1');
  const p = new ResponseParser(16, true); // HEAD: no body, the head alone completes the response
  let done = false;
  try {
    let pos = 0;
    while (pos < bytes.length) {
      const n = r() < 0.5 ? bytes.length - pos : 1 + Math.floor(r() * (bytes.length - pos));
      done = p.feed(bytes.subarray(pos, pos + n));
      pos += n;
    }
  } catch {
    return 'bad';
  }
  if (!done) return 'interim'; // a 1xx head was skipped and the parser waits for the final one
  const res = p.response!;
  return { status: res.status, headers: { ...res.headers }, close: res.close };
}

test('response head parser: same status, fields and close flag as the split/regex/trim definition, on 20000 generated heads fed in random pieces', () => {
  const r = rng(15);
  let parsed = 0;
  for (let i = 0; i < 20000; i++) {
    const head = generateHead(r);
    const want = reference(head);
    const got = parse(head, r);
    assert.deepEqual(got, want, `head ${JSON.stringify(head)}`);
    if (typeof want === 'object') parsed++;
  }
  assert.ok(parsed > 5000, `only ${parsed} heads were valid responses: the generator tests too little`);
});

test('response head parser: typical server heads and a long head of colon-less lines', () => {
  const nginx = 'HTTP/1.1 200 OK\r\nServer: nginx/1.22.1\r\nDate: Tue, 01 Dec 2026 21:20:00 GMT\r\nContent-Type: text/plain\r\nContent-Length: 6\r\nConnection: keep-alive';
  assert.deepEqual(parse(nginx, rng(1)), reference(nginx));
  const p = new ResponseParser();
  assert.ok(p.feed(Buffer.from(`${nginx}\r\n\r\nnginx\n`)));
  assert.deepEqual({ ...p.response!.headers }, { server: 'nginx/1.22.1', date: 'Tue, 01 Dec 2026 21:20:00 GMT', 'content-type': 'text/plain', 'content-length': '6', connection: 'keep-alive' });
  assert.equal(p.response!.body.toString(), 'nginx\n');
  // 4000 lines without a colon (60 KB, under the 64 KiB head limit), then one field: parsed once (linear), the field found.
  const long = `HTTP/1.1 200 OK\r\n${'no-colon-here\r\n'.repeat(4000)}X-A: 1`;
  const t0 = performance.now();
  assert.deepEqual(parse(long, rng(2)), reference(long));
  assert.ok(performance.now() - t0 < 2000);
});

test('response head parser: header names that are Object property names are plain fields', () => {
  const p = new ResponseParser();
  assert.ok(p.feed(Buffer.from('HTTP/1.1 200 OK\r\nConstructor: x\r\n__proto__: y\r\ntoString: z\r\nContent-Length: 0\r\n\r\n')));
  const h = p.response!.headers;
  assert.equal(h.constructor, 'x');
  assert.equal(h.__proto__, 'y');
  assert.equal(h.tostring, 'z');
  assert.deepEqual(Object.keys(h).sort(), ['__proto__', 'constructor', 'content-length', 'tostring']);
});
