/**
 * Ctrl-C during long work prints the report of what was gathered (probe: the requests that ran;
 * pcap: the packets read so far), exits by the findings rather than crashing, and leaves nothing
 * running. Real child processes, real signals.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, startLbdiag } from './support/processes.js';
import { untilIdle } from './support/idle.js';
import { startWhoami } from '../src/whoami/server.js';

const HOST = '127.0.20.250';

async function waitFor(cond: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`condition not met in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

test('probe: SIGINT during a long run prints the JSON report of what ran, then exits 130', async () => {
  const backend = await startWhoami({ host: HOST, port: 0, name: 'solo' });
  try {
    const { port } = backend.addresses[0];
    // --interval keeps the run slow and bounded; --duration would otherwise last 30 s.
    const p = startLbdiag(['probe', `${HOST}:${port}`, '--mode', 'keepalive', '-c', '2', '--duration', '30s', '--interval', '20ms', '--json']);
    await waitFor(() => backend.stats().requests >= 10, 10_000);
    const t0 = Date.now();
    p.child.kill('SIGINT');
    const code = await p.exited;
    assert.ok(Date.now() - t0 < 5000, 'stops promptly');
    assert.equal(code, 130, `an interrupted run exits 130 (after its report), not a crash: ${code} ${p.stderr()}`);
    const report = JSON.parse(p.stdout());
    assert.equal(report.command, 'probe');
    assert.equal(report.interrupted, true);
    const ka = report.modes.keepalive;
    assert.ok(ka.requests >= 10 && ka.requests < 3000, `partial: ${ka.requests} requests`);
    assert.equal(ka.ok, ka.requests);
    assert.match(p.stderr(), /SIGINT, stopping and reporting/);
  } finally {
    await backend.close();
  }
});

test('pcap: SIGINT while reading a capture from a stalled pipe prints what was read', async () => {
  const fixture = fs.readFileSync(path.join(ROOT, 'fixtures', 'fin-retransmit.pcap'));
  const p = startLbdiag(['pcap', '--json', '-'], { stdio: ['pipe', 'pipe', 'pipe'] });
  // The writer sends a whole capture and then stalls without closing, like a tcpdump that saw no traffic.
  p.child.stdin!.write(fixture);
  await untilIdle(p.pid); // the capture read, now blocked on the stalled pipe
  const t0 = Date.now();
  p.child.kill('SIGINT');
  const timer = setTimeout(() => p.child.kill('SIGKILL'), 8000);
  const code = await p.exited;
  clearTimeout(timer);
  p.child.stdin!.destroy();
  assert.ok(Date.now() - t0 < 5000, `stops promptly on SIGINT while the pipe is idle (exit ${code})`);
  assert.equal(code, 130, `interrupted: 130, whatever was found before Ctrl-C: ${p.stderr()}`);
  const doc = JSON.parse(p.stdout());
  assert.equal(doc.command, 'pcap');
  assert.ok(doc.summary.packets > 0);
  assert.ok(doc.findings.some((f: { id: string }) => f.id === 'fin-retransmit'));
});

test('pcap: SIGINT before stdin sent a single byte exits promptly with an empty report', async () => {
  const p = startLbdiag(['pcap', '--json', '-'], { stdio: ['pipe', 'pipe', 'pipe'] });
  await untilIdle(p.pid); // started and blocked on stdin (a fixed sleep loses to a loaded machine's start-up)
  p.child.kill('SIGINT');
  const timer = setTimeout(() => p.child.kill('SIGKILL'), 8000);
  const code = await p.exited;
  clearTimeout(timer);
  p.child.stdin!.destroy();
  assert.equal(code, 130, `interrupted: 130 even with nothing read: ${p.stderr()}`);
  const doc = JSON.parse(p.stdout());
  assert.equal(doc.summary.interrupted, true);
  assert.equal(doc.summary.packets, 0);
  assert.deepEqual(doc.findings, []);
});
