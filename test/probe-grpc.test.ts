/**
 * probe --grpc over real sockets: against a real gRPC stack (@grpc/grpc-js with
 * @grpc/proto-loader, the .proto text of src/wire/grpc.ts) for Health/Check, a grpc-status error
 * named by its status and identity from metadata; against the test's h2c backends for
 * lbdiag.v1.WhoAmI/Get (identity from metadata and from the decoded reply).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { PROTO_TEXT } from '../src/wire/grpc.js';
import { runProbe } from '../src/probe/run.js';
import { startH2Backend } from './support/h2-backends.js';

const stoppers: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const s of stoppers.reverse()) await s().catch(() => undefined);
});

/** A grpc-js server for grpc.health.v1.Health: `answer` decides each call. */
async function grpcJsHealth(host: string, answer: (n: number) => { status?: number; error?: grpc.ServiceError }, name: string): Promise<number> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lbdiag-grpc-'));
  const file = path.join(dir, 'health.proto');
  fs.writeFileSync(file, PROTO_TEXT);
  const def = protoLoader.loadSync(file, { keepCase: true, enums: String, defaults: true });
  fs.rmSync(dir, { recursive: true, force: true });
  const pkg = grpc.loadPackageDefinition(def) as unknown as { grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } } };
  const server = new grpc.Server();
  let n = 0;
  server.addService(pkg.grpc.health.v1.Health.service, {
    Check: (call: grpc.ServerUnaryCall<unknown, unknown>, cb: grpc.sendUnaryData<unknown>) => {
      const md = new grpc.Metadata();
      md.set('x-lbdiag-backend', name);
      call.sendMetadata(md);
      const a = answer(n++);
      if (a.error) cb(a.error);
      else cb(null, { status: a.status ?? 1 });
    },
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync(`${host}:0`, grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  stoppers.push(() => new Promise<void>((r) => server.tryShutdown(() => r())));
  return port;
}

test('--grpc against a real grpc-js server: Health/Check answers with identity from metadata; grpc-status errors are named by their status', { timeout: 30_000 }, async () => {
  const host = '127.0.43.40';
  const port = await grpcJsHealth(host, (n) => (n % 4 === 3 ? { error: Object.assign(new Error('going away'), { code: grpc.status.UNAVAILABLE, details: 'going away', metadata: new grpc.Metadata() }) } : n % 4 === 2 ? { status: 2 } : {}), 'grpcjs-1');
  const rep = await runProbe({ target: `${host}:${port}`, grpc: true, mode: 'keepalive', requests: 40, concurrency: 2, streams: 2 });
  const m = rep.modes.keepalive!;
  assert.equal(rep.config.protocol, 'grpc');
  assert.equal(rep.config.grpcMethod, '/grpc.health.v1.Health/Check');
  assert.equal(m.requests, 40);
  assert.equal(m.errorKinds['grpc-unavailable']?.count, 10, JSON.stringify(m.errorKinds));
  assert.equal(m.errorKinds['not-serving']?.count, 10, JSON.stringify(m.errorKinds));
  assert.equal(m.ok, 20);
  assert.deepEqual(m.backends.map((b) => b.name), ['grpcjs-1']);
  assert.equal(m.backends[0].count, 20);
});

test('--grpc --grpc-method lbdiag.v1.WhoAmI/Get: identity from metadata, and from the decoded reply with --backend-from json:backend', { timeout: 30_000 }, async () => {
  const b = await startH2Backend({ name: 'who-1', host: '127.0.43.41' });
  stoppers.push(() => b.close());
  const rep = await runProbe({ target: `${b.host}:${b.port}`, grpc: true, grpcMethod: '/lbdiag.v1.WhoAmI/Get', mode: 'keepalive', requests: 30, concurrency: 2, streams: 3 });
  const m = rep.modes.keepalive!;
  assert.equal(m.ok, 30, JSON.stringify(m.errorKinds));
  assert.deepEqual(m.backends.map((x) => x.name), ['who-1']);
  assert.equal(m.backends[0].instances.length, 1);
  const viaJson = await runProbe({ target: `${b.host}:${b.port}`, grpc: true, grpcMethod: 'lbdiag.v1.WhoAmI/Get', backendFrom: 'json:backend', mode: 'keepalive', requests: 10, concurrency: 1 });
  assert.deepEqual(viaJson.modes.keepalive!.backends.map((x) => x.name), ['who-1']);
  // A method the server does not have: grpc-unimplemented, not a crash nor an unnamed error.
  const unknown = await runProbe({ target: `${b.host}:${b.port}`, grpc: true, grpcMethod: 'foo.v1.Bar/Baz', mode: 'keepalive', requests: 4, concurrency: 1 });
  assert.equal(unknown.modes.keepalive!.errorKinds['grpc-unimplemented']?.count, 4);
});

test('--grpc-method parsing; the default is the wire contract\'s Health/Check path', async () => {
  const { parseGrpcMethod, DEFAULT_GRPC_METHOD } = await import('../src/probe/h2-options.js');
  const { HEALTH_CHECK_PATH } = await import('../src/wire/grpc.js');
  assert.equal(DEFAULT_GRPC_METHOD, HEALTH_CHECK_PATH);
  assert.equal(parseGrpcMethod(undefined), HEALTH_CHECK_PATH);
  assert.equal(parseGrpcMethod('lbdiag.v1.WhoAmI/Get'), '/lbdiag.v1.WhoAmI/Get');
  assert.equal(parseGrpcMethod('/a.B/C'), '/a.B/C');
  assert.throws(() => parseGrpcMethod('nope'), /invalid --grpc-method/);
  assert.throws(() => parseGrpcMethod('/a b/c'), /invalid --grpc-method/);
});
