/**
 * lbdiag whoami over real sockets, in-process (startWhoami): connection ids and seq on raw
 * keep-alive connections, the keep-alive knobs, malformed input, query controls, health,
 * metrics, the JSON contract and drain. Addresses 127.0.10.x, ports from freePort().
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { freePort } from './support/processes.js';
import { startWhoami, type WhoamiHandle, type WhoamiOptions } from '../src/whoami/server.js';

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** A raw HTTP/1.1 client on one TCP connection: exact bytes out, responses parsed by hand. */
class Raw {
  private buf = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  closedAt = 0;
  readonly closed: Promise<void>;
  private constructor(readonly socket: net.Socket) {
    socket.on('data', (d) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake();
    });
    this.closed = new Promise((resolve) =>
      socket.on('close', () => {
        this.closedAt = performance.now();
        this.wake();
        resolve();
      }),
    );
    socket.on('error', () => {});
  }
  static connect(host: string, port: number): Promise<Raw> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host, port }, () => resolve(new Raw(s)));
      s.once('error', reject);
    });
  }
  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
  send(text: string): void {
    this.socket.write(text);
  }
  get(path: string, extra = ''): void {
    this.send(`GET ${path} HTTP/1.1\r\nHost: test\r\n${extra}\r\n`);
  }
  async response(timeoutMs = 3000, head = false): Promise<RawResponse> {
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const end = this.buf.indexOf('\r\n\r\n');
      if (end !== -1) {
        const lines = this.buf.subarray(0, end).toString('latin1').split('\r\n');
        const status = Number(lines[0].split(' ')[1]);
        const headers: Record<string, string> = {};
        for (const l of lines.slice(1)) {
          const i = l.indexOf(':');
          headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
        }
        const len = head ? 0 : Number(headers['content-length'] ?? 0);
        if (this.buf.length >= end + 4 + len) {
          const body = this.buf.subarray(end + 4, end + 4 + len).toString('utf8');
          this.buf = this.buf.subarray(end + 4 + len);
          return { status, headers, body };
        }
      }
      if (this.socket.destroyed || this.closedAt) throw new Error(`connection closed before a full response (${this.buf.length} bytes)`);
      const left = deadline - performance.now();
      if (left <= 0) throw new Error('no response in time');
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }
  async waitClosed(timeoutMs: number): Promise<boolean> {
    let t: NodeJS.Timeout | undefined;
    const r = await Promise.race([this.closed.then(() => true), new Promise<boolean>((resolve) => (t = setTimeout(() => resolve(false), timeoutMs)))]);
    clearTimeout(t);
    return r;
  }
  destroy(): void {
    this.socket.destroy();
  }
}

async function withWhoami(host: string, opts: Partial<WhoamiOptions>, fn: (h: WhoamiHandle, port: number) => Promise<void>): Promise<void> {
  const port = await freePort(host);
  const h = await startWhoami({ host, port, name: 'test-backend', log: false, ...opts });
  try {
    await fn(h, port);
  } finally {
    await h.close();
  }
}

function conn(r: RawResponse): { id: number; seq: number } {
  const m = /^(\d+);seq=(\d+)$/.exec(r.headers['x-lbdiag-conn'] ?? '');
  assert.ok(m, `X-Lbdiag-Conn malformed: ${r.headers['x-lbdiag-conn']}`);
  return { id: Number(m[1]), seq: Number(m[2]) };
}

test('two requests on one keep-alive connection share the id with seq 1 and 2; a new connection gets a new id', { timeout: 10_000 }, async () => {
  await withWhoami('127.0.10.1', {}, async (h, port) => {
    const a = await Raw.connect('127.0.10.1', port);
    a.get('/');
    const r1 = await a.response();
    a.get('/anything/else?x=1');
    const r2 = await a.response();
    assert.equal(r1.status, 200);
    assert.equal(r2.status, 200, 'unknown paths still echo');
    assert.equal(conn(r1).id, conn(r2).id);
    assert.deepEqual([conn(r1).seq, conn(r2).seq], [1, 2]);
    for (const r of [r1, r2]) {
      assert.equal(r.headers['x-lbdiag-backend'], 'test-backend');
      assert.equal(r.headers['x-lbdiag-instance'], h.instance);
      assert.match(h.instance, /^[0-9a-f]{8}$/);
      assert.equal(r.headers['x-lbdiag-pid'], String(process.pid));
      assert.notEqual(r.headers.connection, 'close');
    }
    assert.match(r1.body, new RegExp(`^conn: ${conn(r1).id} seq=1$`, 'm'));
    // pipelined: two requests in one write, answered in order with seq 3 and 4
    a.send('GET /p1 HTTP/1.1\r\nHost: t\r\n\r\nHEAD /p2 HTTP/1.1\r\nHost: t\r\n\r\n');
    const r3 = await a.response();
    const r4 = await a.response(3000, true);
    assert.deepEqual([conn(r3).seq, conn(r4).seq], [3, 4]);
    assert.equal(r4.headers['x-lbdiag-backend'], 'test-backend', 'HEAD carries the identity headers');
    const b = await Raw.connect('127.0.10.1', port);
    b.send('POST /submit HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n\r\nhello');
    const r5 = await b.response();
    assert.equal(r5.status, 200);
    assert.notEqual(conn(r5).id, conn(r1).id);
    assert.equal(conn(r5).seq, 1);
    a.destroy();
    b.destroy();
  });
});

test('--max-requests-per-conn 3 closes after the third response', { timeout: 10_000 }, async () => {
  await withWhoami('127.0.10.2', { maxRequestsPerConn: 3 }, async (h, port) => {
    const a = await Raw.connect('127.0.10.2', port);
    const seen: string[] = [];
    for (let i = 1; i <= 3; i++) {
      a.get('/');
      const r = await a.response();
      assert.equal(conn(r).seq, i);
      seen.push(r.headers.connection ?? '');
    }
    assert.deepEqual(seen, ['keep-alive', 'keep-alive', 'close']);
    assert.equal(await a.waitClosed(2000), true, 'server closed the connection after the third response');
    const json = (await (await fetch(`http://127.0.10.2:${port}/api`)).json()) as { server: { maxRequestsPerConn: number } };
    assert.equal(json.server.maxRequestsPerConn, 3);
    const stats = h.stats();
    assert.equal(stats.closedBy['server-max-requests'], 1);
  });
});

test('--idle-timeout closes an idle keep-alive connection on time', { timeout: 10_000 }, async () => {
  await withWhoami('127.0.10.3', { idleTimeoutMs: 400 }, async (h, port) => {
    const a = await Raw.connect('127.0.10.3', port);
    a.get('/');
    const r = await a.response();
    const answeredAt = performance.now();
    assert.equal(r.headers['keep-alive'], 'timeout=0', 'Node advertises the idle timeout in whole seconds');
    assert.equal(await a.waitClosed(3000), true);
    const idle = a.closedAt - answeredAt;
    assert.ok(idle >= 350 && idle < 1500, `closed after ${idle.toFixed(0)} ms idle, expected about 400`);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(h.stats().closedBy['server-idle'], 1);
  });
});

test('a malformed request gets 400 with the identity headers, oversized headers 431, and the server keeps serving', { timeout: 10_000 }, async () => {
  await withWhoami('127.0.10.4', {}, async (h, port) => {
    const a = await Raw.connect('127.0.10.4', port);
    a.send('GARBAGE\x01 / HTTP/1.1\r\n\r\n');
    const bad = await a.response();
    assert.equal(bad.status, 400);
    assert.equal(bad.headers.connection, 'close');
    assert.equal(bad.headers['x-lbdiag-backend'], 'test-backend');
    assert.equal(conn(bad).seq, 1);
    assert.equal(await a.waitClosed(3000), true);

    const big = await Raw.connect('127.0.10.4', port);
    big.send(`GET / HTTP/1.1\r\nHost: t\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    const r431 = await big.response();
    assert.equal(r431.status, 431);
    assert.equal(r431.headers['x-lbdiag-instance'], h.instance);
    big.destroy();

    const b = await Raw.connect('127.0.10.4', port);
    b.get('/');
    const ok = await b.response();
    assert.equal(ok.status, 200);
    assert.ok(conn(ok).id > conn(bad).id);
    b.destroy();
    const stats = h.stats();
    assert.equal(stats.requestsByStatus['400'], 1);
    assert.equal(stats.requestsByStatus['431'], 1);
  });
});

test('--headers-timeout answers 408 when the request headers do not arrive in time', { timeout: 10_000 }, async () => {
  await withWhoami('127.0.10.5', { headersTimeoutMs: 500 }, async (h, port) => {
    const a = await Raw.connect('127.0.10.5', port);
    const t0 = performance.now();
    a.send('GET / HTTP/1.1\r\nHost: t\r\n'); // never finished
    const r = await a.response(4000);
    const took = performance.now() - t0;
    assert.equal(r.status, 408);
    assert.ok(took >= 450 && took < 2500, `408 after ${took.toFixed(0)} ms, expected about 500`);
    assert.equal(await a.waitClosed(3000), true);
    await new Promise((r) => setTimeout(r, 20));
    assert.equal(h.stats().closedBy['server-headers-timeout'], 1);
  });
});

test('query controls: ?status, ?size, ?close, ?wait and a bad value', { timeout: 10_000 }, async () => {
  await withWhoami('127.0.10.6', {}, async (_h, port) => {
    const a = await Raw.connect('127.0.10.6', port);
    a.get('/x?status=503');
    assert.equal((await a.response()).status, 503);
    a.get('/?size=16k');
    const padded = await a.response();
    assert.equal(Buffer.byteLength(padded.body), 16 * 1024);
    a.get('/api?size=5000');
    const pj = await a.response();
    assert.equal(Buffer.byteLength(pj.body), 5000);
    assert.equal(JSON.parse(pj.body).name, 'test-backend');
    a.get('/?status=abc');
    const bad = await a.response();
    assert.equal(bad.status, 400);
    assert.match(bad.body, /invalid status "abc"/);
    const t0 = performance.now();
    a.get('/?wait=300ms');
    const slow = await a.response();
    assert.ok(performance.now() - t0 >= 290, 'waited');
    assert.equal(slow.status, 200);
    a.get('/?close=1');
    const closing = await a.response();
    assert.equal(closing.headers.connection, 'close');
    assert.equal(conn(closing).seq, 6);
    assert.equal(await a.waitClosed(2000), true);
  });
});

test('GET /api (and / with Accept: application/json or ?format=json) answers the JSON contract', { timeout: 10_000 }, async () => {
  await withWhoami('127.0.10.7', {}, async (h, port) => {
    const a = await Raw.connect('127.0.10.7', port);
    a.get('/api', 'X-Forwarded-For: 203.0.113.7, 10.0.0.1\r\nVia: 1.1 lb\r\nX-Real-IP: 203.0.113.7\r\n');
    const r = await a.response();
    assert.match(r.headers['content-type'], /^application\/json/);
    const j = JSON.parse(r.body);
    for (const k of ['name', 'hostname', 'pid', 'instance', 'startedAt', 'uptimeMs', 'ips', 'request', 'connection', 'forwarded', 'server']) assert.ok(k in j, `missing ${k}`);
    assert.equal(j.name, 'test-backend');
    assert.equal(j.instance, h.instance);
    assert.equal(j.pid, process.pid);
    assert.equal(j.request.method, 'GET');
    assert.equal(j.request.host, 'test');
    assert.equal(j.connection.seq, 1);
    assert.equal(j.connection.local.address, '127.0.10.7');
    assert.equal(j.connection.local.port, port);
    assert.equal(j.connection.remote.address, a.socket.localAddress);
    assert.equal(j.connection.remote.port, a.socket.localPort);
    assert.deepEqual(j.forwarded, { xForwardedFor: ['203.0.113.7', '10.0.0.1'], forwarded: null, via: '1.1 lb', xRealIp: '203.0.113.7', xForwardedProto: null });
    assert.deepEqual(j.server, { state: 'serving', idleTimeoutMs: 5000, maxRequestsPerConn: null, headersTimeoutMs: 60000, drainDelayMs: 5000 });
    for (const ip of j.ips) assert.ok(!ip.address.startsWith('127.') && ip.address !== '::1' && !/^fe80/i.test(ip.address));
    a.get('/', 'Accept: application/json\r\n');
    assert.equal(JSON.parse((await a.response()).body).connection.seq, 2);
    a.get('/whatever?format=json');
    assert.equal(JSON.parse((await a.response()).body).request.url, '/whatever?format=json');
    a.get('/');
    assert.match((await a.response()).body, /^name: test-backend$/m);
    a.destroy();
  });
});

test('/health: 200 ok, POST sets the status, bad body 400', { timeout: 10_000 }, async () => {
  await withWhoami('127.0.10.8', {}, async (_h, port) => {
    const base = `http://127.0.10.8:${port}/health`;
    let r = await fetch(base);
    assert.equal(r.status, 200);
    assert.equal(await r.text(), 'ok\n');
    const json = { 'Content-Type': 'application/json' };
    r = await fetch(base, { method: 'POST', headers: json, body: '503' });
    assert.equal(r.status, 200);
    await r.text();
    r = await fetch(base);
    assert.equal(r.status, 503);
    await r.text();
    r = await fetch(base, { method: 'POST', headers: json, body: 'nope' });
    assert.equal(r.status, 400);
    await r.text();
    r = await fetch(base, { method: 'POST', headers: json, body: '200' });
    await r.text();
    r = await fetch(base);
    assert.equal(r.status, 200);
    await r.text();
  });
});

test('/metrics parses as Prometheus text and counts what happened', { timeout: 10_000 }, async () => {
  await withWhoami('127.0.10.9', {}, async (_h, port) => {
    const a = await Raw.connect('127.0.10.9', port);
    for (const p of ['/', '/', '/?status=503']) {
      a.get(p);
      await a.response();
    }
    a.destroy();
    await a.closed;
    await new Promise((r) => setTimeout(r, 30));
    const text = await (await fetch(`http://127.0.10.9:${port}/metrics`)).text();
    const families = new Map<string, string>();
    const samples: { name: string; labels: Record<string, string>; value: number }[] = [];
    for (const line of text.split('\n')) {
      if (line === '') continue;
      let m = /^# (HELP|TYPE) ([a-zA-Z_:][a-zA-Z0-9_:]*) (.+)$/.exec(line);
      if (m) {
        if (m[1] === 'TYPE') {
          assert.match(m[3], /^(counter|gauge|histogram|summary|untyped)$/);
          families.set(m[2], m[3]);
        }
        continue;
      }
      m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (-?[0-9.e+]+|NaN|\+Inf|-Inf)$/.exec(line);
      assert.ok(m, `not a Prometheus sample line: ${line}`);
      const labels: Record<string, string> = {};
      for (const lm of (m[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[lm[1]] = lm[2];
      const family = m[1].replace(/_(bucket|sum|count)$/, '');
      assert.ok(families.has(m[1]) || families.get(family) === 'histogram', `sample ${m[1]} has no TYPE line`);
      samples.push({ name: m[1], labels, value: Number(m[3]) });
    }
    const v = (name: string, labels: Record<string, string> = {}): number | undefined =>
      samples.find((s) => s.name === name && Object.entries(labels).every(([k, val]) => s.labels[k] === val))?.value;
    assert.equal(v('lbdiag_whoami_requests_total', { status: '200' }), 2);
    assert.equal(v('lbdiag_whoami_requests_total', { status: '503' }), 1);
    assert.equal(v('lbdiag_whoami_connections_closed_total', { by: 'client' }), 1);
    assert.equal(v('lbdiag_whoami_requests_per_connection_bucket', { le: '2' }), 0);
    assert.equal(v('lbdiag_whoami_requests_per_connection_bucket', { le: '3' }), 1);
    assert.equal(v('lbdiag_whoami_requests_per_connection_bucket', { le: '+Inf' }), 1);
    assert.equal(v('lbdiag_whoami_requests_per_connection_sum'), 3);
    assert.equal(v('lbdiag_whoami_draining'), 0);
    assert.ok((v('lbdiag_whoami_connections_accepted_total') ?? 0) >= 2);
    assert.equal(families.get('lbdiag_whoami_requests_per_connection'), 'histogram');
  });
});

test('drain: /health 503 and Connection: close at once, idle connections kept until their next answer, in-flight requests finish', { timeout: 10_000 }, async () => {
  const port = await freePort('127.0.10.10');
  const h = await startWhoami({ host: '127.0.10.10', port, name: 'draining', drainDelayMs: 400 });
  try {
    const idle = await Raw.connect('127.0.10.10', port);
    idle.get('/');
    await idle.response();
    const busy = await Raw.connect('127.0.10.10', port);
    busy.get('/?wait=800ms');
    await new Promise((r) => setTimeout(r, 50));
    const t0 = performance.now();
    const drained = h.drain();
    // An idle keep-alive connection is not closed under its client (that races a request it may be
    // sending): its next request is answered with Connection: close, then it closes.
    assert.equal(await idle.waitClosed(150), false, 'idle connection kept open at drain start');
    idle.get('/');
    const last = await idle.response();
    assert.equal(last.status, 200);
    assert.equal(last.headers.connection, 'close');
    assert.equal(await idle.waitClosed(1000), true, 'closed after the Connection: close answer');
    const other = await Raw.connect('127.0.10.10', port);
    other.get('/health');
    const health = await other.response();
    assert.equal(health.status, 503);
    assert.equal(health.headers.connection, 'close');
    const slow = await busy.response(3000);
    assert.equal(slow.status, 200, 'the in-flight request finished');
    assert.equal(slow.headers.connection, 'close');
    await drained;
    assert.ok(performance.now() - t0 >= 390, 'drain waited for --drain-delay');
    assert.equal(h.stats().state, 'closed');
    await assert.rejects(Raw.connect('127.0.10.10', port), 'no longer listening');
  } finally {
    await h.close();
  }
});

test('the default host listens on IPv4 and IPv6; several hosts share one port', { timeout: 10_000 }, async (t) => {
  const port = await freePort('::');
  const h = await startWhoami({ port, name: 'dual' });
  try {
    assert.equal(h.addresses[0].address, '::');
    for (const host of ['127.0.10.11', '::1']) {
      const r = await fetch(`http://${host.includes(':') ? `[${host}]` : host}:${port}/api`);
      const j = (await r.json()) as { connection: { remote: { address: string } } };
      assert.equal(j.connection.remote.address, host === '::1' ? '::1' : '127.0.0.1', 'IPv4-mapped addresses are shown plain');
    }
  } finally {
    await h.close();
  }
  const h2 = await startWhoami({ host: ['127.0.10.12', '127.0.10.13'], port: 0, name: 'two' });
  try {
    assert.equal(h2.addresses.length, 2);
    assert.equal(h2.addresses[0].port, h2.addresses[1].port);
    const ids = [];
    for (const a of h2.addresses) ids.push(((await fetch(`http://${a.address}:${a.port}/api`).then((r) => r.json())) as { connection: { id: number } }).connection.id);
    assert.equal(new Set(ids).size, 2, 'connection ids are unique across the addresses of one process');
  } finally {
    await h2.close();
  }
  void t;
});
