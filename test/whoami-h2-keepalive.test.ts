/**
 * whoami's HTTP/2 keep-alive knobs over real sockets: --max-conn-age (GOAWAY, then a new connection;
 * HTTP/1.1 gets Connection: close), its grace, --max-streams-per-conn (and --max-requests-per-conn
 * covering HTTP/2 when it is not set), and drain sending GOAWAY to every session. Addresses 127.0.15.x.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { startWhoami, type WhoamiHandle, type WhoamiOptions } from '../src/whoami/server.js';
import { parseConn } from '../src/wire/identity-headers.js';

function connect(host: string, port: number): Promise<http2.ClientHttp2Session & { goaways: { code: number; last: number }[] }> {
  return new Promise((resolve, reject) => {
    const s = http2.connect(`http://${host}:${port}`) as http2.ClientHttp2Session & { goaways: { code: number; last: number }[] };
    s.goaways = [];
    s.on('goaway', (code, last) => s.goaways.push({ code, last }));
    s.on('error', () => {});
    s.once('connect', () => resolve(s));
    s.once('error', reject);
  });
}

function get(s: http2.ClientHttp2Session, path = '/'): Promise<{ conn: string; seq: number; status: number }> {
  return new Promise((resolve, reject) => {
    const r = s.request({ ':path': path });
    let h: http2.IncomingHttpHeaders = {};
    r.on('response', (x) => (h = x));
    r.resume();
    r.on('end', () => {
      const c = parseConn(String(h['x-lbdiag-conn'] ?? ''));
      resolve({ conn: c?.conn ?? '', seq: c?.seq ?? 0, status: Number(h[':status'] ?? 0) });
    });
    r.on('error', reject);
  });
}

function closed(s: http2.ClientHttp2Session): Promise<void> {
  return s.closed || s.destroyed ? Promise.resolve() : new Promise((r) => s.once('close', () => r()));
}

async function withWhoami(host: string, opts: Partial<WhoamiOptions>, f: (h: WhoamiHandle, port: number) => Promise<void>): Promise<void> {
  const h = await startWhoami({ port: 0, host, ...opts });
  try {
    await f(h, h.addresses[0].port);
  } finally {
    await h.close();
  }
}

async function until(what: string, check: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('--max-conn-age: an h2c session gets GOAWAY (NO_ERROR, last stream named) at that age; a stream in flight finishes; the next connection is new', async () => {
  const host = '127.0.15.1';
  await withWhoami(host, { maxConnAgeMs: 400, idleTimeoutMs: 0 }, async (h, port) => {
    const s = await connect(host, port);
    const first = await get(s);
    // A slow stream in flight across the GOAWAY: it must complete.
    const slow = get(s, '/?wait=600ms');
    await until('GOAWAY', () => s.goaways.length > 0, 3000);
    assert.equal(s.goaways[0].code, http2.constants.NGHTTP2_NO_ERROR);
    assert.equal(s.goaways[0].last, 2 ** 31 - 1, 'first the shutdown notice: no stream refused yet');
    assert.equal((await slow).status, 200);
    await closed(s);
    assert.ok(s.goaways.some((g) => g.last === 3), `then the final GOAWAY names the last stream taken, the slow one (stream 3): ${JSON.stringify(s.goaways)}`);
    const s2 = await connect(host, port);
    const next = await get(s2);
    assert.notEqual(next.conn, first.conn);
    assert.equal(next.seq, 1);
    s2.close();
    await until('both closes counted', () => h.stats().connectionsClosed >= 1 && (h.stats().closedBy['server-max-age'] ?? 0) >= 1);
  });
});

test('--max-conn-age grace: a stream still running after the grace is cut, the session destroyed', async () => {
  const host = '127.0.15.2';
  await withWhoami(host, { maxConnAgeMs: 200, maxConnAgeGraceMs: 300, idleTimeoutMs: 0 }, async (_h, port) => {
    const s = await connect(host, port);
    const t0 = Date.now();
    const slow = get(s, '/?wait=5s').then(
      (r) => (r.status === 200 ? 'answered' : 'cut'),
      () => 'cut',
    );
    await closed(s);
    assert.ok(Date.now() - t0 < 3000, `closed after age + grace, not after the 5 s wait (${Date.now() - t0} ms)`);
    assert.equal(await slow, 'cut');
  });
});

test('--max-conn-age over HTTP/1.1: the first answer after that age carries Connection: close', async () => {
  const host = '127.0.15.3';
  await withWhoami(host, { maxConnAgeMs: 300 }, async (h, port) => {
    const sock = net.connect({ host, port });
    let text = '';
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => (text += d));
    await new Promise<void>((r) => sock.once('connect', () => r()));
    sock.write('GET / HTTP/1.1\r\nHost: t\r\n\r\n');
    await until('first answer', () => /\r\n\r\n[\s\S]*conn: \d+ seq=1\n/.test(text));
    assert.doesNotMatch(text, /Connection: close/i);
    await new Promise((r) => setTimeout(r, 350));
    sock.write('GET / HTTP/1.1\r\nHost: t\r\n\r\n');
    await new Promise<void>((r) => sock.on('close', () => r()));
    assert.match(text, /Connection: close\r\n[\s\S]*seq=2/i);
    await until('close counted', () => h.stats().closedBy['server-max-age'] === 1);
  });
});

test('--max-streams-per-conn 3: GOAWAY after the 3rd stream; without it --max-requests-per-conn covers HTTP/2; 0 sets HTTP/2 apart', async () => {
  const host = '127.0.15.4';
  await withWhoami(host, { maxStreamsPerConn: 3, maxRequestsPerConn: 100 }, async (h, port) => {
    const s = await connect(host, port);
    const seqs = [(await get(s)).seq, (await get(s)).seq, (await get(s)).seq];
    assert.deepEqual(seqs, [1, 2, 3]);
    await closed(s);
    assert.ok(s.goaways.length >= 1);
    // The shutdown notice; a client with nothing in flight closes on it (the final GOAWAY, naming
    // stream 5, may find the connection gone: the in-flight case is checked with --max-conn-age).
    assert.equal(s.goaways[0].last, 2 ** 31 - 1, 'the shutdown notice');
    await until('close counted', () => h.stats().closedBy['server-max-requests'] === 1);
    assert.equal(h.settings.maxStreamsPerConn, 3);
  });
  await withWhoami(host, { maxRequestsPerConn: 2 }, async (h, port) => {
    assert.equal(h.settings.maxStreamsPerConn, 2, 'defaults to --max-requests-per-conn');
    const s = await connect(host, port);
    await get(s);
    await get(s);
    await closed(s);
    assert.ok(s.goaways.length >= 1, 'GOAWAY after the 2nd stream');
  });
  await withWhoami(host, { maxRequestsPerConn: 2, maxStreamsPerConn: 0 }, async (h, port) => {
    assert.equal(h.settings.maxStreamsPerConn, null);
    const s = await connect(host, port);
    for (let i = 0; i < 4; i++) await get(s);
    assert.equal(s.goaways.length, 0);
    s.close();
  });
});

test('drain: every h2c session gets GOAWAY at once; a session opened during the drain delay is answered, then GOAWAY', async () => {
  const host = '127.0.15.5';
  await withWhoami(host, { drainDelayMs: 1500, idleTimeoutMs: 0 }, async (h, port) => {
    const a = await connect(host, port);
    const b = await connect(host, port);
    await get(a);
    await get(b);
    const drained = h.drain();
    await until('GOAWAY on both', () => a.goaways.length >= 1 && b.goaways.length >= 1, 2000);
    const c = await connect(host, port);
    const r = await get(c, '/health');
    assert.equal(r.status, 503);
    await until('GOAWAY on the late session', () => c.goaways.length >= 1, 2000);
    await drained;
    assert.equal(h.stats().closedBy.drain, 3);
  });
});
