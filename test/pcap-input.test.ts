/**
 * Inputs of every shape, on real captures: truncated files, non-captures, stdin, gzip, several
 * files merged in time order, pcapng with several interfaces and link types, byte orders.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { ROOT, runLbdiag } from './support/processes.js';
import { readPackets, writePcap, writePcapng, type Packet } from './support/pcap-files.js';
import { analyse } from '../src/pcap/analyse.js';

const FIX = path.join(ROOT, 'fixtures');
const FIN = path.join(FIX, 'fin-retransmit.pcap');
const REUSE = path.join(FIX, 'syn-port-reuse-drop.pcap');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lbdiag-pcap-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

async function findingsOf(files: string[]): Promise<string[]> {
  // TCP findings (the HTTP layer is tested in pcap-http.test.ts).
  const res = await analyse(files, { stallThresholdS: 0.9, http: false });
  return res.findings.map((f) => `${f.id}:${f.stream}:${(f.frames ?? []).join(',')}`).sort();
}

test('a truncated capture yields the findings before the cut and a warning', async () => {
  const whole = fs.readFileSync(FIN);
  const pk = readPackets(FIN);
  // The truth file (made by tshark when the fixture was captured) says which frames retransmit the FIN;
  // cut in the middle of the record after the next-to-last retransmission.
  const truth = JSON.parse(fs.readFileSync(FIN.replace(/\.pcap$/, '.truth.json'), 'utf8')) as {
    finRetransmits: { retransmitFrames: number[] }[];
  };
  const retransmits = truth.finRetransmits[0].retransmitFrames;
  assert.ok(retransmits.length >= 3, 'the fixture retransmits its FIN several times');
  const keep = retransmits[retransmits.length - 2];
  let off = 24;
  for (let i = 0; i < keep; i++) off += 16 + pk[i].data.length;
  const cut = path.join(tmp, 'cut.pcap');
  fs.writeFileSync(cut, whole.subarray(0, off + 20));
  const res = await analyse([cut], { stallThresholdS: 0.9 });
  assert.equal(res.summary.packets, keep);
  const fin = res.findings.find((f) => f.id === 'fin-retransmit');
  assert.ok(fin, 'the FIN retransmissions before the cut are found');
  assert.deepEqual(fin.metrics!.retransmittedFrames, retransmits.filter((f) => f <= keep));
  assert.match(res.warnings.join('\n'), new RegExp(`truncated.*${keep} packets before the cut`));
  // The CLI says so on stderr in --json mode, and still exits by the findings.
  const r = await runLbdiag(['pcap', '--json', cut]);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^lbdiag: warning: .*truncated/m);
  assert.equal(JSON.parse(r.stdout).summary.packets, keep);
});

test('a file that is not a capture exits 2 with one line', async () => {
  const notCap = path.join(tmp, 'notes.txt');
  fs.writeFileSync(notCap, 'GET / HTTP/1.1\r\nHost: example\r\n\r\n');
  for (const args of [[notCap], [FIN, notCap], [path.join(tmp, 'missing.pcap')], [tmp]]) {
    const r = await runLbdiag(['pcap', ...args]);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stdout, '');
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /^lbdiag: /);
  }
  const empty = path.join(tmp, 'empty.pcap');
  fs.writeFileSync(empty, '');
  const r = await runLbdiag(['pcap', empty]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /not a capture/);
});

test('stdin (-) and gzip, alone and together, give the same findings as the file', async () => {
  const expected = await findingsOf([REUSE]);
  assert.equal(expected.length, 2);
  const gz = path.join(tmp, 'reuse.pcap.gz');
  fs.writeFileSync(gz, zlib.gzipSync(fs.readFileSync(REUSE)));
  assert.deepEqual(await findingsOf([gz]), expected);
  for (const input of [fs.readFileSync(REUSE), fs.readFileSync(gz)]) {
    const r = await runLbdiag(['pcap', '--json', '--no-http', '-'], { input });
    assert.equal(r.code, 1, r.stderr);
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.command, 'pcap');
    assert.deepEqual(doc.findings.map((f: { id: string; stream: number; frames: number[] }) => `${f.id}:${f.stream}:${f.frames.join(',')}`).sort(), expected);
    assert.equal(doc.files[0].path, '-');
  }
  // A gzip file cut short: what was decompressed is analysed, with a warning.
  const gzCut = path.join(tmp, 'cut.pcap.gz');
  const full = fs.readFileSync(gz);
  fs.writeFileSync(gzCut, full.subarray(0, full.length - 200));
  const res = await analyse([gzCut], { stallThresholdS: 0.9 });
  assert.ok(res.summary.packets > 0 && res.summary.packets < 53);
  assert.match(res.warnings.join('\n'), /ended early|truncated/);
});

test('several files are merged in time order like mergecap: same frames, streams and findings', async () => {
  const pk = readPackets(REUSE);
  // Split alternately into two files; written in different formats and byte orders.
  const a = pk.filter((_, i) => i % 2 === 0);
  const b = pk.filter((_, i) => i % 2 === 1);
  const fa = path.join(tmp, 'a.pcap');
  const fb = path.join(tmp, 'b.pcap');
  fs.writeFileSync(fa, writePcap(a, { ns: true, bigEndian: true }));
  fs.writeFileSync(fb, writePcapng(b, [{ linkType: 1, tsresol: 6 }], () => 0));
  assert.deepEqual(await findingsOf([fb, fa]), await findingsOf([REUSE]));
  const res = await analyse([fb, fa], { stallThresholdS: 0.9 });
  assert.equal(res.summary.packets, pk.length);
  assert.deepEqual(res.files.map((f) => [f.format, f.packets]), [['pcapng', b.length], ['pcap-ns', a.length]]);
  // Equal timestamps: the earlier file on the command line goes first (mergecap's rule).
  const other = path.join(tmp, 'other-link.pcap');
  fs.writeFileSync(other, writePcap(pk.map((p) => ({ ...p, linkType: 147 }))));
  for (const [files, parity] of [[[REUSE, other], 1], [[other, REUSE], 0]] as const) {
    const frames: number[] = [];
    const r = await analyse([...files], { stallThresholdS: 0.9, onTcpPacket: (frame) => void frames.push(frame) });
    assert.equal(r.summary.packets, 2 * pk.length);
    assert.equal(r.summary.skipped['unsupported-link-type:linktype-147'], pk.length);
    assert.ok(frames.length > 40 && frames.every((f) => f % 2 === parity), `TCP frames are the ${parity ? 'odd' : 'even'} ones`);
  }
});

test('pcapng with several interfaces, link types and timestamp resolutions', async () => {
  const eth = readPackets(FIN);
  // The same traffic, every other packet re-encoded as Linux cooked v2 (what `tcpdump -i any` writes).
  const toSll2 = (p: Packet): Packet => {
    const h = Buffer.alloc(20);
    p.data.copy(h, 0, 12, 14); // protocol
    h.writeUInt32BE(1, 4); // ifindex
    h.writeUInt16BE(1, 8); // ARPHRD_ETHER
    h[11] = 6;
    p.data.copy(h, 12, 6, 12);
    const data = Buffer.concat([h, p.data.subarray(14)]);
    return { ...p, linkType: 276, data, origlen: p.origlen + 6 };
  };
  const mixed: Packet[] = eth.map((p, i) => (i % 2 === 0 ? p : toSll2(p)));
  const f = path.join(tmp, 'multi.pcapng');
  fs.writeFileSync(f, writePcapng(mixed, [{ linkType: 1, tsresol: 6 }, { linkType: 276, tsresol: 9 }], (i) => i % 2));
  // TCP analysis only: the FIN fixture's 4 HTTP requests would add an insufficient-data note.
  const res = await analyse([f], { stallThresholdS: 0.9, http: false });
  assert.deepEqual(res.files[0].linkTypes, ['ethernet', 'linux-sll2']);
  assert.deepEqual(Object.keys(res.summary.linkTypes).sort(), ['ethernet', 'linux-sll2']);
  assert.deepEqual(await findingsOf([f]), await findingsOf([FIN]));
  const f2 = path.join(tmp, 'multi2.pcapng');
  fs.writeFileSync(f2, writePcapng(mixed, [{ linkType: 1, tsresol: 0x80 | 20 }, { linkType: 276, tsresol: 9 }], (i) => i % 2));
  const r2 = await analyse([f2], { stallThresholdS: 0.9, http: false });
  assert.equal(r2.findings.length, 1);
  assert.ok(Math.abs((r2.findings[0].metrics!.overS as number) - (res.findings[0].metrics!.overS as number)) < 1e-5);
});

test('human output: tables, filter per finding, worst first; --fail-on and --stall-threshold', async () => {
  const r = await runLbdiag(['pcap', REUSE], { env: { ...process.env, NO_COLOR: '1' } });
  assert.equal(r.code, 1);
  assert.doesNotMatch(r.stdout, /\x1b\[/);
  assert.match(r.stdout, /10\.213\.1\.10:80\s*│\s*4/);
  const i = r.stdout.indexOf('ERROR syn-port-reuse-drop');
  const j = r.stdout.indexOf('WARN syn-retransmit');
  assert.ok(i > 0 && j > i, 'error before warning');
  assert.match(r.stdout, /filter:\s+tcp\.stream eq 1/);
  assert.equal((await runLbdiag(['pcap', '--fail-on', 'none', REUSE])).code, 0);
  assert.equal((await runLbdiag(['pcap', '--fail-on', 'error', path.join(FIX, 'clean-baseline.pcap')])).code, 0);
  const bad = await runLbdiag(['pcap', '--stall-threshold', 'soon', REUSE]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /^lbdiag: invalid --stall-threshold/);
  const help = await runLbdiag(['pcap', '--help']);
  assert.match(help.stdout, /Examples:/);
});
