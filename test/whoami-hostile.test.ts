/**
 * whoami under hostile input (issue 10): `?size=` from clients that never read, credentials in
 * echoed headers, cross-site `POST /health`, a malformed chunked body; and the generation
 * identity (X-Lbdiag-Started). Real sockets; addresses 127.0.10.40-49.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import { freePort } from './support/processes.js';
import { median, rssMiB, startWhoamiProcess, timeGets } from './support/whoami-process.js';
import { startWhoami, type WhoamiHandle, type WhoamiOptions } from '../src/whoami/server.js';

async function withWhoami(host: string, opts: Partial<WhoamiOptions>, fn: (h: WhoamiHandle, base: string, port: number) => Promise<void>): Promise<void> {
  const port = await freePort(host);
  const h = await startWhoami({ host, port, name: 'hostile', log: false, ...opts });
  try {
    await fn(h, `http://${host}:${port}`, port);
  } finally {
    await h.close();
  }
}

/** Sends raw bytes, returns everything the server wrote until it closed (or `ms` passed). */
function rawExchange(host: string, port: number, bytes: string, ms = 3000): Promise<string> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port }, () => s.write(bytes));
    let out = '';
    s.setEncoding('latin1').on('data', (d: string) => (out += d));
    s.on('error', () => {});
    const t = setTimeout(() => s.destroy(), ms);
    s.on('close', () => {
      clearTimeout(t);
      resolve(out);
    });
  });
}

test('?size=10g from 32 clients that never read: GET / stays within 2x of idle latency, RSS under 300 MB', { timeout: 60_000 }, async () => {
  const host = '127.0.10.40';
  const { p, port } = await startWhoamiProcess(host, ['--drain-delay', '0']);
  const attackers: net.Socket[] = [];
  try {
    await timeGets(host, port, 50); // warm-up (JIT)
    const idle = median(await timeGets(host, port, 200));
    let peak = rssMiB(p.pid);
    const sampler = setInterval(() => (peak = Math.max(peak, rssMiB(p.pid))), 25);
    for (let i = 0; i < 32; i++) {
      const s = net.connect({ host, port });
      s.pause(); // never reads: the server's writes back up into the kernel buffers, then stop
      s.on('error', () => {});
      s.write('GET /?size=10g HTTP/1.1\r\nHost: t\r\n\r\n');
      attackers.push(s);
    }
    // Until the server counts the 32 answers as sent (headers written, padding streaming).
    const metrics = async (): Promise<string> => (await fetch(`http://${host}:${port}/metrics`)).text();
    let sent = 0;
    for (let i = 0; i < 400 && sent < 32; i++) {
      sent = Number(/lbdiag_whoami_requests_total\{status="200"\} (\d+)/.exec(await metrics())?.[1] ?? 0) - 250;
      if (sent < 32) await new Promise((r) => setTimeout(r, 25));
    }
    assert.ok(sent >= 32, `only ${sent} of the 32 large answers started`);
    const loaded = median(await timeGets(host, port, 200));
    clearInterval(sampler);
    peak = Math.max(peak, rssMiB(p.pid));
    process.stderr.write(`# GET / median: idle ${idle.toFixed(3)} ms, under 32 ?size=10g non-readers ${loaded.toFixed(3)} ms; whoami peak RSS ${peak.toFixed(0)} MiB\n`);
    assert.ok(loaded <= 2 * idle, `GET / median ${loaded.toFixed(3)} ms under attack vs ${idle.toFixed(3)} ms idle`);
    assert.ok(peak < 300, `whoami RSS peaked at ${peak.toFixed(0)} MiB`);
    // The attackers did get a 16 MiB answer announced (size is capped), not an error.
    const first = attackers[0];
    const head = await new Promise<Buffer>((resolve) => {
      first.once('data', resolve);
      first.resume();
    });
    assert.match(head.subarray(0, 400).toString('latin1'), /^HTTP\/1\.1 200 OK[\s\S]*Content-Length: 16777216\r\n/);
  } finally {
    for (const s of attackers) s.destroy();
    await p.stop('SIGKILL');
  }
});

test('?size= bodies are exact in text and JSON, HEAD sends none, and a client reading slowly gets every byte', { timeout: 20_000 }, async () => {
  await withWhoami('127.0.10.41', {}, async (_h, base, port) => {
    for (const size of [300, 16_384, 65_537, 1_000_000]) {
      const t = await fetch(`${base}/?size=${size}`);
      const tb = Buffer.from(await t.arrayBuffer());
      assert.equal(tb.length, size);
      assert.equal(Number(t.headers.get('content-length')), size);
      assert.match(tb.toString('latin1', 0, 200), /^name: hostile\n/);
      assert.equal(tb[tb.length - 1], 0x0a);
      if (size < 2000) continue; // the JSON answer alone is longer
      const j = await fetch(`${base}/api?size=${size}`);
      const jb = await j.text();
      assert.equal(Buffer.byteLength(jb), size);
      const parsed = JSON.parse(jb) as { name: string; padding?: string };
      assert.equal(parsed.name, 'hostile');
      if (size > 5000) assert.match(parsed.padding ?? '', /^\.+$/);
    }
    // A slow reader (pauses after every chunk) gets the exact body.
    const got = await new Promise<Buffer>((resolve, reject) => {
      const chunks: Buffer[] = [];
      const sock = net.connect({ host: '127.0.10.41', port }, () => sock.write('GET /?size=3m HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n'));
      sock.on('data', (d: Buffer) => {
        chunks.push(d);
        sock.pause();
        setTimeout(() => sock.resume(), 2);
      });
      sock.on('end', () => resolve(Buffer.concat(chunks)));
      sock.on('error', reject);
    });
    const sep = got.indexOf('\r\n\r\n');
    assert.equal(got.length - sep - 4, 3 * 1024 * 1024);
    const text = got.subarray(sep + 4).toString('latin1');
    assert.match(text, /^name: hostile\n[^]*request: GET \/\?size=3m HTTP\/1\.1\nhost: t\n\.{3000000,}\n$/);
    const head = await fetch(`${base}/?size=1m`, { method: 'HEAD' });
    assert.equal(head.headers.get('content-length'), String(1024 * 1024));
    assert.equal((await head.arrayBuffer()).byteLength, 0);
  });
});

test('credentials are redacted in echoed headers (scheme and length kept), shown with echoSecrets', { timeout: 10_000 }, async () => {
  const headers = {
    Authorization: 'Bearer eyJhbGciOiJIUzI1NiJ9.e30.ZRrHA1JJJW8opsbCGfG_HACGpVUMN_a9IV7pAx_Zmeo',
    'Proxy-Authorization': 'Basic dXNlcjpwYXNz',
    Cookie: 'SERVERID=web-2; session=0123456789abcdef',
    'X-Api-Key': 'k-0123456789',
    'X-Auth-Token': 'tok-secret-42',
    'X-Request-Id': 'not-a-secret',
  };
  await withWhoami('127.0.10.42', {}, async (_h, base) => {
    const r = await fetch(`${base}/api`, { headers });
    const body = await r.text();
    const h = (JSON.parse(body) as { request: { headers: Record<string, string> } }).request.headers;
    assert.equal(h.authorization, 'Bearer <redacted, 68 bytes>');
    assert.equal(h['proxy-authorization'], 'Basic <redacted, 12 bytes>');
    assert.equal(h.cookie, 'SERVERID=<redacted, 5 bytes>; session=<redacted, 16 bytes>');
    assert.equal(h['x-api-key'], '<redacted, 12 bytes>');
    assert.equal(h['x-auth-token'], '<redacted, 13 bytes>');
    assert.equal(h['x-request-id'], 'not-a-secret');
    for (const v of Object.values(headers).filter((v) => v !== 'not-a-secret')) assert.ok(!body.includes(v), `${v} echoed`);
    assert.ok(!body.includes('dXNlcjpwYXNz') && !body.includes('0123456789abcdef'));
    // The text answer and ?format=json carry no secret either.
    const t = await (await fetch(`${base}/`, { headers })).text();
    assert.ok(!t.includes('eyJhbGci'));
    const j = await (await fetch(`${base}/x?format=json`, { headers })).text();
    assert.ok(!j.includes('eyJhbGci') && j.includes('<redacted, 68 bytes>'));
  });
  await withWhoami('127.0.10.43', { echoSecrets: true }, async (_h, base) => {
    const h = ((await (await fetch(`${base}/api`, { headers })).json()) as { request: { headers: Record<string, string> } }).request.headers;
    assert.equal(h.authorization, headers.Authorization);
    assert.equal(h.cookie, headers.Cookie);
  });
});

test('POST /health: a cross-site form (urlencoded, multipart, text/plain, no type) is refused; JSON or X-Lbdiag-Health sets it', { timeout: 10_000 }, async () => {
  await withWhoami('127.0.10.44', {}, async (h, base) => {
    const url = `${base}/health`;
    for (const type of ['application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'text/plain', 'text/plain;charset=UTF-8']) {
      const r = await fetch(url, { method: 'POST', headers: { 'Content-Type': type }, body: '503' });
      assert.equal(r.status, 415, type);
      assert.match(await r.text(), /needs Content-Type: application\/json or an X-Lbdiag-Health header/);
      assert.equal(h.stats().healthStatus, 200, `${type} changed the health`);
    }
    // A Blob with no type: fetch sends no Content-Type (a "simple" request too).
    const noType = await fetch(url, { method: 'POST', body: new Blob(['503']) });
    assert.equal(noType.status, 415);
    await noType.text();
    assert.equal((await fetch(url)).status, 200);
    let r = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '503' });
    assert.equal(r.status, 200);
    assert.equal(await r.text(), 'health set to 503\n');
    assert.equal((await fetch(url)).status, 503);
    r = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"status": 200}' });
    assert.equal(r.status, 200);
    await r.text();
    r = await fetch(url, { method: 'POST', headers: { 'X-Lbdiag-Health': '1', 'Content-Type': 'text/plain' }, body: '502' });
    assert.equal(r.status, 200);
    await r.text();
    assert.equal(h.stats().healthStatus, 502);
    r = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: '{"status": "bad"}' });
    assert.equal(r.status, 400);
    await r.text();
  });
});

test('a malformed chunked body to POST /health gets 400 with the identity headers, and the server keeps serving', { timeout: 10_000 }, async () => {
  await withWhoami('127.0.10.45', {}, async (h, base, port) => {
    for (const path of ['/health', '/echo']) {
      const out = await rawExchange('127.0.10.45', port, `POST ${path} HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n503\r\n0\r\n\r\n`);
      if (path === '/health') {
        assert.match(out, /^HTTP\/1\.1 400 Bad Request\r\n/, `no 400 for ${path}: ${JSON.stringify(out.slice(0, 200))}`);
        assert.match(out, /X-Lbdiag-Conn: \d+;seq=1\r\n/);
        assert.match(out, /X-Lbdiag-Started: \d{13}\r\n/);
        assert.match(out, /HPE_INVALID_CHUNK_SIZE/);
        assert.equal((out.match(/HTTP\/1\.1 /g) ?? []).length, 1, 'one answer only');
      } else {
        // The echo answers before reading the body; the bad chunk then gets its 400.
        assert.match(out, /^HTTP\/1\.1 200 OK\r\n/);
      }
    }
    assert.equal(h.stats().healthStatus, 200);
    assert.equal((await fetch(`${base}/`)).status, 200);
  });
});

test('X-Lbdiag-Started on every answer (HEAD and 400 included) and `started` in the JSON, equal to the generation start', { timeout: 10_000 }, async () => {
  const before = Date.now();
  await withWhoami('127.0.10.46', {}, async (h, base, port) => {
    const after = Date.now();
    const j = (await (await fetch(`${base}/api`)).json()) as { started: number; instance: string };
    assert.equal(j.started, h.identity.started);
    assert.ok(j.started >= before && j.started <= after);
    for (const method of ['GET', 'HEAD', 'POST']) {
      const r = await fetch(`${base}/x`, { method });
      assert.equal(r.headers.get('x-lbdiag-started'), String(j.started), method);
      assert.equal(r.headers.get('x-lbdiag-instance'), j.instance);
      await r.arrayBuffer();
    }
    const bad = await rawExchange('127.0.10.46', port, 'BAD\x01 / HTTP/1.1\r\n\r\n');
    assert.match(bad, /^HTTP\/1\.1 400 [\s\S]*X-Lbdiag-Started: (\d+)\r\n/);
    assert.equal(/X-Lbdiag-Started: (\d+)/.exec(bad)?.[1], String(j.started));
    const m = await (await fetch(`${base}/metrics`)).text();
    assert.match(m, new RegExp(`^lbdiag_whoami_start_time_seconds ${(j.started / 1000).toFixed(3).replace('.', '\\.')}$`, 'm'));
  });
});
