/**
 * A capture whose clock jumps (a clock step while capturing, captures merged from hosts whose
 * clocks differ, an edited file) puts a gap longer than any TCP stack waits inside a connection
 * that was waiting on the network. lbdiag reported such gaps as stalls (the tcpdump corpus's
 * kday3.pcap: "34406m24s stall while data was in flight"); they are now said as a warning about
 * the capture's timestamps, and the connection's real stalls are still reported. The input is a
 * real kernel capture (fixtures/tunnel-vxlan.pcap) with every record from one frame on moved 2000 s
 * later, as a clock step would.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { analyse } from '../src/pcap/analyse.js';
import { ROOT } from './support/processes.js';

/** A classic little-endian pcap with `shiftS` seconds added to the time of every record from `fromFrame` (1-based) on. */
function shiftClock(file: string, fromFrame: number, shiftS: number): Buffer {
  const b = Buffer.from(fs.readFileSync(file));
  assert.equal(b.readUInt32LE(0), 0xa1b2c3d4, 'a little-endian microsecond pcap');
  let frame = 0;
  for (let o = 24; o + 16 <= b.length; o += 16 + b.readUInt32LE(o + 8)) {
    if (++frame >= fromFrame) b.writeUInt32LE(b.readUInt32LE(o) + shiftS, o);
  }
  return b;
}

test('pcap: a clock jump inside a waiting connection is a warning about the capture, not a stall; real stalls stay', async () => {
  const src = path.join(ROOT, 'fixtures/tunnel-vxlan.pcap');
  const before = await analyse([src], { stallThresholdS: 0.9 });
  const stall0 = before.findings.find((f) => f.id === 'tcp-stall' && f.stream === 0);
  assert.ok(stall0, 'the fixture has a stall in tcp.stream 0');
  const [, to] = stall0.frames as number[];
  assert.ok(before.findings.some((f) => f.id === 'tcp-stall' && f.stream === 2), 'and one in tcp.stream 2, after it');
  assert.ok(!before.warnings.some((w) => /not continuous/.test(w)));

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lbdiag-clock-'));
  try {
    const jumped = path.join(dir, 'jumped.pcap');
    fs.writeFileSync(jumped, shiftClock(src, to, 2000));
    const after = await analyse([jumped], { stallThresholdS: 0.9 });
    const stalls = after.findings.filter((f) => f.id === 'tcp-stall');
    assert.deepEqual(stalls.map((f) => f.stream), [2], 'stream 0 waited 2001 s by the clock: not a stall; stream 2 keeps its own');
    const w = after.warnings.find((x) => /not continuous/.test(x));
    assert.ok(w, after.warnings.join(' | '));
    // Every connection waiting across the jump has such a gap (here two); the longest is stream 0's.
    assert.match(w, new RegExp(`^\\d+ gaps? of over 30m00s .* \\(the longest: 33m2\\ds in tcp\\.stream 0, frames ${stall0.frames![0]} to ${to}\\): no TCP stack waits that long`));
    assert.equal(after.summary.tcp.connections, before.summary.tcp.connections, 'the same connections: none split by the jump');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
