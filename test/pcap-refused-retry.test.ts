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
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync, execFileSync } from 'node:child_process';
import { canUseNetns, hasCommand, start } from './support/processes.js';
import { analyse } from '../src/pcap/analyse.js';
import { TA_ANY_RETRANSMISSION, TA_REUSED_PORTS } from '../src/pcap/tracker.js';

const skip = !canUseNetns() ? 'needs root and ip netns' : !hasCommand('tcpdump') || !hasCommand('iptables') ? 'needs tcpdump and iptables' : false;

function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
}

test('refused connection whose RST is lost, retried from the same port: retransmissions on their stream, as tshark', { skip, timeout: 60_000 }, async () => {
  const ns = `lbdiag-refused-${process.pid}`;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lbdiag-refused-'));
  const file = path.join(tmp, 'refused.pcap');
  run('ip', ['netns', 'add', ns]);
  try {
    const inNs = (args: string[]): void => run('ip', ['netns', 'exec', ns, ...args]);
    inNs(['ip', 'link', 'set', 'lo', 'up']);
    inNs(['iptables', '-A', 'INPUT', '-p', 'tcp', '--dport', '81', '--tcp-flags', 'SYN,ACK,RST', 'SYN', '-j', 'REJECT', '--reject-with', 'tcp-reset']);
    inNs(['iptables', '-A', 'INPUT', '-p', 'tcp', '--sport', '81', '--tcp-flags', 'RST', 'RST', '-j', 'DROP']);
    const dump = start('ip', ['netns', 'exec', ns, 'tcpdump', '-i', 'lo', '--immediate-mode', '-U', '-w', file, 'tcp port 81']);
    // tcpdump says "listening on" on stderr once the capture runs (bounded wait).
    for (const t0 = Date.now(); !/listening on/.test(dump.stderr()) && Date.now() - t0 < 10_000; ) await new Promise((r) => setTimeout(r, 50));
    // Two attempts from port 40404, each given 2.5 s (the SYN is retransmitted after 1 s and 3 s).
    const client = `
      const net = require('net'); let n = 0;
      const go = () => { const s = net.connect({ host: '127.0.0.1', port: 81, localPort: 40404 }); s.on('error', () => {});
        setTimeout(() => { s.destroy(); if (++n < 2) setTimeout(go, 300); }, 2500); };
      go();`;
    run('ip', ['netns', 'exec', ns, process.execPath, '-e', client]);
    await new Promise((r) => setTimeout(r, 300));
    await dump.stop('SIGINT');
  } finally {
    spawnSync('ip', ['netns', 'del', ns]);
  }
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
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
