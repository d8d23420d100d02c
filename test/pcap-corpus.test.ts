/**
 * The tcpdump project's own test captures (../shared/corpus/tcpdump: every format and link type,
 * many deliberately malformed): each is read in-process without a crash or hang, unsupported
 * content is counted, and on TCP captures the numbering agrees with tshark frame by frame.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { corpusDir, hasCommand } from './support/processes.js';
import { analyse } from '../src/pcap/analyse.js';
import { TA_ANY_RETRANSMISSION, TA_REUSED_PORTS } from '../src/pcap/tracker.js';
import { isUsageError } from '../src/core/errors.js';

const CORPUS = corpusDir();
const files = fs.existsSync(CORPUS) ? fs.readdirSync(CORPUS).sort() : [];
const PER_FILE_MS = 2000;

test('every corpus capture is read without crash or hang; unsupported content is counted', { skip: files.length ? false : `no corpus at ${CORPUS}` }, async (t) => {
  const started = Date.now();
  let packets = 0;
  let tcp = 0;
  const unsupported = new Map<string, number>();
  const warned: string[] = [];
  const refused: string[] = [];
  for (const f of files) {
    const t0 = Date.now();
    try {
      const res = await analyse([path.join(CORPUS, f)], { stallThresholdS: 0.9 });
      const s = res.summary;
      const counted = Object.values(s.protocols).reduce((a, b) => a + b, 0) + Object.values(s.skipped).reduce((a, b) => a + b, 0);
      assert.equal(counted, s.packets, `${f}: every packet is counted once (protocols + skipped)`);
      assert.equal(s.protocols.tcp ?? 0, s.tcp.packets, `${f}: tcp packets`);
      for (const [k, v] of Object.entries(s.skipped)) unsupported.set(k.replace(/:.*/, ''), (unsupported.get(k.replace(/:.*/, '')) ?? 0) + v);
      packets += s.packets;
      tcp += s.tcp.packets;
      if (res.warnings.length) warned.push(f);
    } catch (e) {
      // Only a clean "not a capture" refusal is acceptable, never a crash.
      assert.ok(isUsageError(e), `${f}: ${(e as Error).stack}`);
      refused.push(f);
    }
    assert.ok(Date.now() - t0 < PER_FILE_MS, `${f} took ${Date.now() - t0} ms`);
  }
  assert.ok(packets > 5000, `read ${packets} packets`);
  assert.ok(tcp > 1000, `decoded ${tcp} TCP packets`);
  assert.ok((unsupported.get('unsupported-link-type') ?? 0) > 0, 'radiotap & co are counted as unsupported link types');
  assert.ok(refused.length < 10, `refused: ${refused.join(', ')}`);
  t.diagnostic(`${files.length} files, ${packets} packets, ${tcp} TCP, ${warned.length} with warnings, ${refused.length} refused, ${Date.now() - started} ms; skipped ${JSON.stringify(Object.fromEntries(unsupported))}`);
});

const TCP_CAPTURES = ['ssh.pcap', 'mptcp-v0.pcap', 'of13_ericsson.pcapng', 'resp_3_malicious.pcap', 'bgp-4byte-asn.pcap', 'of10_s4810.pcap', 'bgp-lu-multiple-labels.pcap'];

for (const f of TCP_CAPTURES) {
  const file = path.join(CORPUS, f);
  const skip = !fs.existsSync(file) ? `${f} not in the corpus` : !hasCommand('tshark') ? 'tshark not installed' : false;
  test(`corpus ${f}: frame numbers, tcp.stream and retransmission flags equal tshark's`, { skip }, async () => {
    const ours = new Map<number, number[]>();
    await analyse([file], { stallThresholdS: 0.9, onTcpPacket: (fr, st, ta) => ours.set(fr, [st, ta & TA_ANY_RETRANSMISSION ? 1 : 0, ta & TA_REUSED_PORTS ? 1 : 0]) });
    const out = execFileSync('tshark', ['-n', '-r', file, '-Y', 'tcp', '-T', 'fields', '-e', 'frame.number', '-e', 'tcp.stream', '-e', 'tcp.analysis.retransmission', '-e', 'tcp.analysis.reused_ports'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const theirs = new Map<number, number[]>();
    for (const line of out.split('\n').filter(Boolean)) {
      const [fr, st, re, ru] = line.split('\t');
      theirs.set(Number(fr), [Number(st), re ? 1 : 0, ru ? 1 : 0]);
    }
    assert.ok(theirs.size > 30);
    assert.deepEqual([...ours.entries()].sort((a, b) => a[0] - b[0]), [...theirs.entries()].sort((a, b) => a[0] - b[0]));
  });
}
