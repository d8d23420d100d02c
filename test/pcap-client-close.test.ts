/**
 * `connection-churn` says the other side (server or balancer) ends keep-alive connections. A
 * client that asks for the close itself (`Connection: close` on its last request; the server then
 * sends the first FIN, as it must) was counted as closed by the server: five connections of five
 * requests each, every one ended at the client's request, gave "the other side ends keep-alive
 * connections". Now the request's own Connection header counts as the client's close. The same
 * run against a backend that ends connections itself (whoami --max-requests-per-conn 5) keeps the
 * finding. Real haproxy `mode tcp` and whoami in a network namespace.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyse } from '../src/pcap/analyse.js';
import { captureHttpLab, haproxyTcpConfig, httpLabSkip } from './support/netns-http-lab.js';

const HAPROXY = haproxyTcpConfig();

// 5 connections, one after the other, 5 requests each; with ASK the 5th request of each carries Connection: close.
const client = (ask: boolean): string => `
const http = require('http');
const get = (agent, last) => new Promise((ok, ko) => http.get({ host: '127.0.0.1', port: 80, path: '/', agent, headers: ${ask} && last ? { connection: 'close' } : {} }, (res) => { res.resume(); res.on('end', ok); }).on('error', ko));
(async () => {
  for (let c = 0; c < 5; c++) {
    const agent = new http.Agent({ keepAlive: true, keepAliveMsecs: 30000, maxSockets: 1 });
    for (let i = 0; i < 5; i++) await get(agent, i === 4);
    await new Promise((r) => setTimeout(r, 50));
    agent.destroy();
  }
  process.exit(0);
})().catch((e) => { console.error(e); process.exit(4); });
setTimeout(() => process.exit(3), 20000);`;

async function run(name: string, ask: boolean, whoamiArgs: string[]) {
  const { file, cleanup } = await captureHttpLab({ name, backends: 3, balancer: 'haproxy', config: HAPROXY, ports: [80], filter: 'tcp port 80', client: client(ask), whoamiArgs });
  try {
    return await analyse([file], { stallThresholdS: 0.9 });
  } finally {
    cleanup();
  }
}

test('pcap: a client that asks for Connection: close is not connection-churn; a server that closes after 5 requests is', { skip: httpLabSkip('haproxy'), timeout: 90_000 }, async () => {
  const asked = await run('cliclose', true, []);
  const ka = asked.http!.modes.keepalive!;
  assert.equal(ka.connections, 5, 'five keep-alive connections');
  assert.equal(ka.requests, 25);
  assert.ok(!asked.findings.some((f) => f.id === 'connection-churn'), `the client asked for every close: ${asked.findings.map((f) => f.title).join(' | ')}`);
  assert.match(asked.http!.notes.join('\n'), /the client side closed 5 of them \(first, or by asking with Connection: close; the server side 0\)/);

  const server = await run('srvclose', false, ['--max-requests-per-conn', '5']);
  assert.equal(server.http!.modes.keepalive!.connections, 5);
  assert.ok(server.findings.some((f) => f.id === 'connection-churn'), `the server ended every connection: ${server.findings.map((f) => f.title).join(' | ')}`);
});
