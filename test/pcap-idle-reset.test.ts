/**
 * A balancer whose idle timeout is shorter than the client's (haproxy `mode tcp`, `timeout client
 * 1s`) and a client that sends its second request on each connection 1.5 s after the first: every
 * first request works, every second one is reset. lbdiag raised `idle-timeout-reset` (right) and
 * `intermittent-errors` with "about 1 in 2 ... one of 2 places fails (2 SO_REUSEPORT listeners with
 * one stale, or 2 pool members with one bad)" (wrong: listeners and pool members are chosen for new
 * connections, and no new connection failed; the 1 in 2 is the connections' shape). Also: `-v`
 * printed HTTP findings with their evidence cut ("… 1 more (-v or --json)").
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { analyse } from '../src/pcap/analyse.js';
import { runLbdiag } from './support/processes.js';
import { captureHttpLab, haproxyTcpConfig, httpLabSkip } from './support/netns-http-lab.js';

const HAPROXY = haproxyTcpConfig('1s');

// 6 connections at once: a request, then 1.5 s later a second one on the same socket (the balancer has closed it by then).
const CLIENT = `
const net = require('net');
let left = 6;
for (let c = 0; c < 6; c++) {
  const s = net.connect(80, '127.0.0.1', () => {
    s.write('GET / HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n');
    setTimeout(() => { s.write('GET /again HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n'); setTimeout(() => s.destroy(), 300); }, 1500);
  });
  s.allowHalfOpen = true;
  s.on('error', () => {}); s.on('data', () => {}); s.on('end', () => {});
  s.on('close', () => { if (--left === 0) process.exit(0); });
}
setTimeout(() => process.exit(3), 20000);`;

test('pcap: resets after an idle timeout are not blamed on one of N pool members or listeners; -v shows HTTP evidence in full', { skip: httpLabSkip('haproxy'), timeout: 60_000 }, async () => {
  const { file, cleanup } = await captureHttpLab({ name: 'idlerst', backends: 3, balancer: 'haproxy', config: HAPROXY, ports: [80], filter: 'tcp port 80', client: CLIENT });
  try {
    const res = await analyse([file], { stallThresholdS: 0.9 });
    const ka = res.http!.modes.keepalive!;
    // What the capture holds: 6 connections, each a good first request and a reset second one.
    assert.equal(ka.requests, 12);
    assert.equal(ka.errorsOnNewConnections, 0);
    assert.equal(ka.errorsOnReusedConnections, 6);
    assert.ok(res.findings.some((f) => f.id === 'idle-timeout-reset'), res.findings.map((f) => f.title).join(' | '));
    const ie = res.findings.find((f) => f.id === 'intermittent-errors');
    assert.ok(ie, 'the failures are reported');
    const text = `${ie.title}\n${ie.evidence.join('\n')}`;
    assert.doesNotMatch(text, /SO_REUSEPORT|pool members with one bad|places fails|about 1 in/, text);
    assert.equal((ie.metrics as { oneInN: number | null }).oneInN, null);
    // The human report with -v: every evidence line of the HTTP findings.
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lbdiag-idlerst-'));
    try {
      const copy = path.join(dir, 'idle.pcap');
      fs.copyFileSync(file, copy);
      const v = await runLbdiag(['pcap', copy, '-v']);
      assert.equal(v.code, 1, v.stderr);
      assert.doesNotMatch(v.stdout, /more \(-v or --json\)/);
      assert.match(v.stdout, /on new connections 0\/6 \(0\.0%\), on reused connections 6\/6/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  } finally {
    cleanup();
  }
});
