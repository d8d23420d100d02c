/**
 * Inputs that used to crash, hang or mislead `lbdiag pcap` (issue 10 items 7-9, issue 9 item 12),
 * reproduced on real files, FIFOs, pipes and processes: gzip with a corrupt first record, gzip
 * interrupted, gzip on stdin, a FIFO with no writer under SIGINT/SIGTERM/timeout, `<(cat x)` and
 * /dev/stdin, millions of pcapng interfaces, a simple packet block of length 12, and the packet
 * count of the corrupt-record warning.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import zlib from 'node:zlib';
import { LBDIAG, ROOT, runLbdiag, startLbdiag, type Started } from './support/processes.js';
import { readPackets, writePcap } from './support/pcap-files.js';
import { analyse } from '../src/pcap/analyse.js';

const FIX = path.join(ROOT, 'fixtures');
const FIN = path.join(FIX, 'fin-retransmit.pcap');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lbdiag-faults-'));
process.on('exit', () => fs.rmSync(tmp, { recursive: true, force: true }));

const STACK = /^\s+at .*\(|node:internal|Error \[ERR_/m;

function findingIds(stdout: string): string[] {
  return (JSON.parse(stdout) as { findings: { id: string; stream: number }[] }).findings.map((f) => `${f.id}:${f.stream}`).sort();
}

/** The findings of the file read in-process, as findingIds() lists them (one process less per test). */
async function fileFindings(file: string): Promise<string[]> {
  return (await analyse([file], { stallThresholdS: 0.9 })).findings.map((f) => `${f.id}:${f.stream}`).sort();
}

/** The fixture's packets repeated `times` with shifted timestamps: a bigger real capture. */
function repeated(times: number): Buffer {
  const pk = readPackets(FIN);
  const span = pk[pk.length - 1].sec - pk[0].sec + 1;
  const all = [];
  for (let i = 0; i < times; i++) for (const p of pk) all.push({ ...p, sec: p.sec + i * span });
  return writePcap(all);
}

/** Byte offset of record `n` (0-based) of a classic little-endian pcap. */
function recordOffset(b: Buffer, n: number): number {
  let off = 24;
  for (let i = 0; i < n; i++) off += 16 + b.readUInt32LE(off + 8);
  return off;
}

/** Resolves once process `pid` has `file` open (so its signal handlers are installed and it is reading). */
async function waitForOpen(p: Started, file: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const want = fs.realpathSync(file);
  for (;;) {
    let fds: string[] = [];
    try {
      fds = fs.readdirSync(`/proc/${p.pid}/fd`);
    } catch {
      /* not yet, or gone */
    }
    for (const fd of fds) {
      try {
        if (fs.readlinkSync(`/proc/${p.pid}/fd/${fd}`) === want) return;
      } catch {
        /* closed meanwhile */
      }
    }
    if (p.child.exitCode !== null) throw new Error(`exited early: ${p.stderr()}`);
    if (Date.now() > deadline) throw new Error(`process never opened ${file}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

test('gzip whose first record is corrupt: one line, exit 2, no stack trace, by path and on stdin', async () => {
  const b = Buffer.from(fs.readFileSync(FIN));
  b.writeUInt32LE(0x7fffffff, 24 + 8); // incl_len of the first record
  const gz = path.join(tmp, 'first-corrupt.pcap.gz');
  fs.writeFileSync(gz, zlib.gzipSync(b));
  for (const r of [await runLbdiag(['pcap', gz]), await runLbdiag(['pcap', '--json', '-'], { input: fs.readFileSync(gz) })]) {
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stdout, '');
    assert.doesNotMatch(r.stderr, STACK);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /^lbdiag: .*corrupt record at byte 24: record of 2147483647 bytes .*no packet could be read/);
  }
});

test('a corrupt record after 266 packets: the warning says 266 (gzip, plain, stdin), and they are analysed', async () => {
  const whole = repeated(Math.ceil(300 / readPackets(FIN).length));
  const b = Buffer.from(whole);
  b.writeUInt32LE(0x7fffffff, recordOffset(b, 266) + 8);
  const plain = path.join(tmp, 'corrupt-266.pcap');
  fs.writeFileSync(plain, b);
  const gz = `${plain}.gz`;
  fs.writeFileSync(gz, zlib.gzipSync(b));
  for (const f of [plain, gz]) {
    const res = await analyse([f], { stallThresholdS: 0.9 });
    assert.equal(res.summary.packets, 266);
    assert.equal(res.files[0].packets, 266);
    assert.match(res.warnings.join('\n'), /corrupt record at byte \d+: .*analysed the 266 packets before it/);
  }
  const r = await runLbdiag(['pcap', '--json', '-'], { input: fs.readFileSync(gz) });
  assert.ok(r.code === 0 || r.code === 1, r.stderr);
  assert.equal(JSON.parse(r.stdout).summary.packets, 266);
  assert.match(r.stderr, /^lbdiag: warning: -: corrupt record .*analysed the 266 packets before it$/m);
  assert.doesNotMatch(r.stderr, STACK);
});

test('gzip on stdin: whole, cut short and with damaged deflate data end with a report, never a crash', async () => {
  const gz = zlib.gzipSync(repeated(400));
  const whole = await runLbdiag(['pcap', '--json', '-'], { input: gz });
  assert.equal(whole.code, 1, whole.stderr);
  const all = JSON.parse(whole.stdout).summary.packets as number;
  assert.equal(all, 400 * readPackets(FIN).length);
  const cut = await runLbdiag(['pcap', '--json', '-'], { input: gz.subarray(0, Math.floor(gz.length * 0.6)) });
  assert.ok(cut.code === 0 || cut.code === 1, cut.stderr);
  const n = JSON.parse(cut.stdout).summary.packets as number;
  assert.ok(n > 0 && n < all, `${n} of ${all}`);
  assert.match(cut.stderr, /^lbdiag: warning: -: input ended early \(gzip: unexpected end of file\); analysed the \d+ packets before the cut$/m);
  const damaged = Buffer.from(gz);
  for (let i = Math.floor(gz.length / 2); i < Math.floor(gz.length / 2) + 64; i++) damaged[i] ^= 0x5a;
  const d = await runLbdiag(['pcap', '--json', '-'], { input: damaged });
  assert.doesNotMatch(d.stderr, STACK);
  assert.ok([0, 1].includes(d.code), d.stderr);
  assert.match(d.stderr, /lbdiag: warning: -: (input ended early|corrupt record)/);
  const dn = JSON.parse(d.stdout).summary.packets as number;
  assert.ok(dn > 0 && dn < all, `${dn} of ${all}`);
});

test('interrupting a gzip read reports what was read (in-process abort mid-file, no stream error escapes)', async () => {
  const gz = path.join(tmp, 'big.pcap.gz');
  fs.writeFileSync(gz, zlib.gzipSync(repeated(3000), { level: 1 }));
  const controller = new AbortController();
  let calls = 0;
  const res = await analyse([gz], {
    stallThresholdS: 0.9,
    signal: controller.signal,
    onProgress: () => {
      if (++calls === 2) controller.abort();
    },
  });
  assert.equal(res.summary.interrupted, true);
  assert.ok(res.summary.packets > 0 && res.summary.packets < 3000 * readPackets(FIN).length, `${res.summary.packets}`);
  assert.match(res.warnings.join('\n'), /interrupted after \d+ packets/);
  // Whatever the destroyed streams emit afterwards must not become an uncaught error.
  await new Promise((r) => setTimeout(r, 200));
});

test('a FIFO with no writer obeys SIGINT and SIGTERM at once (report, exit 130), and timeout ends it', async () => {
  const fifo = path.join(tmp, 'idle.fifo');
  spawnSync('mkfifo', [fifo]);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    const p = startLbdiag(['pcap', fifo], { env: { ...process.env, NO_COLOR: '1' } });
    await waitForOpen(p, fifo);
    const t0 = Date.now();
    p.child.kill(signal);
    const code = await p.exited;
    assert.equal(code, 130, `${signal}: ${p.stderr()}`);
    assert.ok(Date.now() - t0 < 10_000);
    assert.match(p.stdout(), /packets\s*│ 0 /);
    assert.match(p.stderr(), new RegExp(`lbdiag: ${signal}, stopping`));
    assert.doesNotMatch(p.stderr(), STACK);
  }
  // Under timeout(1): SIGTERM after 1 s ends it (124 = timed out), no orphan left reading the FIFO.
  const t0 = Date.now();
  const r = spawnSync('timeout', ['1', process.execPath, LBDIAG, 'pcap', fifo], { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 124, r.stderr);
  assert.ok(Date.now() - t0 < 15_000);
});

test('a FIFO with a writer is read like stdin; interrupted mid-gzip it reports what came through (exit 130)', async () => {
  const fifo = path.join(tmp, 'data.fifo');
  spawnSync('mkfifo', [fifo]);
  const p = startLbdiag(['pcap', '--json', fifo]);
  await waitForOpen(p, fifo);
  fs.writeFileSync(fifo, fs.readFileSync(FIN));
  assert.equal(await p.exited, 1, p.stderr());
  assert.deepEqual(findingIds(p.stdout()), await fileFindings(FIN));

  // Half of a gzip capture, then the writer stays open: SIGINT reports the packets that came.
  const gz = zlib.gzipSync(repeated(200));
  const q = startLbdiag(['pcap', '--json', fifo]);
  await waitForOpen(q, fifo);
  const w = fs.createWriteStream(fifo);
  w.write(gz.subarray(0, gz.length >> 1));
  const deadline = Date.now() + 20_000;
  // Wait until the reader has taken the bytes (the pipe buffer drained into lbdiag).
  while (w.writableLength > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  await new Promise((r) => setTimeout(r, 300));
  q.child.kill('SIGINT');
  assert.equal(await q.exited, 130, q.stderr());
  w.destroy();
  const doc = JSON.parse(q.stdout());
  assert.equal(doc.summary.interrupted, true);
  assert.equal(doc.files[0].gzip, true);
  assert.ok(doc.summary.packets > 0, q.stderr());
  assert.doesNotMatch(q.stderr(), STACK);
});

test('pipes by path: <(cat x.pcap) under bash, /dev/stdin from a pipe and from a file, give the file findings', async () => {
  const expected = await fileFindings(FIN);
  const gz = path.join(tmp, 'fin.pcap.gz');
  fs.writeFileSync(gz, zlib.gzipSync(fs.readFileSync(FIN)));
  for (const src of [FIN, gz]) {
    const r = spawnSync('bash', ['-c', `"${process.execPath}" "${LBDIAG}" pcap --json <(cat "${src}")`], { encoding: 'utf8', timeout: 60_000 });
    assert.equal(r.status, 1, r.stderr);
    assert.deepEqual(findingIds(r.stdout), expected);
  }
  const piped = spawnSync('bash', ['-c', `cat "${FIN}" | "${process.execPath}" "${LBDIAG}" pcap --json /dev/stdin`], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(piped.status, 1, piped.stderr);
  assert.deepEqual(findingIds(piped.stdout), expected);
  const redirected = spawnSync('bash', ['-c', `"${process.execPath}" "${LBDIAG}" pcap --json /dev/stdin < "${FIN}"`], { encoding: 'utf8', timeout: 60_000 });
  assert.equal(redirected.status, 1, redirected.stderr);
  assert.deepEqual(findingIds(redirected.stdout), expected);
});

/** pcapng writer for hand-made blocks (little-endian). */
function block(type: number, body: Buffer, len?: number): Buffer {
  const n = 12 + body.length;
  const b = Buffer.alloc(n);
  b.writeUInt32LE(type, 0);
  b.writeUInt32LE(len ?? n, 4);
  body.copy(b, 8);
  b.writeUInt32LE(len ?? n, n - 4);
  return b;
}
const SHB = block(0x0a0d0d0a, Buffer.from([0x4d, 0x3c, 0x2b, 0x1a, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]));
function idb(linkType = 1): Buffer {
  const body = Buffer.alloc(8);
  body.writeUInt16LE(linkType, 0);
  body.writeUInt32LE(262144, 4);
  return block(1, body);
}
function epb(iface: number, data: Buffer, sec = 1_700_000_000): Buffer {
  const body = Buffer.alloc(20 + ((data.length + 3) & ~3));
  body.writeUInt32LE(iface, 0);
  const ts = BigInt(sec) * 1_000_000n;
  body.writeUInt32LE(Number(ts >> 32n), 4);
  body.writeUInt32LE(Number(ts & 0xffffffffn), 8);
  body.writeUInt32LE(data.length, 12);
  body.writeUInt32LE(data.length, 16);
  data.copy(body, 20);
  return block(6, body);
}

test('millions of interface description blocks cost bounded memory; what was not kept is counted and said', async () => {
  const frame = readPackets(FIN)[0].data;
  const one = idb();
  const count = 1_000_000;
  const idbs = Buffer.alloc(one.length * count);
  for (let i = 0; i < count; i++) one.copy(idbs, i * one.length);
  const f = path.join(tmp, 'many-idb.pcapng');
  // A packet on interface 0 (kept) and one on interface 900000 (past the limit).
  fs.writeFileSync(f, Buffer.concat([SHB, idbs, epb(0, frame), epb(900_000, frame, 1_700_000_001)]));
  // With a 40 MB old-generation heap: a million interface objects would not fit (the issue: 5 M took 572 MB).
  const r = spawnSync(process.execPath, ['--max-old-space-size=40', LBDIAG, 'pcap', '--json', f], { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr);
  const doc = JSON.parse(r.stdout);
  assert.equal(doc.summary.packets, 1);
  assert.deepEqual(doc.summary.skippedInput, { 'pcapng-interface-over-limit': count - 65536, 'packet-on-interface-over-limit': 1 });
  assert.match(r.stderr, new RegExp(`warning: .*${count - 65536} interface description blocks past the first 65536 of a section were not kept; 1 packets on them were not analysed`));
});

test('a simple packet block of length 12 is a corrupt record (Wireshark: less than the minimum SPB size), never capturedBytes -4', async () => {
  const frame = readPackets(FIN)[0].data;
  const spb12 = Buffer.alloc(12);
  spb12.writeUInt32LE(3, 0);
  spb12.writeUInt32LE(12, 4);
  spb12.writeUInt32LE(12, 8);
  const alone = path.join(tmp, 'spb12.pcapng');
  fs.writeFileSync(alone, Buffer.concat([SHB, idb(), spb12]));
  const r = await runLbdiag(['pcap', '--json', alone]);
  assert.equal(r.code, 2);
  assert.match(r.stderr, /^lbdiag: .*spb12\.pcapng: corrupt record at byte 48: simple packet block of 12 bytes \(less than 16\); no packet could be read\n$/);
  const after = path.join(tmp, 'spb12-after.pcapng');
  fs.writeFileSync(after, Buffer.concat([SHB, idb(), epb(0, frame), spb12]));
  const res = await analyse([after], { stallThresholdS: 0.9 });
  assert.equal(res.summary.packets, 1);
  assert.equal(res.summary.capturedBytes, frame.length);
  assert.match(res.warnings.join('\n'), /simple packet block of 12 bytes .*analysed the 1 packet before it/);
});

test('pcapng and pcap lengths are validated as Wireshark does: each damage is a corrupt record, what came before is kept', async () => {
  const frame = readPackets(FIN)[0].data;
  const good = epb(0, frame);
  const cases: [string, Buffer, RegExp][] = [];
  const badTrailer = Buffer.from(good);
  badTrailer.writeUInt32LE(good.length + 4, good.length - 4);
  cases.push(['trailer', badTrailer, /block lengths differ/]);
  const bigCap = Buffer.from(good);
  bigCap.writeUInt32LE(frame.length + 100, 20);
  cases.push(['caplen past the block', bigCap, /too small for \d+ bytes of packet data/]);
  const badIface = Buffer.from(good);
  badIface.writeUInt32LE(3, 8);
  cases.push(['undeclared interface', badIface, /packet on interface 3, but the section declares 1/]);
  const huge = Buffer.from(good);
  huge.writeUInt32LE(0x7ffffff0, 4);
  cases.push(['block too large', huge, /pcapng block of 2147483632 bytes \(more than/]);
  for (const [name, bad, re] of cases) {
    const f = path.join(tmp, `ng-${name.replace(/ /g, '-')}.pcapng`);
    fs.writeFileSync(f, Buffer.concat([SHB, idb(), good, bad, good]));
    const res = await analyse([f], { stallThresholdS: 0.9 });
    assert.equal(res.summary.packets, 1, name);
    assert.match(res.warnings.join('\n'), re, name);
  }
  // Classic pcap: a record above 262144 bytes on Ethernet is corrupt (Wireshark's "bigger than maximum").
  const b = Buffer.from(repeated(1));
  b.writeUInt32LE(262145, recordOffset(b, 3) + 8);
  const f = path.join(tmp, 'big-record.pcap');
  fs.writeFileSync(f, b);
  const res = await analyse([f], { stallThresholdS: 0.9 });
  assert.equal(res.summary.packets, 3);
  assert.match(res.warnings.join('\n'), /record of 262145 bytes \(this link type allows at most 262144\)/);
  // A block length that is not a multiple of 4 is rounded up, as Wireshark does (not refused).
  const odd = epb(0, frame.subarray(0, 61));
  odd.writeUInt32LE(odd.readUInt32LE(4) - 3, 4);
  odd.writeUInt32LE(odd.readUInt32LE(odd.length - 4) - 3, odd.length - 4);
  const fo = path.join(tmp, 'odd-length.pcapng');
  fs.writeFileSync(fo, Buffer.concat([SHB, idb(), odd, good]));
  const ro = await analyse([fo], { stallThresholdS: 0.9 });
  assert.equal(ro.summary.packets, 2);
  assert.deepEqual(ro.warnings, []);
});
