/**
 * gRPC on whoami's port, checked with a real gRPC stack (@grpc/grpc-js + @grpc/proto-loader, the
 * .proto text of the wire contract written to a temp file) and with raw node:http2 requests for
 * the malformed cases. Addresses 127.0.13.x.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { startWhoami, type WhoamiHandle } from '../src/whoami/server.js';
import { frameMessage, GRPC_STATUS, LBDIAG_PROTO_TEXT, PROTO_TEXT, SERVING_STATUS, encodeHealthCheckRequest, decodeGetResponse, unframeMessage } from '../src/wire/grpc.js';
import { parseConn } from '../src/wire/identity-headers.js';

type Unary = (req: object, md: grpc.Metadata, opts: grpc.CallOptions, cb: (err: grpc.ServiceError | null, res: Record<string, unknown>) => void) => grpc.ClientUnaryCall;
interface Clients {
  health: grpc.Client & { Check: Unary };
  whoami: grpc.Client & { Get: Unary };
  close(): void;
}

function clients(target: string): Clients {
  const dir = mkdtempSync(path.join(tmpdir(), 'lbdiag-grpc-'));
  try {
    writeFileSync(path.join(dir, 'health.proto'), PROTO_TEXT);
    writeFileSync(path.join(dir, 'lbdiag.proto'), LBDIAG_PROTO_TEXT);
    const def = protoLoader.loadSync([path.join(dir, 'health.proto'), path.join(dir, 'lbdiag.proto')], { keepCase: true, longs: Number, enums: String, defaults: true });
    const pkg = grpc.loadPackageDefinition(def) as unknown as {
      grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } };
      lbdiag: { v1: { WhoAmI: grpc.ServiceClientConstructor } };
    };
    // One channel for both stubs, so both calls share one HTTP/2 connection.
    const health = new pkg.grpc.health.v1.Health(target, grpc.credentials.createInsecure()) as unknown as Clients['health'];
    const whoami = new pkg.lbdiag.v1.WhoAmI(target, grpc.credentials.createInsecure(), { channelOverride: health.getChannel() }) as unknown as Clients['whoami'];
    return { health, whoami, close: () => health.close() };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function call(stub: { [k: string]: Unary }, method: string, req: object): Promise<{ err: grpc.ServiceError | null; res: Record<string, unknown>; md: grpc.Metadata | null }> {
  return new Promise((resolve) => {
    let md: grpc.Metadata | null = null;
    const c = stub[method].call(stub, req, new grpc.Metadata(), { deadline: Date.now() + 5000 }, (err, res) => resolve({ err, res, md }));
    c.on('metadata', (m: grpc.Metadata) => (md = m));
  });
}

async function withWhoami(host: string, f: (h: WhoamiHandle, port: number) => Promise<void>): Promise<void> {
  const h = await startWhoami({ port: 0, host, name: 'grpc-test' });
  try {
    await f(h, h.addresses[0].port);
  } finally {
    await h.close();
  }
}

test('@grpc/grpc-js calls Health/Check and WhoAmI/Get: identity in the reply and in metadata, one connection, seq counts calls', async () => {
  const host = '127.0.13.1';
  await withWhoami(host, async (h, port) => {
    const c = clients(`${host}:${port}`);
    try {
      const check = await call(c.health as unknown as { [k: string]: Unary }, 'Check', { service: '' });
      assert.equal(check.err, null);
      assert.equal(check.res.status, 'SERVING');
      const a = await call(c.whoami as unknown as { [k: string]: Unary }, 'Get', {});
      const b = await call(c.whoami as unknown as { [k: string]: Unary }, 'Get', {});
      assert.equal(a.err, null);
      assert.equal(a.res.backend, 'grpc-test');
      assert.equal(a.res.instance, h.instance);
      assert.equal(a.res.pid, process.pid);
      assert.equal(a.res.protocol, 'h2c');
      assert.equal(a.res.started, h.identity.started);
      assert.equal(a.res.remote_address, '127.0.0.1');
      assert.equal(b.res.conn, a.res.conn, 'the channel keeps one connection');
      assert.equal(Number(b.res.seq), Number(a.res.seq) + 1);
      assert.equal(Number(b.res.stream), Number(a.res.stream) + 2);
      const md = b.md!;
      assert.equal(md.get('x-lbdiag-backend')[0], 'grpc-test');
      assert.equal(md.get('x-lbdiag-instance')[0], h.instance);
      assert.equal(md.get('x-lbdiag-pid')[0], String(process.pid));
      assert.deepEqual(parseConn(String(md.get('x-lbdiag-conn')[0])), { conn: String(b.res.conn), seq: Number(b.res.seq) });
      const unknownService = await call(c.health as unknown as { [k: string]: Unary }, 'Check', { service: 'no.such.Service' });
      assert.equal(unknownService.err?.code, grpc.status.NOT_FOUND);
      const st = h.stats();
      assert.equal(st.grpcCalls['/lbdiag.v1.WhoAmI/Get']?.['0'], 2);
    } finally {
      c.close();
    }
  });
});

async function rawCall(host: string, port: number, p: string, body: Buffer, extra: http2.OutgoingHttpHeaders = {}): Promise<{ headers: http2.IncomingHttpHeaders; trailers: http2.IncomingHttpHeaders; data: Buffer }> {
  const s = http2.connect(`http://${host}:${port}`);
  try {
    return await new Promise((resolve, reject) => {
      const r = s.request({ ':method': 'POST', ':path': p, 'content-type': 'application/grpc', te: 'trailers', ...extra });
      let headers: http2.IncomingHttpHeaders = {};
      let trailers: http2.IncomingHttpHeaders = {};
      const chunks: Buffer[] = [];
      r.on('response', (hd) => (headers = hd));
      r.on('trailers', (t) => (trailers = t));
      r.on('data', (d: Buffer) => chunks.push(d));
      r.on('end', () => resolve({ headers, trailers, data: Buffer.concat(chunks) }));
      r.on('error', reject);
      r.end(body);
    });
  } finally {
    s.close();
  }
}

test('gRPC errors: unknown method UNIMPLEMENTED, bad framing INTERNAL, health NOT_SERVING after POST /health 503 and while draining', async () => {
  const host = '127.0.13.2';
  const h = await startWhoami({ port: 0, host, name: 'grpc-test', drainDelayMs: 2000 });
  const port = h.addresses[0].port;
  try {
    const unknown = await rawCall(host, port, '/lbdiag.v1.WhoAmI/Nope', frameMessage(new Uint8Array(0)));
    assert.equal(unknown.headers[':status'], 200);
    assert.equal(unknown.trailers['grpc-status'], String(GRPC_STATUS.UNIMPLEMENTED));
    assert.match(String(unknown.trailers['grpc-message']), /unknown method/);
    assert.equal(unknown.headers['x-lbdiag-backend'], 'grpc-test');
    const cut = await rawCall(host, port, '/lbdiag.v1.WhoAmI/Get', Buffer.from([0, 0, 0, 0, 9, 1]));
    assert.equal(cut.trailers['grpc-status'], String(GRPC_STATUS.INTERNAL));
    const compressed = await rawCall(host, port, '/grpc.health.v1.Health/Check', Buffer.from([1, 0, 0, 0, 0]));
    assert.equal(compressed.trailers['grpc-status'], String(GRPC_STATUS.INTERNAL));
    const junk = await rawCall(host, port, '/grpc.health.v1.Health/Check', frameMessage(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff])));
    assert.equal(junk.trailers['grpc-status'], String(GRPC_STATUS.INTERNAL));
    const huge = await rawCall(host, port, '/grpc.health.v1.Health/Check', Buffer.alloc(200 * 1024));
    assert.equal(huge.trailers['grpc-status'], String(GRPC_STATUS.RESOURCE_EXHAUSTED));
    const get = await rawCall(host, port, '/lbdiag.v1.WhoAmI/Get', frameMessage(new Uint8Array(0)));
    const u = unframeMessage(get.data);
    assert.ok(u.ok);
    assert.equal(decodeGetResponse(u.ok ? u.payload : Buffer.alloc(0)).backend, 'grpc-test');

    const check = async (): Promise<number> => {
      const r = await rawCall(host, port, '/grpc.health.v1.Health/Check', frameMessage(encodeHealthCheckRequest()));
      const m = unframeMessage(r.data);
      assert.ok(m.ok, 'one message');
      assert.equal(r.trailers['grpc-status'], '0');
      return m.ok ? m.payload.length === 0 ? 0 : m.payload[1] : -1; // field 1 varint: [0x08, status]
    };
    assert.equal(await check(), SERVING_STATUS.SERVING);
    const s = http2.connect(`http://${host}:${port}`);
    await new Promise<void>((resolve) => {
      const r = s.request({ ':method': 'POST', ':path': '/health', 'content-type': 'application/json' });
      r.on('response', () => {});
      r.resume();
      r.on('end', () => resolve());
      r.end('503');
    });
    s.close();
    assert.equal(await check(), SERVING_STATUS.NOT_SERVING);
    const s2 = http2.connect(`http://${host}:${port}`);
    await new Promise<void>((resolve) => {
      const r = s2.request({ ':method': 'POST', ':path': '/health', 'content-type': 'application/json' });
      r.resume();
      r.on('end', () => resolve());
      r.end('200');
    });
    s2.close();
    assert.equal(await check(), SERVING_STATUS.SERVING);
    void h.drain();
    assert.equal(await check(), SERVING_STATUS.NOT_SERVING);
    assert.equal(h.stats().grpcCalls['other']?.['12'], 1);
  } finally {
    await h.close();
  }
});
