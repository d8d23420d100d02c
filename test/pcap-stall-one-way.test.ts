/**
 * A capture that holds one direction only (a span port or a filter such as `dst port 8080`, a
 * lossy capture point) never shows the other side's ACKs or answers. lbdiag read such a capture's
 * pauses as stalls: the corpus's ipoib.pcap and ldp-common-session.pcap ("4.70s stall while data
 * was in flight and unacknowledged": the acknowledgements were simply not captured),
 * bgp-cease-hard-reset.pcap (the packet after the gap says 61 bytes were not captured) and
 * tfo-5c1fa7f9ae91.pcap ("10.0s stall during the handshake" ended by a FIN that acknowledges the
 * uncaptured SYN/ACK). A gap is now a stall only when the packet that ends it shows nothing the
 * capture missed, and data counts as unacknowledged only when the capture has seen the other side
 * acknowledge. Real captures in a namespace: one request answered 1.3 s late, captured both ways
 * (the stall) and one way (none).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyse } from '../src/pcap/analyse.js';
import { captureInNetns, netnsCaptureSkip } from './support/netns-capture.js';

// One HTTP request on a new connection, answered 1.3 s later, then both sides close.
const LATE = `
const net = require('net');
const srv = net.createServer((s) => { s.once('data', () => setTimeout(() => s.end('HTTP/1.1 200 OK\\r\\ncontent-length: 3\\r\\n\\r\\nok\\n'), 1300)); });
srv.listen(8080, '127.0.0.1', () => {
  const c = net.connect(8080, '127.0.0.1', () => c.write('GET /report HTTP/1.1\\r\\nhost: app\\r\\n\\r\\n'));
  c.resume();
  c.on('end', () => c.end());
  c.on('close', () => srv.close(() => process.exit(0)));
});
setTimeout(() => process.exit(3), 15000);`;

test('pcap: a late answer captured both ways is a stall; captured one way (no ACK, no answer seen) it is none', { skip: netnsCaptureSkip, timeout: 60_000 }, async () => {
  const both = await captureInNetns('bothways', [], 'tcp port 8080', LATE);
  try {
    const res = await analyse([both.file], { stallThresholdS: 0.9 });
    const stalls = res.findings.filter((f) => f.id === 'tcp-stall');
    assert.equal(stalls.length, 1, res.findings.map((f) => f.title).join(' | '));
    assert.equal((stalls[0].metrics as { phase: string }).phase, 'awaiting-response');
  } finally {
    both.cleanup();
  }
  const oneWay = await captureInNetns('oneway', [], 'tcp dst port 8080', LATE);
  try {
    const res = await analyse([oneWay.file], { stallThresholdS: 0.9 });
    assert.equal(res.summary.tcp.connections, 1);
    assert.ok(res.summary.tcp.packets >= 4, `the client's side: SYN, ACK, request, ACKs, FIN (${res.summary.tcp.packets})`);
    const stalls = res.findings.filter((f) => f.id === 'tcp-stall');
    assert.deepEqual(stalls.map((f) => f.title), [], 'the capture shows only the client: its pause proves no wait on the network');
  } finally {
    oneWay.cleanup();
  }
});
