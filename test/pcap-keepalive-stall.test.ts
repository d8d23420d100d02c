/**
 * A TCP keep-alive probe inside a long wait must not split the gap. A real kernel in a network
 * namespace: a client socket with SO_KEEPALIVE (idle 1 s, probes every 1 s: Node's
 * setKeepAlive(true, 1000), libuv sets TCP_KEEPINTVL 1 s) sends a request that the server answers
 * 3.5 s later. The kernel sends keep-alive probes at about 1, 2 and 3 s, the server's kernel ACKs
 * each; tshark flags them `tcp.analysis.keep_alive` / `keep_alive_ack`. Before the fix every probe
 * ended a gap, the longest piece was the ~0.5 s from the last probe to the answer, and `tcp-stall`
 * was not raised at all; it must report the whole wait, from the last packet that was not a
 * keep-alive (the ACK of the request) to the answer, as `awaiting-response`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { analyse } from '../src/pcap/analyse.js';
import { TA_KEEP_ALIVE, TA_KEEP_ALIVE_ACK } from '../src/pcap/tracker.js';
import { captureInNetns, netnsCaptureSkip } from './support/netns-capture.js';
import { hasCommand } from './support/processes.js';

const SCRIPT = `
const net = require('net');
const srv = net.createServer((s) => {
  s.once('data', () => setTimeout(() => s.end('HTTP/1.1 200 OK\\r\\nContent-Length: 2\\r\\nConnection: close\\r\\n\\r\\nok'), 3500));
});
srv.listen(8080, '127.0.0.1', () => {
  const c = net.connect(8080, '127.0.0.1', () => {
    c.setKeepAlive(true, 1000);
    c.write('GET /slow HTTP/1.1\\r\\nHost: x\\r\\n\\r\\n');
  });
  c.on('data', () => {});
  c.on('end', () => { c.end(); srv.close(); setTimeout(() => process.exit(0), 200); });
});
setTimeout(() => process.exit(3), 15000);`;

const skip = netnsCaptureSkip || (!hasCommand('tshark') ? 'needs tshark' : false);

test('pcap: keep-alive probes inside a 3.5 s wait do not split it: one tcp-stall over the whole wait (tshark flags the probes)', { skip, timeout: 60_000 }, async () => {
  const { file, cleanup } = await captureInNetns('kastall', [], 'tcp port 8080', SCRIPT);
  try {
    const r = spawnSync('tshark', ['-n', '-r', file, '-T', 'fields', '-e', 'frame.number', '-e', 'frame.time_relative', '-e', 'tcp.analysis.keep_alive', '-e', 'tcp.analysis.keep_alive_ack'], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const rows = r.stdout.split('\n').filter((l) => l !== '').map((l) => l.split('\t'));
    const ka = rows.filter((x) => x[2]).map((x) => Number(x[0]));
    const kaAck = rows.filter((x) => x[3]).map((x) => Number(x[0]));
    // The kernel did send probes inside the wait (else this test proves nothing).
    assert.ok(ka.length >= 2, `keep-alive probes in the capture: ${ka.join(',')}`);

    const flagged: number[] = [];
    const flaggedAck: number[] = [];
    const res = await analyse([file], { stallThresholdS: 0.9, onTcpPacket: (fr, _st, ta) => (ta & TA_KEEP_ALIVE ? flagged.push(fr) : ta & TA_KEEP_ALIVE_ACK ? flaggedAck.push(fr) : 0) });
    // lbdiag classifies the same frames as Wireshark does.
    assert.deepEqual(flagged, ka);
    assert.deepEqual(flaggedAck, kaAck);

    const stalls = res.findings.filter((f) => f.id === 'tcp-stall');
    assert.equal(stalls.length, 1, res.findings.map((f) => f.title).join(' | '));
    const m = stalls[0].metrics as { phase: string; gapS: number; fromFrame: number; toFrame: number };
    assert.equal(m.phase, 'awaiting-response');
    // The gap runs from the last packet before the probes to the answer: neither end is a probe or its ACK.
    assert.ok(!ka.includes(m.fromFrame) && !kaAck.includes(m.fromFrame), `from frame ${m.fromFrame}`);
    assert.ok(m.fromFrame < ka[0] && m.toFrame > ka[ka.length - 1], `gap ${m.fromFrame}-${m.toFrame}, probes ${ka.join(',')}`);
    const t = (fr: number): number => Number(rows.find((x) => Number(x[0]) === fr)![1]);
    assert.ok(Math.abs(m.gapS - (t(m.toFrame) - t(m.fromFrame))) < 1e-6);
    // The evidence says what filled the gap: the probes and their ACKs, no data.
    const between = rows.filter((x) => Number(x[0]) > m.fromFrame && Number(x[0]) < m.toFrame).length;
    assert.equal((m as { keepAlivePackets?: number }).keepAlivePackets, between);
    assert.equal(between, ka.length + kaAck.length);
    assert.match(stalls[0].evidence[0], new RegExp(`^nothing but ${between} TCP keep-alive probes and ACKs .* between frames ${m.fromFrame} and ${m.toFrame}`));
    // The designed wait is 3.5 s from the request; its ACK can come up to ~40 ms later.
    assert.ok(m.gapS >= 3.3 && m.gapS < 8, `gap ${m.gapS}`);
  } finally {
    cleanup();
  }
});
