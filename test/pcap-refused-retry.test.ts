/**
 * Issue 9, item 9, on a real kernel: a connection refused by a RST that never reaches the client
 * (the server side rejects, something on the way drops the RST), so the client's stack sends the
 * same SYN again; then the client retries from the same source port. The RST settles the first
 * connection (kept as a compact record), and the retransmitted SYN must stay on its stream as a
 * retransmission, as tshark says, not become a false port reuse (the compact record once read its
 * base sequence numbers at the wrong offsets). Made in a network namespace of its own (loopback
 * only; iptables inside it): REJECT with tcp-reset on the server port, DROP of that RST on input.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { hasCommand } from './support/processes.js';
import { captureInNetns, netnsCaptureSkip as skip } from './support/netns-capture.js';
import { analyse } from '../src/pcap/analyse.js';
import { TA_ANY_RETRANSMISSION, TA_REUSED_PORTS } from '../src/pcap/tracker.js';

test('refused connection whose RST is lost, retried from the same port: retransmissions on their stream, as tshark', { skip, timeout: 60_000 }, async () => {
  const rules = [
    ['-A', 'INPUT', '-p', 'tcp', '--dport', '81', '--tcp-flags', 'SYN,ACK,RST', 'SYN', '-j', 'REJECT', '--reject-with', 'tcp-reset'],
    ['-A', 'INPUT', '-p', 'tcp', '--sport', '81', '--tcp-flags', 'RST', 'RST', '-j', 'DROP'],
  ];
  // Two attempts from port 40404, each given 2.5 s (the SYN is retransmitted after 1 s and 3 s).
  const client = `
    const net = require('net'); let n = 0;
    const go = () => { const s = net.connect({ host: '127.0.0.1', port: 81, localPort: 40404 }); s.on('error', () => {});
      setTimeout(() => { s.destroy(); if (++n < 2) setTimeout(go, 300); }, 2500); };
    go();`;
  const { file, cleanup } = await captureInNetns('refused', rules, 'tcp port 81', client);
  try {
    const perFrame = new Map<number, [number, number, number]>();
    for (const compactRecords of [true, false]) {
      perFrame.clear();
      const res = await analyse([file], { stallThresholdS: 0.9, compactRecords, onTcpPacket: (fr, st, ta) => perFrame.set(fr, [st, ta & TA_ANY_RETRANSMISSION ? 1 : 0, ta & TA_REUSED_PORTS ? 1 : 0]) });
      assert.equal(res.summary.tcp.connections, 2, 'two attempts, two streams');
      assert.equal(res.summary.tcp.reusedPorts, 1, 'the second attempt (a new ISN) reuses the port');
      const syn = res.findings.filter((f) => f.id === 'syn-retransmit');
      assert.deepEqual(syn.map((f) => f.stream), [0, 1], 'each attempt has its SYN retransmissions');
      assert.ok(syn.every((f) => (f.metrics as Record<string, unknown>).refusedByRstFrame !== null && /answered by a RST/.test(f.title)), 'refused, not dropped');
      assert.equal(res.findings.filter((f) => f.id === 'syn-port-reuse-drop').length, 0, 'a refused SYN is not a dropped one');
    }
    if (hasCommand('tshark')) {
      const out = execFileSync('tshark', ['-n', '-r', file, '-Y', 'tcp', '-T', 'fields', '-e', 'frame.number', '-e', 'tcp.stream', '-e', 'tcp.analysis.retransmission', '-e', 'tcp.analysis.reused_ports'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
      const theirs = out.split('\n').filter(Boolean).map((l) => l.split('\t')).map(([fr, st, re, ru]) => [Number(fr), [Number(st), re ? 1 : 0, ru ? 1 : 0]] as const);
      assert.deepEqual([...perFrame].sort((a, b) => a[0] - b[0]), theirs.map(([fr, v]) => [fr, [...v]]));
    }
  } finally {
    cleanup();
  }
});
