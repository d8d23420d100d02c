/**
 * A capture on the backend side of an HTTP proxy (nginx `proxy_pass` with upstream keep-alive):
 * the proxy balances per request (`random`), and its pooled upstream connections each go to one
 * backend's own address, so each stays on that backend by definition. lbdiag must not call that
 * keep-alive pinning (it did: "keep-alive connections stick to one backend each (14/14)" with the
 * fix "balance per request ... nginx proxy_pass"); it says why pinning is not judged there. The
 * client side of the same run shows the proxy balancing per request.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyse } from '../src/pcap/analyse.js';
import { captureHttpLab, httpLabSkip } from './support/netns-http-lab.js';

const NGINX = `
worker_processes 1;
pid @DIR@/nginx.pid;
error_log @DIR@/error.log;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path @DIR@; proxy_temp_path @DIR@; fastcgi_temp_path @DIR@; uwsgi_temp_path @DIR@; scgi_temp_path @DIR@;
  upstream pool { random; server 127.0.0.11:8080; server 127.0.0.12:8080; server 127.0.0.13:8080; keepalive 8; }
  server { listen 127.0.0.1:80; location / { proxy_pass http://pool; proxy_http_version 1.1; proxy_set_header Connection ""; } }
}`;

// 3 keep-alive client connections, 240 requests in all, at most 3 in flight: nginx reuses a few upstream connections per backend.
const CLIENT = `
const http = require('http');
const agent = new http.Agent({ keepAlive: true, maxSockets: 3 });
let sent = 0, done = 0;
const one = () => {
  if (sent >= 240) return;
  sent++;
  http.get({ host: '127.0.0.1', port: 80, path: '/', agent }, (res) => { res.resume(); res.on('end', () => { if (++done === 240) { agent.destroy(); process.exit(0); } else one(); }); })
    .on('error', (e) => { console.error(e); process.exit(4); });
};
for (let i = 0; i < 3; i++) one();
setTimeout(() => process.exit(3), 20000);`;

test('pcap on the backend side of an HTTP proxy with upstream keep-alive: no keepalive-pinning', { skip: httpLabSkip('nginx'), timeout: 60_000 }, async () => {
  const { file, cleanup } = await captureHttpLab({ name: 'bside', backends: 3, balancer: 'nginx', config: NGINX, ports: [80], filter: 'tcp port 8080', client: CLIENT });
  try {
    const res = await analyse([file], { stallThresholdS: 0.9 });
    const http = res.http!;
    assert.equal(http.identity, 'response');
    const ka = http.modes.keepalive!;
    assert.ok(ka, 'nginx reused its upstream connections');
    // What the capture is: connections from nginx to the backends' own addresses, each on one backend.
    const conns = ka.perConnection;
    assert.ok(conns.length >= 3, `several upstream connections: ${conns.length}`);
    for (const c of conns) assert.equal(Object.keys(c.backends).length, 1, `upstream connection ${c.id} on one backend`);
    assert.equal(ka.backends.length, 3, 'random spread the requests over the 3 backends');
    const ids = res.findings.map((f) => f.id);
    assert.ok(!ids.includes('keepalive-pinning'), `no pinning on the backend side of a per-request proxy: ${res.findings.map((f) => f.title).join(' | ')}`);
    assert.ok(!res.findings.some((f) => f.id === 'insufficient-data' && JSON.stringify(f.metrics).includes('keepalive-pinning')), 'nor a "capture for longer" for it');
    assert.ok(http.notes.some((n) => /only ever answered as one backend/.test(n) && /keep-alive pinning is not judged on them/.test(n)), http.notes.join('\n'));
  } finally {
    cleanup();
  }
});
