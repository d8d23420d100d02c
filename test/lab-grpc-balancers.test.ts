/**
 * The lab's HTTP/2 balancers over real sockets: real node:http2 clients, small real h2c backends
 * (test/support/h2c-backends.ts) and a real gRPC stack (@grpc/grpc-js) as a client. Layer 4 (the
 * builtin forwarder, haproxy `mode tcp`, nginx `stream`) keeps a whole HTTP/2 connection on one
 * backend; layer 7 (builtin h2 proxy, haproxy `mode http` + `proto h2`, nginx `grpc_pass`) spreads
 * the streams of one connection over every backend, with gRPC trailers intact.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import {
  startBalancer,
  startH2Proxy,
  forwardableHeaders,
  haproxyConfig,
  haproxyInstalled,
  nginxConfig,
  nginxInstalled,
  nginxStreamSupport,
  http2SyntaxFor,
  type Balancer,
  type BalancerKind,
} from '../src/lab/balancers/index.js';
import { isListening } from '../src/lab/proc-net.js';
import { pidAlive } from '../src/lab/supervisor.js';
import { freePort } from './support/processes.js';
import { startH2cBackend, h2Connect, h2Request, grpcWhoAmI, countBy, type H2cBackend } from './support/h2c-backends.js';
import { WHOAMI_GET_PATH, GRPC_STATUS, decodeGetResponse, encodeGetRequest, type WhoAmIReply } from '../src/wire/grpc.js';

const LB = '127.0.31.1';
let backends: H2cBackend[] = [];

before(async () => {
  for (let i = 0; i < 3; i++) backends.push(await startH2cBackend({ host: `127.0.31.${i + 2}`, name: `b${i + 1}` }));
});
after(async () => {
  await Promise.all(backends.map((b) => b.stop()));
  backends = [];
});

const targets = () => backends.map((b) => ({ host: b.host, port: b.port, name: b.name }));

async function start(kind: BalancerKind): Promise<Balancer> {
  const port = kind.startsWith('builtin') ? 0 : await freePort(LB);
  return startBalancer(kind, { listen: { host: LB, port }, backends: targets() });
}

/** `n` GET streams over ONE h2c connection, `concurrent` at a time; the backend of each. */
async function streamsOverOneConnection(lb: Balancer, n: number, concurrent = 3): Promise<string[]> {
  const s = await h2Connect(`http://${LB}:${lb.address.port}`);
  const out: string[] = [];
  try {
    for (let i = 0; i < n; i += concurrent) {
      const batch = await Promise.all(Array.from({ length: Math.min(concurrent, n - i) }, () => h2Request(s, { ':path': '/', ':method': 'GET' })));
      for (const a of batch) {
        assert.equal(a.status, 200);
        assert.equal(a.body.toString().trim(), a.backend);
        out.push(a.backend);
      }
    }
  } finally {
    s.close();
  }
  return out;
}

/** gRPC WhoAmI/Get calls over ONE h2c connection; the backend of each (grpc-status checked). */
async function grpcOverOneConnection(lb: Balancer, n: number): Promise<string[]> {
  const s = await h2Connect(`http://${LB}:${lb.address.port}`);
  try {
    const calls = await Promise.all(Array.from({ length: n }, () => grpcWhoAmI(s)));
    for (const c of calls) assert.equal(c.grpcStatus, '0', `grpc-status in the trailers: ${JSON.stringify(c.answer.trailers)}`);
    return calls.map((c) => c.backend);
  } finally {
    s.close();
  }
}

/** A real gRPC client (grpc-js, one channel = one HTTP/2 connection): the backend of each unary call. */
async function grpcJsCalls(lb: Balancer, n: number): Promise<string[]> {
  const Client = grpc.makeGenericClientConstructor(
    {
      Get: {
        path: WHOAMI_GET_PATH,
        requestStream: false,
        responseStream: false,
        requestSerialize: () => Buffer.from(encodeGetRequest()),
        requestDeserialize: (b: Buffer) => b,
        responseSerialize: (b: Buffer) => b,
        responseDeserialize: (b: Buffer) => decodeGetResponse(b),
      },
    },
    'WhoAmI',
  );
  const client = new Client(`${LB}:${lb.address.port}`, grpc.credentials.createInsecure());
  try {
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      const reply = await new Promise<WhoAmIReply>((resolve, reject) =>
        (client as unknown as { Get: (req: object, opts: grpc.CallOptions, cb: (e: grpc.ServiceError | null, r: WhoAmIReply) => void) => void }).Get({}, { deadline: Date.now() + 5000 }, (e, r) => (e ? reject(e) : resolve(r))),
      );
      out.push(reply.backend);
    }
    return out;
  } finally {
    client.close();
  }
}

async function stopAndCheck(lb: Balancer): Promise<void> {
  const pids = lb.pids;
  await lb.stop();
  assert.equal(isListening(LB, lb.address.port), false, `nothing listens on ${LB}:${lb.address.port} after stop`);
  for (const pid of pids) assert.equal(pidAlive(pid), false, `pid ${pid} is gone after stop`);
}

test('forwardableHeaders: RFC 9113 8.2.2 connection-specific fields dropped, TE only as trailers, pseudo-headers kept', () => {
  const out = forwardableHeaders({
    ':method': 'POST',
    ':path': '/x',
    connection: 'keep-alive, x-hop',
    'keep-alive': 'timeout=5',
    'proxy-connection': 'keep-alive',
    'transfer-encoding': 'chunked',
    upgrade: 'h2c',
    'x-hop': '1',
    te: 'gzip, trailers',
    'content-type': 'application/grpc',
  });
  assert.deepEqual(out, { ':method': 'POST', ':path': '/x', te: 'trailers', 'content-type': 'application/grpc' });
  assert.deepEqual(forwardableHeaders({ te: 'gzip' }), {});
});

test('builtin-l4 (TCP forwarder) with h2c: every stream of one connection on one backend; connections rotate', async () => {
  const lb = await start('builtin-l4');
  try {
    const seen = new Set<string>();
    for (let c = 0; c < 3; c++) {
      const t = countBy(await streamsOverOneConnection(lb, 9));
      assert.equal(Object.keys(t).length, 1, `one backend per connection through L4: ${JSON.stringify(t)}`);
      seen.add(Object.keys(t)[0]);
    }
    assert.deepEqual([...seen].sort(), ['b1', 'b2', 'b3'], 'round robin per connection');
  } finally {
    await stopAndCheck(lb);
  }
});

test('builtin-h2: the streams of one connection spread round robin; gRPC trailers and trailers-only answers pass', async () => {
  const lb = (await start('builtin-h2')) as Awaited<ReturnType<typeof startH2Proxy>>;
  try {
    assert.equal(lb.layer, 7);
    const t = countBy(await streamsOverOneConnection(lb, 9));
    assert.deepEqual(t, { b1: 3, b2: 3, b3: 3 }, 'round robin per stream');
    const g = countBy(await grpcOverOneConnection(lb, 6));
    assert.deepEqual(g, { b1: 2, b2: 2, b3: 2 });
    // Trailers-only (UNIMPLEMENTED) stays trailers-only.
    const s = await h2Connect(`http://${LB}:${lb.address.port}`);
    try {
      const a = await h2Request(s, { ':method': 'POST', ':path': '/no.Such/Method', 'content-type': 'application/grpc', te: 'trailers' }, Buffer.alloc(5));
      assert.equal(a.headers['grpc-status'], String(GRPC_STATUS.UNIMPLEMENTED));
      // Forwarded headers: TE trailers kept, Via and X-Forwarded-For added.
      const plain = await h2Request(s, { ':method': 'GET', ':path': '/', te: 'trailers' });
      assert.equal(plain.headers['x-seen-te'], 'trailers');
      assert.equal(plain.headers['x-seen-via'], '2 lbdiag');
      assert.equal(plain.headers['x-seen-xff'], '127.0.0.1');
      assert.match(String(plain.headers.via), /2 lbdiag/);
    } finally {
      s.close();
    }
    const st = lb.stats();
    assert.equal(st.backendSessions, 3, 'one h2c session per backend, reused by every stream');
    assert.equal(st.proxyErrors, 0);
    // A real gRPC client: one channel, calls spread.
    assert.deepEqual(Object.keys(countBy(await grpcJsCalls(lb, 6))).sort(), ['b1', 'b2', 'b3']);
  } finally {
    await stopAndCheck(lb);
  }
});

test('builtin-h2: an unreachable backend gives gRPC clients UNAVAILABLE and plain clients 502; a backend GOAWAY retires its session', async () => {
  const dead = await freePort('127.0.31.9');
  const lb = await startH2Proxy({ listen: { host: LB, port: 0 }, backends: [{ host: '127.0.31.9', port: dead, name: 'gone' }] });
  try {
    const s = await h2Connect(`http://${LB}:${lb.address.port}`);
    try {
      const g = await grpcWhoAmI(s);
      assert.equal(g.grpcStatus, String(GRPC_STATUS.UNAVAILABLE));
      assert.match(decodeURIComponent(String(g.answer.trailers['grpc-message'])), /backend gone \(127\.0\.31\.9:\d+\): ECONNREFUSED/);
      const p = await h2Request(s, { ':method': 'GET', ':path': '/' });
      assert.equal(p.status, 502);
    } finally {
      s.close();
    }
  } finally {
    await lb.stop();
  }
  // GOAWAY: a backend that closes each session after 150 ms; later streams still answer, on new sessions.
  const aging = await startH2cBackend({ host: '127.0.31.8', name: 'aging', maxAgeMs: 150 });
  const lb2 = await startH2Proxy({ listen: { host: LB, port: 0 }, backends: [{ host: aging.host, port: aging.port, name: 'aging' }] });
  try {
    const s = await h2Connect(`http://${LB}:${lb2.address.port}`);
    try {
      const deadline = Date.now() + 5000;
      while (aging.sessions() < 2 && Date.now() < deadline) {
        assert.equal((await h2Request(s, { ':method': 'GET', ':path': '/' })).backend, 'aging');
        await new Promise((r) => setTimeout(r, 30));
      }
      assert.ok(aging.sessions() >= 2, 'a new backend session after GOAWAY');
      assert.ok(lb2.stats().backendGoaways >= 1);
      assert.equal(lb2.stats().proxyErrors, 0);
    } finally {
      s.close();
    }
  } finally {
    await lb2.stop();
    await aging.stop();
  }
});

test('builtin-h2: a stream the backend refuses unprocessed (REFUSED_STREAM) is sent again, body included', async () => {
  const picky = await startH2cBackend({ host: '127.0.31.7', name: 'picky', refuseFirst: 1 });
  const lb = await startH2Proxy({ listen: { host: LB, port: 0 }, backends: [{ host: picky.host, port: picky.port, name: 'picky' }] });
  try {
    const s = await h2Connect(`http://${LB}:${lb.address.port}`);
    try {
      const g = await grpcWhoAmI(s); // a POST with a gRPC body: the retry must send the body again
      assert.equal(g.grpcStatus, '0');
      assert.equal(g.backend, 'picky');
      assert.equal(lb.stats().retried, 1);
      assert.equal(lb.stats().proxyErrors, 0);
      assert.equal(picky.streams(), 1, 'answered once (the refused stream was not counted)');
    } finally {
      s.close();
    }
  } finally {
    await lb.stop();
    await picky.stop();
  }
});

test('builtin-h2: an idle client session gets GOAWAY after clientIdleTimeoutMs', async () => {
  const lb = await startH2Proxy({ listen: { host: LB, port: 0 }, backends: targets(), clientIdleTimeoutMs: 200 });
  try {
    const s = await h2Connect(`http://${LB}:${lb.address.port}`);
    const t0 = Date.now();
    const goaway = new Promise<number>((resolve) => s.once('goaway', (code: number) => resolve(code)));
    assert.equal((await h2Request(s, { ':method': 'GET', ':path': '/' })).status, 200);
    const code = await Promise.race([goaway, new Promise<number>((_, reject) => setTimeout(() => reject(new Error('no GOAWAY within 10 s')), 10_000))]);
    assert.equal(code, http2.constants.NGHTTP2_NO_ERROR);
    assert.ok(Date.now() - t0 >= 150, 'not before the idle timeout');
    s.destroy();
  } finally {
    await lb.stop();
  }
});

test('haproxy config: mode http with proto h2 on the bind and every server', () => {
  const cfg = haproxyConfig({ mode: 'http', h2: true, listen: { host: LB, port: 8000 }, backends: [{ host: '127.0.31.2', port: 81, name: 'b1' }] });
  assert.match(cfg, /^\s+bind 127\.0\.31\.1:8000 proto h2$/m);
  assert.match(cfg, /^\s+server b1 127\.0\.31\.2:81 proto h2$/m);
  assert.throws(() => haproxyConfig({ mode: 'tcp', h2: true, listen: { host: LB, port: 8000 }, backends: [] }), /mode http/);
});

test('nginx grpc config: grpc_pass to the upstream; listen … http2 before 1.25.1, http2 on; after', () => {
  const base = { mode: 'grpc' as const, listen: { host: LB, port: 8000 }, backends: [{ host: '127.0.31.2', port: 81 }], dir: '/tmp/x' };
  assert.match(nginxConfig({ ...base, http2Syntax: 'listen' }), /listen 127\.0\.31\.1:8000 http2;/);
  const modern = nginxConfig({ ...base, http2Syntax: 'directive' });
  assert.match(modern, /listen 127\.0\.31\.1:8000;\n\s+http2 on;/);
  assert.match(modern, /grpc_pass grpc:\/\/lbdiag_backends;/);
  assert.equal(http2SyntaxFor([1, 22, 1]), 'listen');
  assert.equal(http2SyntaxFor([1, 25, 1]), 'directive');
  assert.equal(http2SyntaxFor([1, 26, 0]), 'directive');
});

for (const [kind, layer, needs] of [
  ['haproxy-tcp', 4, () => (haproxyInstalled() ? null : 'haproxy not installed')],
  ['haproxy-h2', 7, () => (haproxyInstalled() ? null : 'haproxy not installed')],
  ['nginx-stream', 4, () => (!nginxInstalled() ? 'nginx not installed' : nginxStreamSupport().ok ? null : `nginx stream: ${nginxStreamSupport().reason}`)],
  ['nginx-grpc', 7, () => (nginxInstalled() ? null : 'nginx not installed')],
] as const) {
  test(`${kind} with h2c: ${layer === 4 ? 'one backend per connection' : 'streams of one connection spread, gRPC calls too'}; stop leaves nothing`, async (t) => {
    const missing = needs();
    if (missing) return t.skip(missing);
    const lb = await start(kind);
    try {
      assert.equal(lb.layer, layer);
      if (layer === 4) {
        const seen = new Set<string>();
        for (let c = 0; c < 3; c++) {
          const one = countBy(await streamsOverOneConnection(lb, 6));
          assert.equal(Object.keys(one).length, 1, `one backend per connection through L4: ${JSON.stringify(one)}`);
          seen.add(Object.keys(one)[0]);
        }
        assert.ok(seen.size >= 2, `new connections reach other backends: ${[...seen]}`);
        const g = countBy(await grpcOverOneConnection(lb, 6));
        assert.equal(Object.keys(g).length, 1, JSON.stringify(g));
      } else {
        const spread = countBy(await streamsOverOneConnection(lb, 9));
        assert.deepEqual(Object.keys(spread).sort(), ['b1', 'b2', 'b3'], `every backend from one connection: ${JSON.stringify(spread)}`);
        const g = countBy(await grpcOverOneConnection(lb, 9));
        assert.deepEqual(Object.keys(g).sort(), ['b1', 'b2', 'b3'], JSON.stringify(g));
        assert.deepEqual(Object.keys(countBy(await grpcJsCalls(lb, 9))).sort(), ['b1', 'b2', 'b3']);
      }
    } finally {
      await stopAndCheck(lb);
    }
  });
}

test('http2 module sanity: the h2c backends refuse nothing over prior knowledge', async () => {
  // Direct to one backend: the helper itself works (so a failure above is the balancer's).
  const s = http2.connect(`http://${backends[0].host}:${backends[0].port}`);
  s.on('error', () => {});
  try {
    const g = await grpcWhoAmI(s);
    assert.equal(g.backend, 'b1');
    assert.equal(g.grpcStatus, '0');
  } finally {
    s.close();
  }
});
