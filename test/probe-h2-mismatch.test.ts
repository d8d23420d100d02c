/**
 * protocol-mismatch over real sockets: an HTTP/1.1 probe of an h2-only server (node:http2 h2c, and
 * real haproxy with `bind ... proto h2`), an --http2 probe of an HTTP/1.1-only server, https with
 * --http2 where ALPN gives http/1.1; and never on ordinary failures (a server that closes at once,
 * one that sends garbage).
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import selfsigned from 'selfsigned';
import { haproxyInstalled } from '../src/lab/balancers/index.js';
import { runProbe } from '../src/probe/run.js';
import type { ProbeReport } from '../src/probe/summary.js';
import { describeHttp2Frames, looksLikeHttp2Frame } from '../src/probe/h2-wire.js';
import { startH2Backend } from './support/h2-backends.js';
import { startH2Haproxy } from './support/h2-haproxy.js';
import { freePort, runLbdiag } from './support/processes.js';

const stoppers: (() => Promise<unknown>)[] = [];
after(async () => {
  for (const s of stoppers.reverse()) await s().catch(() => undefined);
});

const ids = (r: ProbeReport) => r.findings.map((f) => f.id);

function listen(server: net.Server, host: string): Promise<number> {
  // Close every accepted connection too (server.close alone waits for them).
  const sockets = new Set<net.Socket>();
  server.on(server instanceof https.Server ? 'secureConnection' : 'connection', (s: net.Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  if (server instanceof https.Server) server.on('connection', (s: net.Socket) => sockets.add(s));
  stoppers.push(
    () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  );
  return new Promise((resolve) => server.listen(0, host, () => resolve((server.address() as net.AddressInfo).port)));
}

test('an HTTP/1.1 probe of an h2-only server: protocol-mismatch naming --http2, from the HTTP/2 frames on the wire (node:http2 h2c and haproxy bind proto h2)', { timeout: 30_000 }, async (t) => {
  const b = await startH2Backend({ name: 'h2only', host: '127.0.43.50' });
  stoppers.push(() => b.close());
  const rep = await runProbe({ target: `${b.host}:${b.port}`, mode: 'keepalive', requests: 6, concurrency: 2 });
  const m = rep.modes.keepalive!;
  assert.equal(m.errorKinds['http2-frames']?.count, 6, JSON.stringify(m.errorKinds));
  const f = rep.findings.find((x) => x.id === 'protocol-mismatch');
  assert.ok(f, ids(rep).join(','));
  assert.equal(f.severity, 'error');
  assert.match(f.title, /--http2/);
  assert.match(f.evidence[0], /SETTINGS or GOAWAY/);
  if (!haproxyInstalled()) return t.skip('haproxy not installed: the haproxy half skipped');
  const host = '127.0.43.51';
  const lb = await startH2Haproxy({ mode: 'http', host, port: await freePort(host), backends: [b] });
  stoppers.push(() => lb.stop());
  const viaLb = await runProbe({ target: `${host}:${lb.port}`, mode: 'keepalive', requests: 4, concurrency: 1 });
  assert.ok(ids(viaLb).includes('protocol-mismatch'), `${ids(viaLb).join(',')} ${JSON.stringify(viaLb.modes.keepalive!.errorKinds)}`);
  // The same frontend with --http2 works and raises nothing of the kind.
  const ok = await runProbe({ target: `${host}:${lb.port}`, http2: true, mode: 'keepalive', requests: 4, concurrency: 1 });
  assert.equal(ok.modes.keepalive!.ok, 4);
  assert.ok(!ids(ok).includes('protocol-mismatch'));
});

test('an --http2 probe of an HTTP/1.1-only server: protocol-mismatch quoting its HTTP/1.1 reply to the preface', { timeout: 30_000 }, async () => {
  const server = http.createServer((_q, r) => r.end('h1\n'));
  const port = await listen(server, '127.0.43.52');
  const rep = await runProbe({ target: `127.0.43.52:${port}`, http2: true, mode: 'keepalive', requests: 4, concurrency: 2 });
  const f = rep.findings.find((x) => x.id === 'protocol-mismatch');
  assert.ok(f, `${ids(rep).join(',')} ${JSON.stringify(rep.modes.keepalive!.errorKinds)}`);
  assert.match(f.title, /HTTP\/1\.1 only/);
  assert.match(f.evidence.join('\n'), /"HTTP\/1\.1 400/);
  assert.match(f.remedy, /without --http2/);
});

test('https + --http2 where ALPN gives http/1.1: protocol-mismatch naming what ALPN agreed on', { timeout: 30_000 }, async () => {
  const pems = await selfsigned.generate([{ name: 'commonName', value: 'localhost' }], { keyType: 'ec' });
  const server = https.createServer({ key: pems.private, cert: pems.cert, ALPNProtocols: ['http/1.1'] }, (_q, r) => r.end('h1\n'));
  const port = await listen(server, '127.0.43.53');
  const rep = await runProbe({ target: `https://127.0.43.53:${port}/`, http2: true, insecure: true, mode: 'keepalive', requests: 3, concurrency: 1 });
  const f = rep.findings.find((x) => x.id === 'protocol-mismatch');
  assert.ok(f, `${ids(rep).join(',')} ${JSON.stringify(rep.modes.keepalive!.errorKinds)}`);
  assert.match(f.title, /ALPN/);
  assert.match(f.title, /http\/1\.1/);
});

test('ordinary failures are not a protocol mismatch: a server that closes at once, one that sends garbage', { timeout: 30_000 }, async () => {
  const closer = net.createServer((s) => s.destroy());
  const pc = await listen(closer, '127.0.43.54');
  const garbage = net.createServer((s) => {
    s.on('error', () => undefined);
    s.end(Buffer.from([0, 0, 0, 9, 9, 9, 9, 9, 9, 9, 9, 9, 0x0d, 0x0a]));
  });
  const pg = await listen(garbage, '127.0.43.54');
  for (const [port, http2] of [[pc, false], [pc, true], [pg, false], [pg, true]] as const) {
    let rep: ProbeReport | undefined;
    try {
      rep = await runProbe({ target: `127.0.43.54:${port}`, http2, mode: 'keepalive', requests: 4, concurrency: 2, timeoutMs: 2000 });
    } catch {
      continue; // "cannot reach": a usage error, no finding at all
    }
    assert.ok(!ids(rep).includes('protocol-mismatch'), `port ${port} http2=${http2}: ${ids(rep).join(',')} ${JSON.stringify(rep.modes.keepalive!.errorKinds)}`);
  }
});

test('HTTP/2 frame sniffing: SETTINGS and GOAWAY on stream 0 are recognised, an HTTP/1.x line, other frames and short input are not', () => {
  // node:http2's answer to an HTTP/1.1 request, as read off the wire: SETTINGS (6 bytes), then GOAWAY (PROTOCOL_ERROR).
  const wire = Buffer.from('00000604000000000000030000' + '03e8' + '0000080700000000000000000000000001', 'hex');
  assert.ok(looksLikeHttp2Frame(wire));
  assert.equal(describeHttp2Frames(wire), 'SETTINGS, GOAWAY (PROTOCOL_ERROR)');
  assert.equal(describeHttp2Frames(Buffer.from('000000040100000000', 'hex')), 'SETTINGS ACK');
  assert.ok(!looksLikeHttp2Frame(Buffer.from('HTTP/1.1 200 OK\r\n\r\n')));
  assert.ok(!looksLikeHttp2Frame(Buffer.from('000005040000000000', 'hex')), 'SETTINGS length not a multiple of 6');
  assert.ok(!looksLikeHttp2Frame(Buffer.from('000006040000000001000300000064', 'hex')), 'SETTINGS on a stream other than 0');
  assert.ok(!looksLikeHttp2Frame(Buffer.from('000004000000000001', 'hex')), 'a DATA frame is not what a server sends first');
  assert.ok(!looksLikeHttp2Frame(Buffer.from('0000000400', 'hex')), 'fewer than 9 bytes');
});

test('HTTP/2 flags: --streams, --grpc-method and --close are usage errors where they do not apply (one line, exit 2)', async () => {
  for (const [args, re] of [
    [['--streams', '4'], /--streams applies to HTTP\/2/],
    [['--grpc-method', 'a.B/C'], /--grpc-method needs --grpc/],
    [['--http2', '--close', 'client'], /--close applies to HTTP\/1\.1/],
    [['--grpc', '--grpc-method', 'nope'], /invalid --grpc-method/],
    [['--http2', '--streams', '0'], /--streams/],
  ] as const) {
    const r = await runLbdiag(['probe', '127.0.0.1:9', ...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  }
});
