/**
 * Issue 9's probe verdicts on real balancers: no false keepalive-pinning through a per-request
 * (layer-7) round robin whose backends are not lbdiag whoami, across connection counts, while a
 * layer-4 balancer still raises it; a dead round-robin member told apart from a stale listener;
 * stale-instance by generation (X-Lbdiag-Started), never on the workers of one start.
 * Backends on 127.0.42.x; balancers are real haproxy / nginx (skipped with the reason when absent).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import path from 'node:path';
import { hostnameBackends as hostnameBackendsOn, keepBalancer, stopAfterAll } from './support/balancer-fixtures.js';
import { startHaproxy, startNginx, startStaleListenerPair, haproxyInstalled, nginxInstalled, nginxStreamSupport, type Balancer, type BackendTarget } from '../src/lab/balancers/index.js';
import { runProbe } from '../src/probe/run.js';
import type { ProbeReport } from '../src/probe/summary.js';
import { freePort, start, startLbdiag, waitForPort, type Started } from './support/processes.js';

const stoppers = stopAfterAll();
const hostnameBackends = (n: number, subnet: number): Promise<BackendTarget[]> => hostnameBackendsOn(stoppers, '127.0.42', n, subnet);
const balancer = (b: Promise<Balancer>): Promise<Balancer> => keepBalancer(stoppers, b);

const ids = (r: ProbeReport) => r.findings.map((f) => f.id);

test('nginx proxy_pass round robin over fast non-whoami backends: no keepalive-pinning at c = 2, 3, 4, 6 with 2 and 3 backends', { timeout: 90_000 }, async (t) => {
  if (!nginxInstalled()) return t.skip('nginx not installed');
  // Runs whose connections carried different numbers of requests (see the end).
  let uneven = 0;
  let runs = 0;
  for (const k of [2, 3]) {
    const backends = await hostnameBackends(k, k === 2 ? 2 : 10);
    const host = `127.0.42.${k === 2 ? 1 : 9}`;
    const lb = await balancer(startNginx({ mode: 'http', listen: { host, port: await freePort(host) }, backends }));
    for (const c of [2, 3, 4, 6]) {
      const rep = await runProbe({ target: `${host}:${lb.address.port}`, mode: 'keepalive', requests: 25 * c, concurrency: c });
      const m = rep.modes.keepalive!;
      const label = `k=${k} c=${c}: ${ids(rep).join(',')} ${m.perConnection.map((p) => JSON.stringify(p.backends)).join(' ')}`;
      assert.equal(m.ok, 25 * c, label);
      assert.equal(m.backends.length, k, label);
      assert.ok(!ids(rep).includes('keepalive-pinning'), label);
      // The random schedule spreads every connection that carried a few requests over several backends.
      for (const p of m.perConnection) if (p.requests >= 12) assert.ok(Object.keys(p.backends).length > 1, label);
      if (new Set(m.perConnection.map((p) => p.requests)).size > 1) uneven++;
      runs++;
    }
    await lb.stop();
  }
  // The schedule is not a fixed quota per connection. Per run that is a matter of chance (75 requests
  // over 3 connections come out 25/25/25 about once in 90 runs, seen once under load), so over all 8
  // runs: a quota would make none of them uneven.
  assert.ok(uneven >= runs / 2, `${uneven} of ${runs} runs had uneven requests per connection`);
});

test('layer-4 balancers over the same kind of backends still raise keepalive-pinning (haproxy mode tcp, nginx stream)', { timeout: 60_000 }, async (t) => {
  if (!haproxyInstalled()) return t.skip('haproxy not installed');
  const backends = await hostnameBackends(2, 20);
  const kinds: [string, () => Promise<Balancer>][] = [['haproxy-tcp', async () => startHaproxy({ mode: 'tcp', listen: { host: '127.0.42.19', port: await freePort('127.0.42.19') }, backends })]];
  if (nginxInstalled() && nginxStreamSupport().ok) kinds.push(['nginx-stream', async () => startNginx({ mode: 'stream', listen: { host: '127.0.42.18', port: await freePort('127.0.42.18') }, backends })]);
  else t.diagnostic(`nginx stream not run: ${nginxStreamSupport().reason ?? 'nginx not installed'}`);
  for (const [kind, make] of kinds) {
    const lb = await balancer(make());
    for (const c of kind === 'haproxy-tcp' ? [2, 4] : [4]) {
      const rep = await runProbe({ target: `${lb.address.host}:${lb.address.port}`, mode: 'both', requests: 30 * c, concurrency: c });
      const pin = rep.findings.find((f) => f.id === 'keepalive-pinning');
      assert.ok(pin, `${kind} c=${c}: ${ids(rep).join(',')}`);
      assert.ok((pin.metrics!.chance as number) < 1e-3);
      assert.ok(!ids(rep).includes('insufficient-data'), `${kind} c=${c}: ${ids(rep).join(',')}`);
    }
    // Too few requests to tell: say so, with the number needed (not "No findings").
    for (const n of [4, 8]) {
      const rep = await runProbe({ target: `${lb.address.host}:${lb.address.port}`, requests: n, concurrency: 4 });
      const few = rep.findings.find((f) => f.id === 'insufficient-data');
      assert.ok(few, `${kind} -n ${n}: ${ids(rep).join(',')}`);
      assert.ok(!ids(rep).includes('keepalive-pinning'));
      assert.ok((few.metrics!.requestsNeeded as number) > n);
    }
    await lb.stop();
  }
});

test('a dead round-robin member is not blamed on SO_REUSEPORT: haproxy mode tcp and mode http without health checks vs a real stale listener pair', { timeout: 90_000 }, async (t) => {
  if (!haproxyInstalled()) return t.skip('haproxy not installed');
  const live = await hostnameBackends(3, 30);
  const deadHost = '127.0.42.39';
  const dead = { host: deadHost, port: await freePort(deadHost), name: 'dead' }; // nothing listens there
  // Both modes at once: each failure waits out haproxy's connect retries (about 3 s).
  await Promise.all(
    (['tcp', 'http'] as const).map(async (mode) => {
      const host = mode === 'tcp' ? '127.0.42.28' : '127.0.42.27';
      const lb = await balancer(startHaproxy({ mode, listen: { host, port: await freePort(host) }, backends: [...live, dead] }));
      const rep = await runProbe({ target: `${host}:${lb.address.port}`, mode: 'short', requests: 16, concurrency: 8 });
      const f = rep.findings.find((x) => x.id === 'intermittent-errors');
      assert.ok(f, `${mode}: ${ids(rep).join(',')}`);
      const rate = f.metrics!.rate as number;
      assert.ok(rate > 0.15 && rate < 0.35, `${mode}: rate ${rate}`);
      assert.equal(f.metrics!.likelyCause, 'dead-member', `${mode}: ${f.title}\n${f.evidence.join('\n')}`);
      assert.ok((f.metrics!.failedP50Ms as number) > 2000, 'haproxy retried the dead server before giving up');
      assert.doesNotMatch(f.title, /SO_REUSEPORT|stale/);
      if (mode === 'http') assert.equal(rep.modes.short!.statuses['503'], rep.modes.short!.errors);
      else assert.ok(Object.keys(rep.modes.short!.errorKinds).every((k) => k === 'closed' || k === 'reset'), JSON.stringify(rep.modes.short!.errorKinds));
      await lb.stop();
    }),
  );
  // Two haproxy processes on one port (SO_REUSEPORT), the old one answering 503 at once.
  const host = '127.0.42.26';
  const pair = await balancer(startStaleListenerPair({ listen: { host, port: await freePort(host) }, backends: live }));
  const rep = await runProbe({ target: `${host}:${pair.address.port}`, mode: 'short', requests: 120, concurrency: 4 });
  const f = rep.findings.find((x) => x.id === 'intermittent-errors');
  assert.ok(f, ids(rep).join(','));
  assert.equal(f.metrics!.likelyCause, 'stale-listener', `${f.title}\n${f.evidence.join('\n')}`);
  assert.ok((f.metrics!.failedP50Ms as number) < 500);
  assert.match(f.remedy, /ss -ltnp/);
});

/** A hostname server in its own process (its own pid), sending lbdiag generation headers. */
async function generationProcess(host: string, name: string, instance: string, started: number): Promise<{ p: Started; port: number }> {
  const script = path.join(path.dirname(new URL(import.meta.url).pathname), 'support', 'hostname-server.js');
  const p = start(process.execPath, [script, host, '0', name, instance, String(started)]);
  stoppers.push(() => p.stop());
  const deadline = Date.now() + 10_000;
  while (!/listening/.test(p.stdout())) {
    if (Date.now() > deadline || p.child.exitCode !== null) throw new Error(`hostname server did not start: ${p.stderr()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return { p, port: Number(/listening \S+:(\d+)/.exec(p.stdout())![1]) };
}

test('stale-instance: an older generation interleaved with a newer one under one name (real haproxy); two pids of one generation are not', { timeout: 60_000 }, async (t) => {
  if (!haproxyInstalled()) return t.skip('haproxy not installed');
  const now = Date.now();
  // Same name "app": an old generation (started 10 min ago) still in the pool beside the new one.
  const old = await generationProcess('127.0.42.41', 'app', 'gen-old', now - 600_000);
  const neu = await generationProcess('127.0.42.42', 'app', 'gen-new', now - 5_000);
  const host = '127.0.42.40';
  let lb = await balancer(startHaproxy({ mode: 'tcp', listen: { host, port: await freePort(host) }, backends: [{ host: '127.0.42.41', port: old.port, name: 'a' }, { host: '127.0.42.42', port: neu.port, name: 'b' }] }));
  let rep = await runProbe({ target: `${host}:${lb.address.port}`, mode: 'short', requests: 40, concurrency: 4 });
  const f = rep.findings.find((x) => x.id === 'stale-instance');
  assert.ok(f, ids(rep).join(','));
  assert.equal(f.severity, 'warn');
  assert.equal(f.backend, 'app');
  assert.equal(f.metrics!.staleInstance, 'gen-old');
  assert.equal(f.metrics!.orderedBy, 'started');
  await lb.stop();
  // Two processes (two pids) of ONE generation, as lbdiag whoami --workers 2 reports them: no finding.
  const w1 = await generationProcess('127.0.42.43', 'app', 'gen-one', now - 5_000);
  const w2 = await generationProcess('127.0.42.44', 'app', 'gen-one', now - 5_000);
  const host2 = '127.0.42.45';
  lb = await balancer(startHaproxy({ mode: 'tcp', listen: { host: host2, port: await freePort(host2) }, backends: [{ host: '127.0.42.43', port: w1.port, name: 'a' }, { host: '127.0.42.44', port: w2.port, name: 'b' }] }));
  rep = await runProbe({ target: `${host2}:${lb.address.port}`, mode: 'short', requests: 40, concurrency: 4 });
  assert.ok(!ids(rep).includes('stale-instance') && !ids(rep).includes('backend-restarted'), ids(rep).join(','));
  const inst = rep.modes.short!.backends.find((b) => b.name === 'app')!.instances;
  assert.equal(inst.length, 1);
  assert.equal(inst[0].pids.length, 2);
});

function getHeaders(host: string, port: number): Promise<http.IncomingHttpHeaders> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path: '/', agent: false }, (res) => {
      res.resume();
      resolve(res.headers);
    });
    req.setTimeout(5000, () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

// PASSES ONCE THE WHOAMI BRANCH (X-Lbdiag-Started, one instance per start) IS MERGED; until then it
// skips itself, detected at run time from the server's own answer.
test('real lbdiag whoami --workers 2: one generation, two pids, no stale-instance [needs whoami with X-Lbdiag-Started]', { timeout: 30_000 }, async (t) => {
  const host = '127.0.42.50';
  const port = await freePort(host);
  const w = startLbdiag(['whoami', '-H', host, '-p', String(port), '--name', 'app', '--workers', '2']);
  stoppers.push(() => w.stop());
  await waitForPort(host, port, 15_000);
  const h = await getHeaders(host, port);
  if (h['x-lbdiag-started'] === undefined) return t.skip('this lbdiag whoami sends no X-Lbdiag-Started yet (the whoami branch adds it): skipped');
  // The port answers as soon as one worker listens: wait (bounded) until both workers answer.
  const pids = new Set([h['x-lbdiag-pid']]);
  for (let i = 0; i < 100 && pids.size < 2; i++) {
    await new Promise((r) => setTimeout(r, 50));
    pids.add((await getHeaders(host, port))['x-lbdiag-pid']);
  }
  assert.equal(pids.size, 2, 'both workers answer');
  const rep = await runProbe({ target: `${host}:${port}`, mode: 'short', requests: 60, concurrency: 4 });
  const app = rep.modes.short!.backends.find((b) => b.name === 'app');
  assert.ok(app, JSON.stringify(rep.modes.short!.backends));
  assert.equal(app.instances.length, 1, JSON.stringify(app.instances));
  assert.equal(app.instances[0].pids.length, 2, JSON.stringify(app.instances));
  assert.ok(!ids(rep).includes('stale-instance'), ids(rep).join(','));
});
