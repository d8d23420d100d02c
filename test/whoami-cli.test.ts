/**
 * `lbdiag whoami` as a real process: signals and drain, --workers, the banner and --log lines,
 * and bad input (port in use, invalid duration). Addresses 127.0.10.x, ports from freePort().
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { freePort, runLbdiag, startLbdiag, type Started } from './support/processes.js';

async function until(what: string, check: () => boolean, timeoutMs = 8000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

async function startWhoamiProcess(host: string, args: string[]): Promise<{ p: Started; port: number }> {
  const port = await freePort(host);
  const p = startLbdiag(['whoami', '-H', host, '--port', String(port), ...args]);
  await until('the banner', () => /keep-alive|"event":"listening"/.test(p.stdout()) || p.child.exitCode !== null);
  assert.equal(p.child.exitCode, null, `whoami exited early: ${p.stderr()}`);
  return { p, port };
}

interface Got {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** One request on a fresh connection (agent: false). */
function get(host: string, port: number, path: string): Promise<Got> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host, port, path, agent: false, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      // A timeout after the head arrived destroys the response, not the request: without these the
      // promise never settled and the test (and its whoami) waited forever.
      res.on('error', reject);
      res.on('aborted', () => reject(new Error('response aborted')));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

test('SIGTERM during a slow request: /health turns 503, the request finishes, the process exits 0', { timeout: 15_000 }, async () => {
  const host = '127.0.10.20';
  const { p, port } = await startWhoamiProcess(host, ['--name', 'sig', '--drain-delay', '600ms']);
  try {
    const slow = get(host, port, '/?wait=1200ms');
    await new Promise((r) => setTimeout(r, 150));
    p.child.kill('SIGTERM');
    await until('the drain message', () => /draining/.test(p.stderr()));
    const health = await get(host, port, '/health');
    assert.equal(health.status, 503);
    assert.equal(health.headers.connection, 'close');
    const r = await slow;
    assert.equal(r.status, 200);
    assert.equal(r.headers['x-lbdiag-backend'], 'sig');
    assert.equal(await p.exited, 0);
    assert.match(p.stderr(), /SIGTERM: draining for 600ms/);
    assert.match(p.stderr(), /drained, exiting/);
  } finally {
    await p.stop('SIGKILL');
  }
});

test('a second signal exits at once', { timeout: 15_000 }, async () => {
  const { p } = await startWhoamiProcess('127.0.10.21', ['--drain-delay', '20s']);
  try {
    p.child.kill('SIGINT');
    await until('the drain message', () => /draining/.test(p.stderr()));
    const t0 = Date.now();
    p.child.kill('SIGINT');
    const code = await p.exited;
    assert.ok(Date.now() - t0 < 2000, 'exited without waiting for the drain delay');
    assert.equal(code, 130);
    assert.match(p.stderr(), /SIGINT again, exiting now/);
  } finally {
    await p.stop('SIGKILL');
  }
});

test('--workers 2 shows two pids of one generation (one instance, one start time, unique connection ids) and drains on SIGTERM', { timeout: 20_000 }, async () => {
  const host = '127.0.10.22';
  const { p, port } = await startWhoamiProcess(host, ['--workers', '2', '--name', 'pool', '--drain-delay', '100ms']);
  try {
    assert.match(p.stdout(), /2 workers \(primary pid \d+\)/);
    const pids = new Set<string>();
    const instances = new Set<string>();
    const started = new Set<string>();
    const conns = new Set<string>();
    let answers = 0;
    for (let i = 0; i < 40 && pids.size < 2; i++) {
      const r = await get(host, port, '/');
      assert.equal(r.headers['x-lbdiag-backend'], 'pool');
      pids.add(String(r.headers['x-lbdiag-pid']));
      instances.add(String(r.headers['x-lbdiag-instance']));
      started.add(String(r.headers['x-lbdiag-started']));
      conns.add(String(r.headers['x-lbdiag-conn']));
      answers++;
    }
    assert.equal(pids.size, 2, `pids seen: ${[...pids].join(', ')}`);
    assert.equal(instances.size, 1, 'the workers of one start share the instance (generation)');
    assert.equal(started.size, 1);
    assert.match([...started][0], /^\d{13}$/);
    assert.equal(conns.size, answers, 'connection ids are unique across the workers of a generation');
    assert.match(p.stdout(), new RegExp(`instance ${[...instances][0]} · 2 workers`));
    assert.ok(!pids.has(String(p.pid)), 'the primary does not answer');
    p.child.kill('SIGTERM');
    assert.equal(await p.exited, 0);
    for (const pid of pids) assert.throws(() => process.kill(Number(pid), 0), 'worker gone');
  } finally {
    await p.stop('SIGKILL');
  }
});

test('--log-format json prints the banner and one NDJSON line per request and per closed connection', { timeout: 15_000 }, async () => {
  const host = '127.0.10.23';
  const { p, port } = await startWhoamiProcess(host, ['--log-format', 'json', '--max-requests-per-conn', '2', '--drain-delay', '0']);
  try {
    const s = net.connect({ host, port });
    s.write('GET /a HTTP/1.1\r\nHost: t\r\n\r\nGET /b?status=404 HTTP/1.1\r\nHost: t\r\n\r\n');
    s.on('data', () => {});
    await new Promise((r) => s.on('close', r));
    await until('the close line', () => /"event":"close"/.test(p.stdout()));
    const lines = p.stdout().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(lines[0].event, 'listening');
    assert.equal(lines[0].maxRequestsPerConn, 2);
    assert.equal(lines[0].idleTimeoutMs, 5000);
    assert.equal(lines[0].idleTimeoutIsDefault, true);
    const reqs = lines.filter((l) => l.event === 'request');
    assert.deepEqual(reqs.map((l) => [l.seq, l.path, l.status, l.connection]), [[1, '/a', 200, 'keep-alive'], [2, '/b', 404, 'close']]);
    assert.equal(reqs[0].conn, reqs[1].conn);
    const close = lines.find((l) => l.event === 'close')!;
    assert.equal(close.requests, 2);
    assert.equal(close.closedBy, 'server-max-requests');
    assert.equal(typeof close.lifetimeMs, 'number');
  } finally {
    await p.stop('SIGTERM');
  }
});

test('--log text lines and the banner show the keep-alive settings in force', { timeout: 15_000 }, async () => {
  const host = '127.0.10.24';
  const { p, port } = await startWhoamiProcess(host, ['--log', '--idle-timeout', '75s', '--name', 'txt', '--drain-delay', '0']);
  try {
    assert.match(p.stdout(), /idle-timeout 75s · max-requests-per-conn unlimited · headers-timeout 60s \(Node default\)/);
    await get(host, port, '/x');
    await until('the close line', () => / close conn=/.test(p.stdout()));
    // agent: false sends Connection: close, so the client asked for the close
    assert.match(p.stdout(), /Z request conn=1 seq=1 remote=127\.0\.0\.1:\d+ GET \/x 200 [\d.]+ms connection=close\n/);
    assert.match(p.stdout(), /Z close conn=1 requests=1 lifetime=\d+ms closed-by=client-header remote=/);
  } finally {
    await p.stop('SIGTERM');
  }
  const d = await startWhoamiProcess('127.0.10.25', ['--drain-delay', '0']);
  assert.match(d.p.stdout(), /idle-timeout 5s \(Node default\)/);
  await d.p.stop('SIGTERM');
});

test('bad input: port in use and an invalid duration exit 2 with one line', { timeout: 45_000 }, async () => {
  const host = '127.0.10.26';
  const blocker = net.createServer();
  await new Promise<void>((r) => blocker.listen(0, host, r));
  const port = (blocker.address() as net.AddressInfo).port;
  try {
    const r = await runLbdiag(['whoami', '-H', host, '--port', String(port)], { timeoutMs: 10_000 });
    assert.equal(r.code, 2);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /^lbdiag: cannot listen on 127\.0\.10\.26:\d+: address already in use/);
    const w = await runLbdiag(['whoami', '-H', host, '--port', String(port), '--workers', '2'], { timeoutMs: 10_000 });
    assert.equal(w.code, 2, w.stderr);
    assert.match(w.stderr, /^lbdiag: cannot listen on .*address already in use/);
  } finally {
    blocker.close();
  }
  for (const args of [['--idle-timeout', 'soon'], ['--port', '99999'], ['--log-format', 'xml'], ['--max-requests-per-conn', '-1']]) {
    const r = await runLbdiag(['whoami', '-H', host, ...args], { timeoutMs: 10_000 });
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /^lbdiag: /);
    assert.doesNotMatch(r.stderr, /\bat .*\.js:\d+/);
  }
});

test('whoami --help documents every option with examples', { timeout: 10_000 }, async () => {
  const r = await runLbdiag(['whoami', '--help']);
  assert.equal(r.code, 0);
  for (const o of ['--port', '--host', '--name', '--idle-timeout', '--max-requests-per-conn', '--headers-timeout', '--drain-delay', '--workers', '--log', '--log-format', '--echo-secrets', 'X-Lbdiag-Started', 'Examples:', '?wait=', '/metrics']) {
    assert.ok(r.stdout.includes(o), `help lacks ${o}`);
  }
});

test('deploy/kubernetes/whoami.yaml: the container args start a server with the documented settings', { timeout: 10_000 }, async () => {
  const { readFile } = await import('node:fs/promises');
  const { ROOT } = await import('./support/processes.js');
  const yaml = await readFile(`${ROOT}/deploy/kubernetes/whoami.yaml`, 'utf8');
  const args = [...yaml.matchAll(/^ {12}- (whoami|--[a-z-]+=\S+)$/gm)].map((m) => m[1]);
  assert.equal(args[0], 'whoami');
  assert.ok(args.includes('--port=18088'));
  assert.match(yaml, /path: \/health/);
  assert.match(yaml, /fieldPath: metadata\.name/);
  const host = '127.0.10.27';
  const port = await freePort(host);
  const p = startLbdiag([...args.map((a) => (a.startsWith('--port=') ? `--port=${port}` : a)), `--host=${host}`], { env: { ...process.env, POD_NAME: 'web-7d9f-abcde', POD_NAMESPACE: 'shop', NODE_NAME: 'node-3' } });
  try {
    await until('the banner', () => /keep-alive/.test(p.stdout()) || p.child.exitCode !== null);
    assert.match(p.stdout(), /web-7d9f-abcde/);
    assert.match(p.stdout(), /idle-timeout 65s/);
    assert.match(p.stdout(), /drain {7}10s on SIGTERM/);
    const r = await get(host, port, '/api');
    const j = JSON.parse(r.body) as { name: string; kubernetes: Record<string, string> };
    assert.equal(j.name, 'web-7d9f-abcde');
    assert.deepEqual(j.kubernetes, { pod: 'web-7d9f-abcde', namespace: 'shop', node: 'node-3' });
    assert.doesNotMatch(r.body, /"PATH"|"HOME"/, 'the environment is never dumped');
  } finally {
    await p.stop('SIGKILL');
  }
});
