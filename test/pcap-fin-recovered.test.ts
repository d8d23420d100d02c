/**
 * fin-retransmit severity on a real kernel: a FIN that is lost once and recovered at once (the
 * stack's tail-loss probe, milliseconds later, gets through and is acknowledged) is ordinary loss
 * recovery, `info`; a FIN lost twice waits for the retransmission timer (>= 200 ms) and is
 * acknowledged late, `warn`; an expired NAT entry (never acknowledged) stays `error` (the fixtures).
 * Made in a network namespace of its own (loopback only; iptables inside it drops on INPUT, so the
 * capture holds every packet): port 82, the client's first FIN, alone in flight, so only the
 * retransmission timer resends it; port 83, the client's first data segment and first FIN, so two
 * segments are in flight and the tail-loss probe (about two round trips later) resends the FIN.
 * The expected severity of each connection is read from the capture itself (first FIN to the ACK
 * that covers it), so a kernel that probes later than this one still gets the right answer.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { hasCommand } from './support/processes.js';
import { captureInNetns, netnsCaptureSkip as skip } from './support/netns-capture.js';
import { analyse } from '../src/pcap/analyse.js';
import { RECOVERED_S } from '../src/pcap/detectors/fin-retransmit.js';

test('fin-retransmit: recovered at once is info, acknowledged after the retransmission timer is warn', { skip, timeout: 60_000 }, async () => {
  const fin = ['-p', 'tcp', '--tcp-flags', 'FIN', 'FIN'];
  const first = ['-m', 'statistic', '--mode', 'nth', '--every', '1000', '--packet', '0', '-j', 'DROP'];
  // Each rule has its own counter: it drops the first packet it matches.
  const rules = [
    ['-A', 'INPUT', ...fin, '--dport', '82', ...first],
    ['-A', 'INPUT', ...fin, '--dport', '83', ...first],
    ['-A', 'INPUT', '-p', 'tcp', '--tcp-flags', 'FIN,PSH', 'PSH', '--dport', '83', ...first],
  ];
  // One server per port; the client closes (82: a bare FIN; 83: a line, then the FIN 20 ms later); the server answers and closes once it has the FIN.
  const script = `
    const net = require('net'); let done = 0;
    for (const port of [82, 83]) {
      const srv = net.createServer((s) => { s.resume(); s.on('end', () => s.end('bye')); }).listen(port, '127.0.0.1', () => {
        const c = net.connect(port, '127.0.0.1', () => { if (port === 82) c.end(); else { c.write('hello'); setTimeout(() => c.end(), 20); } });
        c.resume();
        c.on('close', () => { srv.close(); if (++done === 2) process.exit(0); });
      });
    }
    setTimeout(() => process.exit(3), 15000);`;
  const { file, cleanup } = await captureInNetns('finrec', rules, 'tcp port 82 or tcp port 83', script);
  try {
    const res = await analyse([file], { stallThresholdS: 0.9 });
    const fins = res.findings.filter((f) => f.id === 'fin-retransmit');
    assert.equal(fins.length, 2, `one finding per connection: ${fins.map((f) => f.title).join(' | ')} (${res.summary.tcp.packets} packets)`);
    for (const f of fins) {
      const m = f.metrics as { peerReaction: string; peerReactionFrame: number; firstFinFrame: number; retransmissions: number; sender: string };
      assert.equal(m.peerReaction, 'ack', f.title);
      assert.equal(m.sender, 'client', f.title);
      const port = Number(f.server?.split(':').pop());
      assert.equal(m.retransmissions, 1, `${port}: ${f.title}`);
      // The wait, from the capture's own timestamps: the first FIN to the ACK covering it.
      const t = (frame: number): number => {
        const out = spawnSync('tshark', ['-n', '-r', file, '-Y', `frame.number == ${frame}`, '-T', 'fields', '-e', 'frame.time_relative'], { encoding: 'utf8' }).stdout;
        return Number(out.trim());
      };
      const wait = hasCommand('tshark') ? t(m.peerReactionFrame) - t(m.firstFinFrame) : NaN;
      if (port === 82) assert.ok(!(wait < RECOVERED_S), `a lone lost FIN waits for the retransmission timer: ${wait}`);
      if (Number.isFinite(wait)) assert.equal(f.severity, wait < RECOVERED_S ? 'info' : 'warn', `${port}: ${f.title} (acknowledged after ${wait} s)`);
      else assert.equal(f.severity, port === 82 ? 'warn' : f.severity, f.title);
      if (f.severity === 'info') assert.match(f.title, /recovered at once/);
      else assert.match(f.title, /acknowledged late/);
    }
  } finally {
    cleanup();
  }
});
