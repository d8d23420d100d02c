/** local-port-exhaustion on hand-made tallies, and the /proc/net/tcp address decoding it relies on. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyse } from '../src/probe/analyse.js';
import { decodeProcAddress } from '../src/probe/local-ports.js';
import type { ProbeRecord } from '../src/probe/record.js';
import { ModeTally } from '../src/probe/tally.js';

function short(n: number, make: (i: number) => Partial<ProbeRecord>): ModeTally {
  const t = new ModeTally('short');
  for (let i = 0; i < n; i++) t.add({ mode: 'short', t: i, conn: i + 1, port: 40000 + (i % 8), addr: '10.0.0.10', reused: false, seq: 1, totalMs: 1, ...make(i) });
  return t;
}

const facts = { range: [40000, 40007] as [number, number], twReuse: 2, timeWaitToTarget: 8, timeWaitAll: 9, closingToTarget: 0, target: '10.0.0.10:80', close: 'client' as const };

test('no-local-port errors: local-port-exhaustion, and neither intermittent-errors nor all-failing', () => {
  const t = short(200, (i) => (i < 8 ? { status: 200, backend: i % 2 ? 'a' : 'b' } : { error: 'no-local-port', phase: 'connect' }));
  const f = analyse([t], { localPorts: facts });
  const ids = f.map((x) => x.id);
  assert.ok(ids.includes('local-port-exhaustion'), ids.join(','));
  assert.ok(!ids.includes('intermittent-errors') && !ids.includes('all-failing'), ids.join(','));
  const lpe = f.find((x) => x.id === 'local-port-exhaustion')!;
  assert.equal(lpe.metrics!.failures, 192);
  assert.match(lpe.evidence.join('\n'), /ip_local_port_range = 40000 40007 \(8 local ports/);
  assert.match(lpe.evidence.join('\n'), /TIME_WAIT sockets on this machine to 10\.0\.0\.10:80 right after the run: 8/);
  assert.match(lpe.evidence.join('\n'), /--close client/);
});

test('the balancer\'s own failures still count, without the local ones in their rate', () => {
  // 100 requests: 40 could not get a local port, 30 of the other 60 got a 503: 50 %, not 70 %.
  const t = short(100, (i) => (i < 40 ? { error: 'no-local-port', phase: 'connect' } : i % 2 ? { status: 503, backend: 'bad' } : { status: 200, backend: 'good' }));
  const f = analyse([t], { localPorts: facts });
  const ie = f.find((x) => x.id === 'intermittent-errors');
  assert.ok(ie, f.map((x) => x.id).join(','));
  assert.equal(ie.metrics!.rate, 0.5);
  assert.deepEqual(ie.metrics!.kinds, ['503']);
  assert.ok(f.some((x) => x.id === 'local-port-exhaustion'));
});

test('/proc/net/tcp addresses: IPv4, IPv6 and IPv4-mapped, in host byte order', () => {
  assert.equal(decodeProcAddress('0100007F'), '127.0.0.1');
  assert.equal(decodeProcAddress('0A00000A'), '10.0.0.10');
  assert.equal(decodeProcAddress('00000000000000000000000001000000'), '0:0:0:0:0:0:0:1');
  assert.equal(decodeProcAddress('0000000000000000FFFF00000100007F'), '127.0.0.1');
});
