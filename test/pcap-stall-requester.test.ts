/**
 * `tcp-stall` "before the server side answered a request" claims that the client's last data was
 * a request the server then answered late. That holds on protocols where the client asks and the
 * server answers (HTTP/1.x, HTTP/2, TLS), not on protocols where either side speaks on its own: an
 * OpenFlow controller's echo request a second after the switch's last message (the tcpdump
 * corpus's of13_ericsson.pcapng) was reported as a late answer. Real captures made by the kernel
 * in a namespace: the same timing on a protocol of the second kind (no stall) and over TLS, where
 * the client's request is answered 1.3 s later (the stall, found from the ClientHello).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyse } from '../src/pcap/analyse.js';
import { captureInNetns, netnsCaptureSkip } from './support/netns-capture.js';
import { makeLeaf } from './support/tls-backends.js';

// Client first (HELLO), the server answers at once, then speaks on its own 1.3 s after the client's last message.
const SPEAKS_ON_ITS_OWN = `
const net = require('net');
const srv = net.createServer((s) => {
  let seen = '';
  s.on('data', (d) => {
    seen += d;
    if (seen === 'HELLO\\n') s.write('HELLO\\n');
    else if (seen === 'HELLO\\nREADY\\n') setTimeout(() => s.write('ECHO 1\\n'), 1300);
  });
  s.on('end', () => s.end());
});
srv.listen(6633, '127.0.0.1', () => {
  const c = net.connect(6633, '127.0.0.1', () => c.write('HELLO\\n'));
  let got = '';
  c.on('data', (d) => {
    got += d;
    if (got === 'HELLO\\n') c.write('READY\\n');
    else if (got === 'HELLO\\nECHO 1\\n') { c.write('REPLY 1\\n'); c.end(); }
  });
  c.on('close', () => srv.close(() => process.exit(0)));
});
setTimeout(() => process.exit(3), 15000);`;

// Two HTTP requests over one TLS connection: the first answered at once, the second 1.3 s later. (The
// first request of a TLS 1.3 connection is followed by the server's session tickets, so a late answer
// to it shows on the wire as the server speaking twice: no wait can be read from that.)
const tlsLateAnswer = (cert: string, key: string): string => `
const tls = require('tls');
const REQ = 'GET / HTTP/1.1\\r\\nhost: x\\r\\n\\r\\n';
const srv = tls.createServer({ cert: ${JSON.stringify(cert)}, key: ${JSON.stringify(key)} }, (s) => {
  let n = 0;
  s.on('data', () => {
    n++;
    if (n === 1) s.write('HTTP/1.1 200 OK\\r\\ncontent-length: 3\\r\\n\\r\\nok\\n');
    else setTimeout(() => s.end('HTTP/1.1 200 OK\\r\\ncontent-length: 3\\r\\nconnection: close\\r\\n\\r\\nok\\n'), 1300);
  });
});
srv.listen(8443, '127.0.0.1', () => {
  const c = tls.connect({ host: '127.0.0.1', port: 8443, rejectUnauthorized: false }, () => c.write(REQ));
  let got = '';
  c.on('data', (d) => {
    got += d;
    // The first answer in full, and the session tickets long since read: the second request.
    if (got.endsWith('ok\\n') && !got.includes('close')) setTimeout(() => c.write(REQ), 100);
  });
  c.on('close', () => srv.close(() => process.exit(0)));
});
setTimeout(() => process.exit(3), 15000);`;

test('pcap: a server speaking on its own after a pause, on a protocol that is not request/response, is not a late answer', { skip: netnsCaptureSkip, timeout: 60_000 }, async () => {
  const { file, cleanup } = await captureInNetns('ownpace', [], 'tcp port 6633', SPEAKS_ON_ITS_OWN);
  try {
    const res = await analyse([file], { stallThresholdS: 0.9 });
    assert.equal(res.summary.tcp.connections, 1, 'one connection captured');
    const stalls = res.findings.filter((f) => f.id === 'tcp-stall');
    assert.deepEqual(stalls.map((f) => f.title), [], 'no stall: nothing says the client was waiting for this message');
  } finally {
    cleanup();
  }
});

test('pcap: a second request over TLS answered 1.3 s later is a wait for the answer (the ClientHello says who asks)', { skip: netnsCaptureSkip, timeout: 60_000 }, async () => {
  const pem = await makeLeaf({ names: ['localhost'], ips: ['127.0.0.1'] });
  const { file, cleanup } = await captureInNetns('tlslate', [], 'tcp port 8443', tlsLateAnswer(pem.cert, pem.key));
  try {
    const res = await analyse([file], { stallThresholdS: 0.9 });
    const stalls = res.findings.filter((f) => f.id === 'tcp-stall');
    assert.equal(stalls.length, 1, res.findings.map((f) => f.title).join(' | '));
    const m = stalls[0].metrics as { phase: string; gapS: number };
    assert.equal(m.phase, 'awaiting-response');
    assert.ok(m.gapS >= 1.0 && m.gapS < 5, `the server's wait: ${m.gapS}`);
    assert.match(stalls[0].title, /before the server side answered a request/);
  } finally {
    cleanup();
  }
});
