/**
 * A request answered slowly on purpose (whoami `?wait=1200ms`, a long poll in miniature) through
 * haproxy `mode http`, captured on the client side: `tcp-stall` reports the 1.2 s between the
 * acknowledged request and its answer. What it may claim is only that: the request was delivered
 * and the server side took that long. It used to say "the server answered late", "the backend was
 * slow" and to look at the backend's latency, which a slow-by-design endpoint or a proxy waiting on
 * a pool member fits as well; it now names the three causes and the capture that tells them apart.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyse } from '../src/pcap/analyse.js';
import { captureHttpLab, haproxyConfig, httpLabSkip } from './support/netns-http-lab.js';

const HAPROXY = haproxyConfig({ mode: 'http', servers: ['127.0.0.11:8080', '127.0.0.12:8080'] });

// Three quick requests and one that the application answers after 1.2 s, on one keep-alive connection.
const CLIENT = `
const http = require('http');
// keepAliveMsecs: Node's agent turns TCP keep-alive probes on after 1 s idle by default; kept out of the wait so the gap
// runs from the request's ACK (probes no longer split a gap: test/pcap-keepalive-stall.test.ts covers them).
const agent = new http.Agent({ keepAlive: true, keepAliveMsecs: 30000, maxSockets: 1 });
const get = (path) => new Promise((ok, ko) => http.get({ host: '127.0.0.1', port: 80, path, agent }, (res) => { res.resume(); res.on('end', ok); }).on('error', ko));
(async () => {
  for (const p of ['/', '/', '/', '/?wait=1200ms']) await get(p);
  agent.destroy();
  process.exit(0);
})().catch((e) => { console.error(e); process.exit(4); });
setTimeout(() => process.exit(3), 20000);`;

test('pcap: a request answered slowly by design is reported as what it is (acknowledged, answered 1.2 s later), with its three causes', { skip: httpLabSkip('haproxy'), timeout: 60_000 }, async () => {
  const { file, cleanup } = await captureHttpLab({ name: 'slowans', backends: 2, balancer: 'haproxy', config: HAPROXY, ports: [80], filter: 'tcp port 80', client: CLIENT });
  try {
    const res = await analyse([file], { stallThresholdS: 0.9 });
    const stalls = res.findings.filter((f) => f.id === 'tcp-stall');
    assert.equal(stalls.length, 1, res.findings.map((f) => f.title).join(' | '));
    const f = stalls[0];
    const m = f.metrics as { phase: string; gapS: number };
    assert.equal(m.phase, 'awaiting-response');
    // From the last packet before the answer (the delayed ACK of the request, up to ~40 ms after it) to the answer.
    assert.ok(m.gapS >= 1.0 && m.gapS < 5, `the designed wait: ${m.gapS}`);
    // What is proven (delivered, answered this much later), not a verdict on the backend.
    assert.match(f.title, /before the server side answered a request/);
    assert.doesNotMatch(`${f.title} ${f.evidence.join(' ')}`, /answered late/);
    assert.match(f.explanation ?? '', /slowly by design \(a long poll/);
    assert.match(f.explanation ?? '', /the proxy waited before forwarding/);
    assert.match(f.remedy ?? '', /backend side of the balancer at the same time/);
  } finally {
    cleanup();
  }
});
