import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startHaproxy, startStaleListenerPair, startNginx, haproxyInstalled, nginxInstalled, nginxStreamSupport, haproxyConfig } from '../src/lab/balancers/index.js';
import { isListening, listenerCount } from '../src/lab/proc-net.js';
import { pidAlive } from '../src/lab/supervisor.js';
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

function assertGone(host: string, port: number, pids: number[]): void {
  assert.equal(isListening(host, port), false, `nothing listens on ${host}:${port} after stop`);
  for (const pid of pids) assert.equal(pidAlive(pid), false, `pid ${pid} is gone after stop`);
}

test('haproxy config: roundrobin, the servers, forwardfor only in http mode', () => {
  const tcp = haproxyConfig({ mode: 'tcp', listen: { host: LB_HOST, port: 8000 }, backends: [{ host: '127.0.30.2', port: 81, name: 'web 1' }] });
  assert.match(tcp, /^\s+mode tcp$/m);
  assert.match(tcp, /^\s+balance roundrobin$/m);
  assert.match(tcp, /^\s+bind 127\.0\.30\.1:8000$/m);
  assert.match(tcp, /^\s+server web_1 127\.0\.30\.2:81$/m);
  assert.doesNotMatch(tcp, /forwardfor/);
  const stale = haproxyConfig({ mode: 'http', listen: { host: LB_HOST, port: 8000 }, backends: [{ host: '127.0.30.2', port: 81 }], stale: true });
  assert.doesNotMatch(stale, /^\s+server /m);
});

test('haproxy mode tcp: keep-alive pins, new connections rotate; stop leaves nothing', async (t) => {
  if (!haproxyInstalled()) return t.skip('haproxy not installed');
  const port = await freePort(LB_HOST);
  const lb = await startHaproxy({ mode: 'tcp', listen: { host: LB_HOST, port }, backends });
  const pids = lb.pids;
  try {
    assert.equal(lb.layer, 4);
    assert.ok(lb.pid && pidAlive(lb.pid));
    const origin = `http://${LB_HOST}:${port}`;
    const ka = tally(await overOneConnection(origin, 6));
    assert.equal(Object.keys(ka).length, 1, JSON.stringify(ka));
    const fresh = tally(await overFreshConnections(origin, 9));
    assert.deepEqual(Object.keys(fresh).sort(), ['b1', 'b2', 'b3'], JSON.stringify(fresh));
  } finally {
    await lb.stop();
  }
  assertGone(LB_HOST, port, pids);
});

test('haproxy mode http: one keep-alive connection rotates, X-Forwarded-For set; reload adds a backend', async (t) => {
  if (!haproxyInstalled()) return t.skip('haproxy not installed');
  const port = await freePort(LB_HOST);
  const lb = await startHaproxy({ mode: 'http', listen: { host: LB_HOST, port }, backends: backends.slice(0, 2) });
  const pids = new Set(lb.pids);
  try {
    assert.equal(lb.layer, 7);
    const origin = `http://${LB_HOST}:${port}`;
    const answers = await overOneConnection(origin, 6);
    assert.deepEqual(tally(answers), { b1: 3, b2: 3 });
    for (const a of answers) assert.match(String(a.headers['x-seen-forwarded-for']), /^127\./);
    const oldPid = lb.pid;
    await lb.setBackends(backends);
    for (const p of lb.pids) pids.add(p);
    assert.notEqual(lb.pid, oldPid);
    assert.deepEqual(tally(await overOneConnection(origin, 6)), { b1: 2, b2: 2, b3: 2 });
  } finally {
    await lb.stop();
  }
  assertGone(LB_HOST, port, [...pids]);
});

test('stale listener: two haproxy generations on one port, fresh connections get both 503 and 200', async (t) => {
  if (!haproxyInstalled()) return t.skip('haproxy not installed');
  const port = await freePort(LB_HOST);
  const pair = await startStaleListenerPair({ listen: { host: LB_HOST, port }, backends });
  try {
    assert.equal(pair.pids.length, 2);
    assert.equal(listenerCount(LB_HOST, port), 2, 'two listening sockets share the port');
    const answers = await overFreshConnections(`http://${LB_HOST}:${port}`, 40);
    const bad = answers.filter((a) => a.status === 503);
    const good = answers.filter((a) => a.status === 200);
    assert.equal(bad.length + good.length, 40);
    assert.ok(bad.length >= 5 && good.length >= 5, `503s and 200s both common: ${bad.length} / ${good.length}`);
    for (const a of bad) assert.equal(a.headers['x-lbdiag-generation'], 'old');
    for (const a of good) assert.equal(a.headers['x-lbdiag-generation'], 'new');
    assert.deepEqual(new Set(good.map((a) => a.body)), new Set(['b1', 'b2', 'b3']));
  } finally {
    await pair.stop();
  }
  assertGone(LB_HOST, port, pair.pids);
});

test('nginx http: one keep-alive connection rotates, X-Forwarded-For set; reload adds a backend', async (t) => {
  if (!nginxInstalled()) return t.skip('nginx not installed');
  const port = await freePort(LB_HOST);
  const lb = await startNginx({ listen: { host: LB_HOST, port }, backends: backends.slice(0, 2) });
  const pids = new Set(lb.pids);
  try {
    assert.equal(lb.layer, 7);
    assert.ok(pids.size >= 2, `master and a worker: ${[...pids]}`);
    const origin = `http://${LB_HOST}:${port}`;
    const answers = await overOneConnection(origin, 6);
    assert.deepEqual(tally(answers), { b1: 3, b2: 3 });
    for (const a of answers) assert.match(String(a.headers['x-seen-forwarded-for']), /^127\./);
    await lb.setBackends(backends);
    for (const p of lb.pids) pids.add(p);
    assert.deepEqual(Object.keys(tally(await overFreshConnections(origin, 6))).sort(), ['b1', 'b2', 'b3']);
  } finally {
    await lb.stop();
  }
  assertGone(LB_HOST, port, [...pids]);
});

test('nginx stream (L4): keep-alive pins, new connections rotate', async (t) => {
  const s = nginxStreamSupport();
  if (!s.ok) return t.skip(s.reason ?? 'no nginx stream module');
  const port = await freePort(LB_HOST);
  const lb = await startNginx({ mode: 'stream', listen: { host: LB_HOST, port }, backends });
  const pids = lb.pids;
  try {
    assert.equal(lb.layer, 4);
    const origin = `http://${LB_HOST}:${port}`;
    assert.equal(Object.keys(tally(await overOneConnection(origin, 6))).length, 1);
    assert.deepEqual(Object.keys(tally(await overFreshConnections(origin, 9))).sort(), ['b1', 'b2', 'b3']);
  } finally {
    await lb.stop();
  }
  assertGone(LB_HOST, port, pids);
});

test('nginx stream unavailable: a one-line MissingToolError', async (t) => {
  const s = nginxStreamSupport();
  if (s.ok) return t.skip('this nginx has the stream module');
  if (!nginxInstalled()) return t.skip('nginx not installed');
  await assert.rejects(startNginx({ mode: 'stream', listen: { host: LB_HOST, port: 1 }, backends }), (e: Error & { usage?: boolean }) => {
    assert.equal(e.name, 'MissingToolError');
    assert.equal(e.usage, true);
    assert.doesNotMatch(e.message, /\n/);
    assert.match(e.message, /stream/);
    return true;
  });
});
