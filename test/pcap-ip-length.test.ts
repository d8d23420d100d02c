/**
 * IP lengths that disagree with the frame (issue 9, item 12): a total length (IPv4) or payload
 * length (IPv6) longer than the frame is not trusted, as Wireshark does not trust it, so a fuzzed
 * capture cannot make data segments look longer than they are (and the next ones retransmissions);
 * a snap length that cut the capture short leaves the lengths of the IP header in force. Built
 * from real captures (fixtures made by real kernels), compared with tshark frame by frame where
 * it is installed, and always with the unmodified capture.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { ROOT, hasCommand } from './support/processes.js';
import { readPackets, writePcap, type Packet } from './support/pcap-files.js';
import { analyse } from '../src/pcap/analyse.js';
import { TA_ANY_RETRANSMISSION } from '../src/pcap/tracker.js';

const tshark = hasCommand('tshark');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lbdiag-iplen-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

type PerFrame = Map<number, [stream: number, retrans: number, seglen: number]>;

async function ours(file: string): Promise<{ perFrame: PerFrame; retransmissions: number }> {
  const perFrame: PerFrame = new Map();
  const res = await analyse([file], { stallThresholdS: 0.9, onTcpPacket: (fr, st, ta) => perFrame.set(fr, [st, ta & TA_ANY_RETRANSMISSION ? 1 : 0, 0]) });
  return { perFrame, retransmissions: res.summary.tcp.retransmissions };
}

function theirs(file: string): PerFrame {
  const out = execFileSync('tshark', ['-n', '-r', file, '-Y', 'tcp', '-T', 'fields', '-e', 'frame.number', '-e', 'tcp.stream', '-e', 'tcp.analysis.retransmission'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const m: PerFrame = new Map();
  for (const line of out.split('\n').filter(Boolean)) {
    const [fr, st, re] = line.split('\t');
    if (st !== '') m.set(Number(fr), [Number(st), re ? 1 : 0, 0]);
  }
  return m;
}

/** Offset of the IP header in an Ethernet frame (0x0800 / 0x86dd), or -1. */
function ipAt(p: Packet): number {
  if (p.linkType !== 1) return -1;
  const type = p.data.readUInt16BE(12);
  return type === 0x0800 || type === 0x86dd ? 14 : -1;
}

/** The data segments of a capture (TCP with payload), as packet indexes. */
function dataSegments(packets: Packet[]): number[] {
  const idx: number[] = [];
  packets.forEach((p, i) => {
    const ip = ipAt(p);
    if (ip < 0) return;
    const v6 = p.data[ip] >> 4 === 6;
    const proto = v6 ? p.data[ip + 6] : p.data[ip + 9];
    if (proto !== 6) return;
    const ipLen = v6 ? 40 + p.data.readUInt16BE(ip + 4) : p.data.readUInt16BE(ip + 2);
    const ihl = v6 ? 40 : (p.data[ip] & 15) * 4;
    const tcpLen = (p.data[ip + ihl + 12] >> 4) * 4;
    if (ipLen - ihl - tcpLen > 0) idx.push(i);
  });
  return idx;
}

function write(name: string, packets: Packet[]): string {
  const file = path.join(tmp, name);
  fs.writeFileSync(file, writePcap(packets));
  return file;
}

for (const fixture of ['keepalive-pinning.pcap', 'keepalive-pinning-v6.pcap']) {
  test(`${fixture} with IP lengths past the frame on every data segment: no segment grows, no false retransmission`, async () => {
    const src = path.join(ROOT, 'fixtures', fixture);
    const packets = readPackets(src);
    const data = dataSegments(packets);
    assert.ok(data.length >= 8, `${data.length} data segments`);
    const fuzzed = packets.map((p, i) => {
      if (!data.includes(i)) return p;
      const d = Buffer.from(p.data);
      const ip = ipAt(p);
      // The largest length the field holds: far past the end of the frame.
      if (d[ip] >> 4 === 6) d.writeUInt16BE(0xffff, ip + 4);
      else d.writeUInt16BE(0xffff, ip + 2);
      return { ...p, data: d };
    });
    const file = write(`fuzzed-${fixture}`, fuzzed);
    const original = await ours(src);
    const got = await ours(file);
    assert.deepEqual([...got.perFrame], [...original.perFrame], 'same streams and retransmission flags as the unmodified capture');
    assert.equal(got.retransmissions, original.retransmissions);
    if (tshark) assert.deepEqual([...got.perFrame].sort((a, b) => a[0] - b[0]), [...theirs(file)].sort((a, b) => a[0] - b[0]), 'frame by frame as tshark');
  });
}

test('a snap length that cuts the payload off keeps the IP lengths (Wireshark\'s reported length), so the analysis is the same', async () => {
  const src = path.join(ROOT, 'fixtures', 'keepalive-pinning.pcap');
  const packets = readPackets(src);
  // As `tcpdump -s 60`: the bytes past 60 are not captured, the wire length stays.
  const cut = packets.map((p) => ({ ...p, origlen: Math.max(p.origlen, p.data.length), data: p.data.subarray(0, Math.min(p.data.length, 60)) }));
  const file = write('snap60.pcap', cut);
  const original = await ours(src);
  const got = await ours(file);
  assert.deepEqual([...got.perFrame], [...original.perFrame]);
  if (tshark) assert.deepEqual([...got.perFrame].sort((a, b) => a[0] - b[0]), [...theirs(file)].sort((a, b) => a[0] - b[0]));
});

test('IPv4 total length 0 (TSO) is the frame\'s wire length; IPv6 payload length 0 without a jumbo option is not analysed, as tshark 4.0', { skip: tshark ? false : 'tshark not installed' }, async () => {
  const src = path.join(ROOT, 'fixtures', 'keepalive-pinning.pcap');
  const packets = readPackets(src);
  const data = dataSegments(packets);
  const tso = packets.map((p, i) => {
    if (!data.includes(i)) return p;
    const d = Buffer.from(p.data);
    d.writeUInt16BE(0, ipAt(p) + 2);
    return { ...p, data: d };
  });
  const f4 = write('tso4.pcap', tso);
  assert.deepEqual([...(await ours(f4)).perFrame].sort((a, b) => a[0] - b[0]), [...theirs(f4)].sort((a, b) => a[0] - b[0]));
  const src6 = path.join(ROOT, 'fixtures', 'keepalive-pinning-v6.pcap');
  const packets6 = readPackets(src6);
  const data6 = dataSegments(packets6);
  const zero6 = packets6.map((p, i) => {
    if (!data6.includes(i)) return p;
    const d = Buffer.from(p.data);
    d.writeUInt16BE(0, ipAt(p) + 4);
    return { ...p, data: d };
  });
  const f6 = write('zero6.pcap', zero6);
  const got6 = await ours(f6);
  for (const i of data6) assert.ok(!got6.perFrame.has(i + 1), `frame ${i + 1} not analysed`);
  assert.deepEqual([...got6.perFrame].sort((a, b) => a[0] - b[0]), [...theirs(f6)].sort((a, b) => a[0] - b[0]));
});
