/**
 * Issue 9.7 / 9.8: inputs that used to be silently wrong, and hey/oha habits. Real whoami backends
 * on 127.0.22.x; the CLI is run as a user would.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { startWhoami, type WhoamiHandle } from '../src/whoami/server.js';
import { checkWeights } from '../src/probe/weights-check.js';
import { freePort, runLbdiag } from './support/processes.js';

const backends: WhoamiHandle[] = [];
let target = '';

before(async () => {
  const port = await freePort('127.0.22.2');
  backends.push(await startWhoami({ host: '127.0.22.2', port, name: 'web-1' }));
  target = `127.0.22.2:${port}`;
});
after(async () => {
  for (const b of backends) await b.close();
});

test('--weights naming a backend that never answered: near-miss is a usage error after the report, never an infinite ratio', async () => {
  const r = await runLbdiag(['probe', target, '--mode', 'short', '-n', '20', '--weights', 'web1=1', '--json'], { timeoutMs: 20_000 });
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stderr.trim(), 'lbdiag: --weights names "web1", which never answered: did you mean "web-1"? (backends that answered: web-1)');
  const rep = JSON.parse(r.stdout);
  assert.equal(rep.modes.short.ok, 20, 'the report of what ran is still printed');
  assert.deepEqual(rep.inputErrors, ['--weights names "web1", which never answered: did you mean "web-1"? (backends that answered: web-1)']);
  assert.ok(!/Infinity|∞/.test(r.stdout));
});

test('checkWeights: a name unlike any answering backend, while the others match, is a missing backend', () => {
  const seen = new Set(['web-1', 'web-2']);
  const c = checkWeights(new Map([['web-1', 2], ['web-2', 1], ['db-9', 1]]), seen);
  assert.deepEqual(c.usageErrors, []);
  assert.deepEqual([...c.weights!.keys()], ['web-1', 'web-2']);
  assert.equal(c.findings.length, 1);
  assert.equal(c.findings[0].id, 'backend-missing');
  assert.equal(c.findings[0].backend, 'db-9');
  const none = checkWeights(new Map([['a', 1], ['b', 3]]), seen);
  assert.equal(none.usageErrors.length, 2);
  assert.match(none.usageErrors[0], /no --weights name matches a backend that answered \(web-1, web-2\)/);
  assert.equal(none.weights, undefined);
  assert.deepEqual(checkWeights(new Map([['web-1', 1]]), seen).usageErrors, []);
});

test('--records - writes NDJSON on stdout, the report goes to stderr', async () => {
  const r = await runLbdiag(['probe', target, '--mode', 'keepalive', '-n', '6', '-c', '2', '--records', '-'], { timeoutMs: 20_000, env: { ...process.env, NO_COLOR: '1' } });
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.trim().split('\n');
  assert.equal(lines.length, 6);
  for (const l of lines) assert.equal(JSON.parse(l).backend, 'web-1');
  assert.match(r.stderr, /keepalive \(keep-alive connections\): 6 requests/);
});

test('unknown enum values and bad flags: one line, exit 2, the valid values listed', async () => {
  const cases: [string[], RegExp][] = [
    [['probe', target, '--fail-on', 'warning'], /^lbdiag: invalid --fail-on "warning" \(expected info, warn, error or none\)$/],
    [['probe', target, '--mode', 'fast'], /^lbdiag: invalid --mode "fast" \(expected both, keepalive, short, rotate\)$/],
    [['probe', target, '--close', 'both'], /^lbdiag: invalid --close "both" \(expected server or client\)$/],
    [['probe', target, '--resolve', 'any'], /^lbdiag: invalid --resolve "any" \(first or all\)$/],
    [['probe', target, '-d', '10', '-z', '5'], /^lbdiag: -d\/--duration and -z name the same setting: give one$/],
    [['probe', target, '--timeout', '2 s'], /^lbdiag: invalid --timeout "2 s" \(examples: 250ms, 1\.5s, 2m, 1m30s; a bare number is seconds\)$/],
    [['pcap', '--fail-on', 'warning', '-'], /^lbdiag: invalid --fail-on "warning" \(expected info, warn, error or none\)$/],
    [['pcap', '--stall-threshold', 'soon', '-'], /^lbdiag: invalid --stall-threshold "soon"/],
    [['whoami', '--drain-delay', 'x'], /^lbdiag: invalid --drain-delay "x"/],
  ];
  for (const [args, re] of cases) {
    const r = await runLbdiag(args, { timeoutMs: 10_000 });
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr.trim(), re);
  }
});

test('hey/oha aliases: -z (bare number is seconds), -q (whole-mode rate), -m (method)', async () => {
  const r = await runLbdiag(['probe', target, '--mode', 'keepalive', '-z', '0.5', '-q', '40', '-m', 'post', '-c', '2', '--json'], { timeoutMs: 20_000 });
  assert.equal(r.code, 0, r.stderr);
  const rep = JSON.parse(r.stdout);
  assert.equal(rep.config.durationMs, 500);
  assert.equal(rep.config.rate, 40);
  assert.equal(rep.config.method, 'POST');
  const n = rep.modes.keepalive.requests;
  assert.ok(n >= 10 && n <= 24, `about 40/s for 0.5 s: ${n}`);
});
