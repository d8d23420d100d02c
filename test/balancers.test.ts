import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { startTcpForwarder, startHttpProxy } from '../src/lab/balancers/index.js';
import { isListening } from '../src/lab/proc-net.js';
import { freePort } from './support/processes.js';
import { LB_HOST, startBackends, overOneConnection, overFreshConnections, tally } from './balancers-backends.js';
import type { NameServer } from '../src/lab/name-server.js';

let backends: NameServer[] = [];
before(async () => {
  backends = await startBackends(3);
});
after(async () => {
  await Promise.all(backends.map((b) => b.stop()));
});

test('builtin L4: one keep-alive connection sticks to one backend, new connections rotate', async () => {
  const lb = await startTcpForwarder({ listen: { host: LB_HOST, port: 0 }, backends });
  try {
    assert.equal(lb.layer, 4);
    const origin = `http://${LB_HOST}:${lb.address.port}`;
    const ka = tally(await overOneConnection(origin, 9));
    assert.equal(Object.keys(ka).length, 1, `keep-alive reached ${JSON.stringify(ka)}`);
    const fresh = tally(await overFreshConnections(origin, 9));
    assert.deepEqual(fresh, { b1: 3, b2: 3, b3: 3 });
    assert.equal(lb.stats().accepted, 10);
  } finally {
    await lb.stop();
  }
  assert.equal(isListening(LB_HOST, lb.address.port), false, 'nothing listens after stop');
});

test('builtin L4: half-close is forwarded both ways', async () => {
  // A backend that answers only once the client has finished sending (its read side ended).
  const echo = net.createServer({ allowHalfOpen: true }, (s) => {
    let got = '';
    s.setEncoding('utf8').on('data', (d: string) => (got += d));
    s.on('end', () => s.end(`got:${got}`));
  });
  await new Promise<void>((r) => echo.listen(0, '127.0.30.5', () => r()));
  const lb = await startTcpForwarder({ listen: { host: LB_HOST, port: 0 }, backends: [{ host: '127.0.30.5', port: (echo.address() as net.AddressInfo).port }] });
  try {
    const reply = await new Promise<string>((resolve, reject) => {
      const c = net.connect({ host: LB_HOST, port: lb.address.port, allowHalfOpen: true });
      let buf = '';
      c.setEncoding('utf8').on('data', (d: string) => (buf += d));
      c.on('end', () => resolve(buf));
      c.on('error', reject);
      c.setTimeout(3000, () => reject(new Error('no reply after half-close')));
      c.end('hello');
    });
    assert.equal(reply, 'got:hello');
  } finally {
    await lb.stop();
    await new Promise<void>((r) => echo.close(() => r()));
  }
});

test('builtin L4: a dead backend resets that client only; setBackends adds a backend at runtime', async () => {
  const deadPort = await freePort('127.0.30.6');
  const lb = await startTcpForwarder({ listen: { host: LB_HOST, port: 0 }, backends: [{ host: '127.0.30.6', port: deadPort, name: 'dead' }] });
  try {
    const origin = `http://${LB_HOST}:${lb.address.port}`;
    await assert.rejects(overFreshConnections(origin, 1));
    assert.equal(lb.stats().backendErrors, 1);
    await lb.setBackends(backends.slice(0, 2));
    // A pool made before the scale-up: pinned to one of the first two backends.
    const { Client } = await import('undici');
    const pooled = new Client(origin, { pipelining: 1 });
    const first = (await (await pooled.request({ path: '/', method: 'GET' })).body.text()).trim();
    await lb.setBackends(backends);
    assert.deepEqual(lb.backends().map((b) => b.name), ['b1', 'b2', 'b3']);
    const later = new Set<string>();
    for (let i = 0; i < 5; i++) later.add((await (await pooled.request({ path: '/', method: 'GET' })).body.text()).trim());
    await pooled.close();
    assert.deepEqual([...later], [first], 'the pooled connection keeps its backend');
    const fresh = tally(await overFreshConnections(origin, 6));
    assert.equal(fresh.b3, 2, `the new backend gets its share of new connections: ${JSON.stringify(fresh)}`);
  } finally {
    await lb.stop();
  }
});

test('builtin L7: one keep-alive connection rotates across backends, with forwarding headers', async () => {
  const lb = await startHttpProxy({ listen: { host: LB_HOST, port: 0 }, backends });
  try {
    assert.equal(lb.layer, 7);
    const origin = `http://${LB_HOST}:${lb.address.port}`;
    const answers = await overOneConnection(origin, 9);
    assert.deepEqual(tally(answers), { b1: 3, b2: 3, b3: 3 });
    for (const a of answers) {
      assert.match(String(a.headers['x-seen-forwarded-for']), /^127\.\d+\.\d+\.\d+$/);
      assert.equal(a.headers['x-seen-via'], '1.1 lbdiag');
      assert.equal(a.headers.via, '1.1 lbdiag');
    }
    // Keep-alive towards the backends: b1 saw its 3 requests over one connection.
    const conns = new Set(answers.filter((a) => a.body === 'b1').map((a) => a.headers['x-lbdiag-conn']));
    assert.equal(conns.size, 1);
  } finally {
    await lb.stop();
  }
  assert.equal(isListening(LB_HOST, lb.address.port), false);
});

test('builtin L7: 502 on a dead backend, 400 on garbage, then keeps serving; setBackends at runtime', async () => {
  const deadPort = await freePort('127.0.30.6');
  const lb = await startHttpProxy({ listen: { host: LB_HOST, port: 0 }, backends: [{ host: '127.0.30.6', port: deadPort, name: 'dead' }] });
  try {
    const origin = `http://${LB_HOST}:${lb.address.port}`;
    const [bad] = await overFreshConnections(origin, 1);
    assert.equal(bad.status, 502);
    assert.match(bad.body, /dead .*refused/);
    const garbage = await new Promise<string>((resolve) => {
      const c = net.connect(lb.address.port, LB_HOST, () => c.write('\x00\x01 not http\r\n\r\n'));
      let buf = '';
      c.setEncoding('utf8').on('data', (d: string) => (buf += d));
      c.on('close', () => resolve(buf));
      c.on('error', () => resolve(buf));
    });
    assert.match(garbage, /^HTTP\/1\.1 400/);
    await lb.setBackends(backends.slice(1));
    assert.deepEqual(tally(await overOneConnection(origin, 4)), { b2: 2, b3: 2 });
  } finally {
    await lb.stop();
  }
});
