/**
 * Every fixture made by real kernels (fixtures/, see fixtures/make-captures.sh): lbdiag's findings
 * must agree with tshark. The checked-in truth files hold tshark's answers; when tshark is
 * installed the same questions are asked to it live, frame by frame.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { ROOT, hasCommand } from './support/processes.js';
import { analyse, type AnalysisResult } from '../src/pcap/analyse.js';
import { TA_ANY_RETRANSMISSION, TA_REUSED_PORTS } from '../src/pcap/tracker.js';

const DIR = path.join(ROOT, 'fixtures');

interface Truth {
  file: string;
  scenario: string;
  packets: number;
  streams: number;
  finRetransmitFrames: { frame: number; stream: number }[];
  synRetransmitStreams: number[];
  reusedPortStreams: number[];
  synRetransmits: { stream: number; firstSynFrame: number; retransmitFrames: number[]; delaySeconds: number; reusedPort: boolean }[];
  retransmissionFrames: number;
  resetFrames: number;
  connectionsPerServer: Record<string, number>;
  connections: { stream: number; firstFrame: number; client: string; server: string }[];
}

const index = JSON.parse(fs.readFileSync(path.join(DIR, 'index.json'), 'utf8')) as { captures: { file: string; truth: string }[] };
const tshark = hasCommand('tshark');

interface Run {
  res: AnalysisResult;
  perFrame: Map<number, { stream: number; flags: number }>;
}

async function run(file: string): Promise<Run> {
  const perFrame = new Map<number, { stream: number; flags: number }>();
  // The TCP layer's findings (HTTP exchanges and their findings: pcap-http.test.ts).
  const res = await analyse([file], { stallThresholdS: 0.9, http: false, onTcpPacket: (frame, stream, flags) => perFrame.set(frame, { stream, flags }) });
  return { res, perFrame };
}

function sorted(xs: number[]): number[] {
  return [...new Set(xs)].sort((a, b) => a - b);
}

/** What the findings say, in the shape of the truth file. */
function claims(res: AnalysisResult): { fin: string[]; synStreams: number[]; reuseStreams: number[] } {
  const fin: string[] = [];
  for (const f of res.findings.filter((x) => x.id === 'fin-retransmit')) {
    for (const fr of f.metrics!.retransmittedFrames as number[]) fin.push(`${fr}@${f.stream}`);
  }
  const syn = res.findings.filter((x) => x.id === 'syn-retransmit' || x.id === 'syn-port-reuse-drop');
  return {
    fin: fin.sort(),
    synStreams: sorted(syn.map((f) => f.stream!)),
    reuseStreams: sorted(res.findings.filter((x) => x.id === 'syn-port-reuse-drop').map((f) => f.stream!)),
  };
}

function tsharkFields(file: string, filter: string, fields: string[]): string[][] {
  const out = execFileSync('tshark', ['-n', '-r', file, '-Y', filter, '-T', 'fields', ...fields.flatMap((f) => ['-e', f])], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  return out.split('\n').filter(Boolean).map((l) => l.split('\t'));
}

for (const cap of index.captures) {
  const file = path.join(DIR, cap.file);
  const truth = JSON.parse(fs.readFileSync(path.join(DIR, cap.truth), 'utf8')) as Truth;

  test(`fixture ${cap.file}: findings agree with the tshark truth file`, async () => {
    const { res, perFrame } = await run(file);
    assert.equal(res.summary.packets, truth.packets, 'frames');
    assert.equal(res.summary.tcp.connections, truth.streams, 'tcp streams');
    assert.equal(res.summary.tcp.retransmissions, truth.retransmissionFrames, 'retransmitted frames');
    assert.equal(res.summary.tcp.resets, truth.resetFrames, 'reset frames');
    for (const c of truth.connections) {
      assert.equal(perFrame.get(c.firstFrame)?.stream, c.stream, `stream of frame ${c.firstFrame}`);
    }
    const c = claims(res);
    assert.deepEqual(c.fin, truth.finRetransmitFrames.map((x) => `${x.frame}@${x.stream}`).sort(), 'fin-retransmit frames');
    assert.deepEqual(c.synStreams, sorted(truth.synRetransmitStreams), 'SYN retransmission streams');
    assert.deepEqual(c.reuseStreams, sorted(truth.reusedPortStreams.filter((s) => truth.synRetransmitStreams.includes(s))), 'port-reuse drop streams');
    for (const s of truth.synRetransmits) {
      const f = res.findings.find((x) => x.stream === s.stream && x.id.startsWith('syn-'))!;
      assert.deepEqual(f.frames, [s.firstSynFrame, ...s.retransmitFrames], `frames of stream ${s.stream}, original SYN first`);
      assert.ok(Math.abs((f.metrics!.addedDelayS as number) - s.delaySeconds) < 0.01, `delay ${f.metrics!.addedDelayS} vs ${s.delaySeconds}`);
    }
    const servers = Object.fromEntries(res.summary.servers.map((x) => [x.server, x.connections]));
    assert.deepEqual(servers, truth.connectionsPerServer, 'connections per server endpoint');
    if (truth.scenario === 'clean' || truth.scenario.startsWith('pinning')) assert.deepEqual(res.findings.map((f) => f.id), [], 'no findings on a clean capture');
    for (const f of res.findings) {
      assert.equal(f.filter, `tcp.stream eq ${f.stream}`);
      assert.ok(f.client && f.server && f.explanation && f.remedy && f.evidence.length > 0);
    }
  });

  test(`fixture ${cap.file}: findings and numbering agree with tshark run now`, { skip: tshark ? false : 'tshark not installed' }, async () => {
    const { res, perFrame } = await run(file);
    const c = claims(res);
    // One tshark run per file; the display filters are evaluated on its fields.
    const rows = tsharkFields(file, 'tcp', ['frame.number', 'tcp.stream', 'tcp.flags.fin', 'tcp.flags.syn', 'tcp.flags.ack', 'tcp.analysis.retransmission', 'tcp.analysis.reused_ports']).map(
      ([fr, st, fin, syn, ack, re, ru]) => ({ frame: Number(fr), stream: Number(st), fin: fin === '1' || fin === 'True', syn: syn === '1' || syn === 'True', ack: ack === '1' || ack === 'True', re: re !== '', ru: ru !== '' }),
    );
    const fin = rows.filter((r) => r.fin && r.re).map((r) => `${r.frame}@${r.stream}`);
    assert.deepEqual(c.fin, fin.sort(), 'fin-retransmit frames vs tcp.flags.fin==1 && tcp.analysis.retransmission');
    const syn = rows.filter((r) => r.syn && !r.ack && r.re).map((r) => r.stream);
    assert.deepEqual(c.synStreams, sorted(syn), 'SYN retransmission streams vs tcp.flags.syn==1 && tcp.flags.ack==0 && tcp.analysis.retransmission');
    const reused = rows.filter((r) => r.ru).map((r) => r.stream);
    assert.deepEqual(c.reuseStreams, sorted(syn.filter((s) => reused.includes(s))), 'port-reuse drop streams vs tcp.analysis.reused_ports');
    // Every TCP frame: same stream number, same retransmission and reused-ports flags.
    assert.equal(rows.length, perFrame.size, 'TCP frames');
    for (const r of rows) {
      const o = perFrame.get(r.frame);
      assert.ok(o, `frame ${r.frame} decoded`);
      assert.equal(o.stream, r.stream, `tcp.stream of frame ${r.frame}`);
      assert.equal((o.flags & TA_ANY_RETRANSMISSION) !== 0, r.re, `retransmission flag of frame ${r.frame}`);
      assert.equal((o.flags & TA_REUSED_PORTS) !== 0, r.ru, `reused_ports flag of frame ${r.frame}`);
    }
  });
}
