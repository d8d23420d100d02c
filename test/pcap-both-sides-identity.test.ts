/**
 * A capture of both sides of a layer-4 balancer (haproxy `mode tcp`; tcpdump on the client side
 * and the backend side at once), backends that answer with per-request text ("backend be1 request
 * 7 on this connection") and no identity header. Per-request text is not a backend name; lbdiag
 * tells the two apart by how often a body repeats, and a capture of both sides shows every
 * response twice, which made per-request text look like names: the L4 balancer was reported as
 * an `l7-proxy` (each keep-alive connection "reached" 24 backends). Now a body seen twice at the
 * same request number does not count as repeating.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyse } from '../src/pcap/analyse.js';
import { captureHttpLab, haproxyTcpConfig, httpLabSkip } from './support/netns-http-lab.js';

const HAPROXY = haproxyTcpConfig();

const BACKEND = `
const http = require('http');
http.createServer((req, res) => {
  const n = (req.socket.n = (req.socket.n || 0) + 1);
  res.setHeader('content-type', 'text/plain');
  res.end('backend ' + process.env.NAME + ' request ' + n + ' on this connection\\n');
}).listen(8080, process.env.HOST);`;

// One keep-alive connection with 24 requests in a row, then 8 one-request connections.
const CLIENT = `
const http = require('http');
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const get = (opts) => new Promise((ok, ko) => http.get({ host: '127.0.0.1', port: 80, path: '/', ...opts }, (res) => { res.resume(); res.on('end', ok); }).on('error', ko));
(async () => {
  for (let i = 0; i < 24; i++) await get({ agent });
  agent.destroy();
  for (let i = 0; i < 8; i++) await get({ agent: false, headers: { connection: 'close' } });
  process.exit(0);
})().catch((e) => { console.error(e); process.exit(4); });
setTimeout(() => process.exit(3), 20000);`;

test('pcap of both sides of an L4 balancer: per-request bodies seen twice are not backend names (no l7-proxy)', { skip: httpLabSkip('haproxy'), timeout: 60_000 }, async () => {
  const { file, cleanup } = await captureHttpLab({ name: 'bothid', backends: 3, balancer: 'haproxy', config: HAPROXY, ports: [80], filter: 'tcp port 80 or tcp port 8080', client: CLIENT, backendScript: BACKEND });
  try {
    const res = await analyse([file], { stallThresholdS: 0.9 });
    const http = res.http!;
    // Both sides: every exchange twice in the capture (client -> 127.0.0.1:80, haproxy -> 127.0.0.1x:8080), counted once (the client's 24 + 8).
    assert.ok(http.responses >= 60, `both sides seen: ${http.responses} responses`);
    assert.equal(http.exchanges, 32);
    assert.match(http.notes.join('\n'), /holds both sides of a balancer/);
    const ids = res.findings.map((f) => f.id);
    assert.ok(!ids.includes('l7-proxy'), `an L4 balancer is not an L7 proxy: ${res.findings.map((f) => f.title).join(' | ')}`);
    assert.match(http.notes.join('\n'), /not backend names/);
    for (const m of Object.values(http.modes)) for (const b of m!.backends) assert.doesNotMatch(b.name, /request \d+ on this connection/);
  } finally {
    cleanup();
  }
});
