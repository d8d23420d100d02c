/**
 * Few clients behind a source-hashing balancer (haproxy `mode tcp`, `balance source`): each client
 * address always reaches one backend, so the backends' shares of the requests follow how the hash
 * placed a handful of clients. lbdiag used to test those shares as independent requests and raise
 * `imbalance` ("p = 4.5e-5": 4 clients hashed 2/1/1 over 3 backends, 40 requests each), where
 * the independent draws are the 4 clients and 2/1/1 is what a fair hash gives most often. Now the
 * clients are the draws: no imbalance, a note that says why. Many clients spread evenly stay quiet.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyse } from '../src/pcap/analyse.js';
import { chiSquareGoodnessOfFit } from '../src/probe/chi-square.js';
import { captureHttpLab, haproxyConfig, httpLabSkip } from './support/netns-http-lab.js';

const HAPROXY = haproxyConfig({ mode: 'tcp', balance: 'source', global: ['maxconn 500'] });

// ROUNDS rounds, in each one request (a new connection, Connection: close) from each client address in turn.
const client = (addrs: string[], rounds: number): string => `
const http = require('http');
const addrs = ${JSON.stringify(addrs)};
let i = 0;
const next = () => {
  if (i >= addrs.length * ${rounds}) process.exit(0);
  const localAddress = addrs[i++ % addrs.length];
  http.get({ host: '127.0.0.1', port: 80, path: '/', localAddress, agent: false, headers: { connection: 'close' } }, (res) => { res.resume(); res.on('end', next); })
    .on('error', (e) => { console.error(e); process.exit(4); });
};
next();
setTimeout(() => process.exit(3), 30000);`;

test('pcap: few clients behind haproxy balance source: no imbalance from the hash of 4 clients', { skip: httpLabSkip('haproxy'), timeout: 60_000 }, async () => {
  // haproxy's source hash puts these 4 on 2/1/1 of the 3 servers (the assertions below check it on the capture).
  const addrs = ['127.0.0.21', '127.0.0.22', '127.0.0.23', '127.0.0.24'];
  const { file, cleanup } = await captureHttpLab({ name: 'srcaff', backends: 3, balancer: 'haproxy', config: HAPROXY, ports: [80], filter: 'tcp port 80', client: client(addrs, 40) });
  try {
    const res = await analyse([file], { stallThresholdS: 0.9 });
    const short = res.http!.modes.short!;
    const counts = short.backends.map((b) => b.count);
    // What the capture holds: the hash put the 4 clients 2/1/1 on the 3 backends, so one backend has about twice the requests;
    // as independent requests that is far beyond chance (the old verdict), as 4 clients it is the commonest outcome.
    assert.equal(counts.length, 3, short.backends.map((b) => `${b.name} ${b.count}`).join(', '));
    const requests = counts.reduce((a, b) => a + b, 0);
    assert.ok(requests >= 140, `most of the 160 exchanges captured: ${requests}`);
    assert.ok(chiSquareGoodnessOfFit(counts, [1, 1, 1]).pValue < 0.001, `uneven by requests: ${counts}`);
    const ids = res.findings.map((f) => f.id);
    assert.ok(!ids.includes('imbalance'), `no imbalance from 4 hashed clients: ${res.findings.map((f) => f.title).join(' | ')}`);
    const note = res.http!.notes.find((n) => n.startsWith('imbalance not judged'));
    assert.ok(note, res.http!.notes.join('\n'));
    assert.match(note, /came from 4 client addresses, and 4 of the 4 that opened several connections reached one backend/);
    assert.match(note, /Over clients \(each counted once\): be1 \d, be2 \d, be3 \d, too few clients/);
  } finally {
    cleanup();
  }
});
