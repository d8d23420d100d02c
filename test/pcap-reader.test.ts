/**
 * The classic-pcap reader cross-checked against pcap-parser (an independent implementation that
 * reads classic µs pcap only), and the TCP tracker on hand-built segments for edge cases.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';
import { ROOT, corpusDir } from './support/processes.js';
import { readPackets } from './support/pcap-files.js';
import { ACK, FIN, SYN, type Decoded } from '../src/pcap/decode.js';
import { feed, segmentBuilder } from './support/tcp-segments.js';
import { Tracker, TA_ANY_RETRANSMISSION, TA_KEEP_ALIVE, TA_OUT_OF_ORDER, TA_REUSED_PORTS } from '../src/pcap/tracker.js';
import type { Conn } from '../src/pcap/connection.js';

const require = createRequire(import.meta.url);
const CORPUS = corpusDir();

interface PpPacket {
  header: { timestampSeconds: number; timestampMicroseconds: number; capturedLength: number; originalLength: number };
  data: Buffer;
}

function parseWithPcapParser(file: string): Promise<PpPacket[]> {
  const pp = require('pcap-parser') as { parse: (f: string) => NodeJS.EventEmitter };
  return new Promise((resolve, reject) => {
    const out: PpPacket[] = [];
    const p = pp.parse(file);
    p.on('packet', (x: PpPacket) => out.push(x));
    p.on('end', () => resolve(out));
    p.on('error', reject);
  });
}

const CLASSIC = [
  path.join(ROOT, 'fixtures/fin-retransmit.pcap'),
  path.join(ROOT, 'fixtures/keepalive-pinning-sll2.pcap'),
  path.join(ROOT, 'fixtures/syn-port-reuse-drop-v6.pcap'),
  path.join(CORPUS, 'afs.pcap'),
  path.join(CORPUS, 'ssh.pcap'),
  path.join(CORPUS, 'mptcp-v0.pcap'),
].filter((f) => fs.existsSync(f));

for (const file of CLASSIC) {
  test(`classic pcap reader agrees with pcap-parser on ${path.basename(file)}`, async () => {
    const theirs = await parseWithPcapParser(file);
    const ours = readPackets(file);
    assert.ok(ours.length > 10);
    assert.equal(ours.length, theirs.length, 'packet count');
    ours.forEach((p, i) => {
      const h = theirs[i].header;
      assert.equal(p.sec, h.timestampSeconds, `seconds of packet ${i + 1}`);
      assert.equal(p.nsec, h.timestampMicroseconds * 1000, `fraction of packet ${i + 1}`);
      assert.equal(p.data.length, h.capturedLength, `captured length of packet ${i + 1}`);
      assert.equal(p.origlen, h.originalLength, `original length of packet ${i + 1}`);
      assert.ok(p.data.equals(theirs[i].data), `bytes of packet ${i + 1}`);
    });
  });
}

// Hand-built segments: client 10.0.0.1:40000, server 10.0.0.2:80.
const seg = segmentBuilder({ client: 0x0a000001, server: 0x0a000002 });

function run(segs: Decoded[]): { flags: number[]; streams: number[]; done: Conn[]; tracker: Tracker } {
  const done: Conn[] = [];
  const tracker = new Tracker({ stallThresholdS: 0.9, onFinished: (c) => done.push(c) });
  return { ...feed(tracker, segs), done, tracker };
}

const ISN = 0xfffffff0; // sequence numbers wrap inside the connection
const SISN = 1000;

test('tracker: handshake, request, FIN retransmissions across the 2^32 wrap', () => {
  const { flags, done } = run([
    seg(true, SYN, ISN, 0, 0, 0),
    seg(false, SYN | ACK, SISN, ISN + 1, 0, 0.001),
    seg(true, ACK, ISN + 1, SISN + 1, 0, 0.002),
    seg(true, ACK, ISN + 1, SISN + 1, 100, 0.003),
    seg(false, ACK, SISN + 1, ISN + 101, 50, 0.004),
    seg(false, FIN | ACK, SISN + 51, ISN + 101, 0, 1.0),
    seg(true, ACK, ISN + 101, SISN + 52, 0, 1.001),
    seg(true, FIN | ACK, ISN + 101, SISN + 52, 0, 4.0),
    seg(true, FIN | ACK, ISN + 101, SISN + 52, 0, 4.2),
    seg(true, FIN | ACK, ISN + 101, SISN + 52, 0, 4.6),
  ]);
  assert.deepEqual(flags.map((f) => (f & TA_ANY_RETRANSMISSION ? 1 : 0)), [0, 0, 0, 0, 0, 0, 0, 0, 1, 1]);
  const c = done[0];
  assert.equal(c.clientIsA, 1);
  assert.equal(c.ab.finFrame, 8);
  assert.deepEqual(c.ab.finRetransFrames, [9, 10]);
  assert.equal(c.ba.finAckedFrame, 7, "the server's FIN was acknowledged");
  assert.equal(c.ab.finAckedFrame, 0, "the client's FIN never was");
});

test('tracker: a SYN with a new ISN on a used 4-tuple is a new stream flagged reused_ports; same ISN is a retransmission', () => {
  const { flags, streams, done } = run([
    seg(true, SYN, 5000, 0, 0, 0),
    seg(false, SYN | ACK, SISN, 5001, 0, 0.001),
    seg(true, ACK, 5001, SISN + 1, 0, 0.002),
    seg(true, FIN | ACK, 5001, SISN + 1, 0, 0.1),
    seg(false, FIN | ACK, SISN + 1, 5002, 0, 0.101),
    seg(true, ACK, 5002, SISN + 2, 0, 0.102),
    seg(true, SYN, 9000, 0, 0, 0.4), // reused port, dropped
    seg(true, SYN, 9000, 0, 0, 1.4), // retransmitted after 1 s
    seg(false, SYN | ACK, 7000, 9001, 0, 1.401),
  ]);
  assert.deepEqual(streams, [0, 0, 0, 0, 0, 0, 1, 1, 1]);
  assert.ok(flags[6] & TA_REUSED_PORTS);
  assert.ok(!(flags[6] & TA_ANY_RETRANSMISSION));
  assert.ok(flags[7] & TA_ANY_RETRANSMISSION);
  assert.equal(done[1].reusedPorts, true);
  assert.equal(done[1].previousState, 'fin');
  assert.deepEqual(done[1].ab.synRetransFrames, [8]);
});

test('tracker: keep-alives and quick reordering are not retransmissions (Wireshark rules)', () => {
  const { flags } = run([
    seg(true, SYN, 100, 0, 0, 0),
    seg(false, SYN | ACK, SISN, 101, 0, 0.01),
    seg(true, ACK, 101, SISN + 1, 0, 0.02), // first RTT = 20 ms
    seg(true, ACK, 201, SISN + 1, 100, 0.03), // a later segment first
    seg(true, ACK, 101, SISN + 1, 100, 0.031), // the earlier one 1 ms later: out of order
    seg(false, ACK, SISN + 1, 301, 0, 0.04),
    seg(true, ACK, 300, SISN + 1, 0, 60), // keep-alive: one byte before the next sequence number
    seg(true, ACK, 301, SISN + 1, 100, 60.1),
    seg(true, ACK, 301, SISN + 1, 100, 61.1), // the same data again a second later: retransmission
  ]);
  assert.ok(flags[4] & TA_OUT_OF_ORDER && !(flags[4] & TA_ANY_RETRANSMISSION));
  assert.ok(flags[6] & TA_KEEP_ALIVE && !(flags[6] & TA_ANY_RETRANSMISSION));
  assert.ok(flags[8] & TA_ANY_RETRANSMISSION);
});

test('tracker: closed, quiet connections are released (flat memory), stream numbers keep counting', () => {
  const segs: Decoded[] = [];
  for (let i = 0; i < 3000; i++) {
    const t = i * 0.2;
    const mk = (client: boolean, f: number, s: number, a: number, tt: number): Decoded => {
      const d = seg(client, f, s, a, 0, tt);
      if (client) d.sport = 10000 + i;
      else d.dport = 10000 + i;
      return d;
    };
    segs.push(mk(true, SYN, 1, 0, t), mk(false, SYN | ACK, 1, 2, t), mk(true, ACK, 2, 2, t), mk(true, FIN | ACK, 2, 2, t), mk(false, FIN | ACK, 2, 3, t), mk(true, ACK, 3, 3, t));
  }
  const done: Conn[] = [];
  const tracker = new Tracker({ stallThresholdS: 0.9, onFinished: (c) => done.push(c), closedLingerS: 30 });
  segs.forEach((s, i) => tracker.process(s, i + 1));
  tracker.sweep(600);
  assert.equal(tracker.streams, 3000);
  assert.ok(tracker.released > 2500, `released ${tracker.released}`);
  assert.ok(tracker.live < 300, `still tracked ${tracker.live}`);
  tracker.flush();
  assert.equal(done.length, 3000);
  assert.deepEqual(done.map((c) => c.stream).slice(0, 3), [0, 1, 2]);
});
