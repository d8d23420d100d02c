/** The probe's pure building blocks: histogram, chi-square, response parser, identity, target, flags. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Histogram } from '../src/core/histogram.js';
import { chiSquareGoodnessOfFit, gammaQ } from '../src/probe/chi-square.js';
import { ResponseParser } from '../src/probe/http-response.js';
import { identify, parseBackendFrom } from '../src/probe/identity.js';
import { parseTarget } from '../src/probe/target.js';
import { optionsFromFlags, parseWeights } from '../src/probe/command.js';
import { Timeline } from '../src/probe/timeline.js';

test('histogram: percentiles within 3 %, exact min/max/count, bounded memory', () => {
  const h = new Histogram();
  for (let i = 1; i <= 10_000; i++) h.record(i / 10); // 0.1 .. 1000 ms
  assert.equal(h.count, 10_000);
  assert.equal(h.min, 0.1);
  assert.equal(h.max, 1000);
  for (const [q, v] of [[0.5, 500], [0.9, 900], [0.99, 990]]) assert.ok(Math.abs(h.quantile(q) - v) / v < 0.03, `q${q} = ${h.quantile(q)}`);
  assert.ok(Math.abs(h.countBetween(850, 1600) - 1501) < 200); // edges to bucket precision (~2-3 %)
  const g = new Histogram();
  g.record(5000);
  h.merge(g);
  assert.equal(h.max, 5000);
  assert.ok(Number.isNaN(new Histogram().quantile(0.5)));
});

test('chi-square: p-values match tables', () => {
  // Q(df/2, x/2): chi2 3.841 with df 1 -> 0.05; 5.991 df 2 -> 0.05; 13.816 df 2 -> 0.001.
  assert.ok(Math.abs(gammaQ(0.5, 3.841 / 2) - 0.05) < 1e-3);
  assert.ok(Math.abs(gammaQ(1, 5.991 / 2) - 0.05) < 1e-3);
  assert.ok(Math.abs(gammaQ(1, 13.816 / 2) - 0.001) < 1e-4);
  assert.ok(Math.abs(gammaQ(5, 18.307 / 2) - 0.05) < 1e-3); // df 10
  const r = chiSquareGoodnessOfFit([50, 30, 20], [1, 1, 1]);
  assert.equal(r.df, 2);
  assert.ok(Math.abs(r.statistic - 14) < 1e-9);
  assert.ok(Math.abs(r.pValue - Math.exp(-7)) < 1e-9); // df 2: p = e^(-x/2)
  assert.ok(Math.abs(r.minExpected - 100 / 3) < 1e-9);
});

test('response parser: content-length, chunked across packets, close-delimited, 1xx, HEAD', () => {
  const p = new ResponseParser();
  assert.equal(p.feed(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Lbdiag-Backend: a\r\n\r\nhel')), false);
  assert.equal(p.feed(Buffer.from('lo')), true);
  assert.equal(p.response!.body.toString(), 'hello');
  assert.equal(p.response!.headers['x-lbdiag-backend'], 'a');
  const c = new ResponseParser();
  const raw = 'HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 503 Service Unavailable\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n4\r\nWiki\r\n5;x=1\r\npedia\r\n0\r\nX-T: 1\r\n\r\n';
  let done = false;
  for (const ch of raw) done = c.feed(Buffer.from(ch)) || done;
  assert.ok(done);
  assert.equal(c.response!.status, 503);
  assert.equal(c.response!.close, true);
  assert.equal(c.response!.body.toString(), 'Wikipedia');
  const u = new ResponseParser();
  assert.equal(u.feed(Buffer.from('HTTP/1.0 200 OK\r\n\r\nbody until close')), false);
  assert.ok(u.end());
  assert.equal(u.response!.body.toString(), 'body until close');
  const h = new ResponseParser(16, true);
  assert.ok(h.feed(Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n')));
  assert.throws(() => new ResponseParser().feed(Buffer.from('SSH-2.0-OpenSSH\r\n\r\n')), /not an HTTP/);
});

test('identity: lbdiag headers, lbdiag JSON, traefik Hostname, short body, and --backend-from', () => {
  const res = (headers: Record<string, string>, body: string) => ({ status: 200, headers, body: Buffer.from(body), bodyBytes: body.length, close: false });
  const lb = identify(res({ 'x-lbdiag-backend': 'a', 'x-lbdiag-instance': 'i1', 'x-lbdiag-pid': '42', 'x-lbdiag-conn': '7;seq=3', 'content-type': 'application/json' }, '{"name":"a","forwarded":{"xForwardedFor":["1.2.3.4"],"via":null}}'), { kind: 'auto' }, true);
  assert.deepEqual(lb, { backend: 'a', instance: 'i1', pid: 42, serverConn: '7', serverSeq: 3, forwarded: ['X-Forwarded-For'] });
  assert.equal(identify(res({ 'content-type': 'application/json' }, '{"name":"b"}'), { kind: 'auto' }, false).backend, 'b');
  const traefik = identify(res({}, 'Hostname: pod-7f9\nIP: 10.0.0.2\nX-Forwarded-For: 10.1.1.1\n'), { kind: 'auto' }, true);
  assert.equal(traefik.backend, 'pod-7f9');
  assert.deepEqual(traefik.forwarded, ['X-Forwarded-For']);
  assert.equal(identify(res({}, 'server-2\n'), { kind: 'auto' }, false).backend, 'server-2');
  assert.equal(identify(res({ 'content-type': 'text/html' }, '<html>big</html>'), { kind: 'auto' }, false).backend, undefined);
  assert.equal(identify(res({ 'x-served-by': 'web3' }, ''), parseBackendFrom('header:X-Served-By'), false).backend, 'web3');
  assert.equal(identify(res({}, '{"meta":{"pod":"p1"}}'), parseBackendFrom('json:meta.pod'), false).backend, 'p1');
  assert.equal(identify(res({}, 'served by node=n4 ok'), parseBackendFrom('regex:node=(\\w+)'), false).backend, 'n4');
  assert.throws(() => parseBackendFrom('xml:foo'), /invalid --backend-from/);
});

test('target parsing: host:port, URLs, IPv6, bad input', () => {
  assert.deepEqual(parseTarget('10.0.0.10:8080'), { scheme: 'http', host: '10.0.0.10', port: 8080, path: '/', hostHeader: '10.0.0.10:8080', url: 'http://10.0.0.10:8080/' });
  const u = parseTarget('https://vip.example/health?x=1');
  assert.equal(u.port, 443);
  assert.equal(u.path, '/health?x=1');
  assert.equal(parseTarget('[::1]:81').host, '::1');
  assert.throws(() => parseTarget('ftp://x'), /unsupported scheme/);
  assert.throws(() => parseTarget('http://[bad'), /invalid target/);
});

test('flags: weights, exclusive pacing, rotate-only options, headers', () => {
  assert.deepEqual([...parseWeights('a=3, b=1')], [['a', 3], ['b', 1]]);
  assert.throws(() => parseWeights('a'), /invalid --weights/);
  const base = { mode: 'both', backendFrom: 'auto', resolve: 'first', failOn: 'error' };
  assert.throws(() => optionsFromFlags('x:1', { ...base, interval: '1s', rate: '10' }), /exclusive/);
  assert.throws(() => optionsFromFlags('x:1', { ...base, maxConnAge: '1s' }), /need --mode rotate/);
  assert.throws(() => optionsFromFlags('x:1', { ...base, header: ['nocolon'] }), /invalid header/);
  assert.throws(() => optionsFromFlags('x:1', { ...base, requests: '0' }), /-n\/--requests/);
  const o = optionsFromFlags('x:1', { ...base, data: '{}', header: ['Content-Type: application/json'] });
  assert.equal(o.method, 'POST');
  assert.deepEqual(o.headers, [['Content-Type', 'application/json']]);
});

test('timeline: buckets double and merge when time runs past them', () => {
  const t = new Timeline(100, 4);
  for (let ms = 0; ms < 800; ms += 10) t.add(ms, ms < 400 ? 'a' : 'b', false);
  t.add(805, undefined, true);
  assert.equal(t.bucketMs, 400);
  assert.equal(t.buckets.length, 3);
  assert.equal(t.buckets[0].backends.get('a'), 40);
  assert.equal(t.buckets[1].backends.get('b'), 40);
  assert.equal(t.buckets[2].errors, 1);
});
