/**
 * `lbdiag pcap --threads`: the HTTP layer in a worker thread must not change a byte of the output.
 * Every fixture (and one of each format cut or corrupted in the middle), a sample of the tcpdump corpus (all of it with
 * LBDIAG_THREADS_CORPUS=all, or a count), JSON and human output, one thread against two; plus the
 * command line (the option, Ctrl-C on a pipe) and a worker that dies (one error, no hang).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Chalk } from 'chalk';
import { ROOT, corpusDir, startLbdiag } from './support/processes.js';
import { untilIdle } from './support/idle.js';
import { analyse } from '../src/pcap/analyse.js';
import { jsonDocument } from '../src/pcap/json.js';
import { renderHuman } from '../src/pcap/report.js';
import { renderJson } from '../src/core/output-flags.js';
import { AT_FINISH, CARRIED, FINISH_NUMS, MIRRORED, NOT_CARRIED, OPEN_NUMS, SEGMENT_NUMS, readFinish, readOpen, readSegmentConn, segFlags, segFromA, writeFinish, writeOpen, writeSegment } from '../src/pcap/threads/event.js';
import { HttpFront } from '../src/pcap/http/front.js';
import { HttpLayer } from '../src/pcap/http/layer.js';
import { HttpThread, HttpThreadError } from '../src/pcap/threads/http-thread.js';
import { Conn } from '../src/pcap/connection.js';

const FIXTURES = path.join(ROOT, 'fixtures');
const CORPUS = corpusDir();
const chalk = new Chalk({ level: 0 });

/** The JSON document and the verbose human report, or the error, of one analysis. */
async function outputs(files: string[], threads: number): Promise<string> {
  try {
    const res = await analyse(files, { stallThresholdS: 0.9, threads });
    const doc = jsonDocument(res, { startedAt: new Date(0), config: { stallThresholdS: 0.9 } });
    return renderJson(doc) + renderHuman({ ...res, findings: doc.findings }, chalk, 120, { verbosity: 'verbose' });
  } catch (e) {
    return `error: ${(e as Error).message}`;
  }
}

async function same(files: string[], what: string): Promise<void> {
  const one = await outputs(files, 1);
  const two = await outputs(files, 2);
  assert.equal(two, one, `${what}: --threads 2 output differs from --threads 1`);
}

test('every field of Conn and Direction the HTTP layer reads is carried to the worker, and nothing of a decoded packet', () => {
  // The HTTP layer as the worker runs it: src/pcap/http/ but the front (it runs on the TCP side), and connection.ts's helpers.
  const dir = path.join(ROOT, 'src/pcap/http');
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.ts') && f !== 'front.ts');
  assert.ok(files.includes('stream.ts') && files.includes('tallies.ts') && files.includes('layer.ts'), files.join(' '));
  for (const f of files) {
    const text = fs.readFileSync(path.join(dir, f), 'utf8');
    assert.doesNotMatch(text, /from '\.\.\/decode(\/[\w-]+)?\.js'/, `${f} imports the decoder: only http/front.ts may read a decoded packet (the worker has none)`);
  }
  const src = [...files.map((f) => path.join(dir, f)), path.join(ROOT, 'src/pcap/connection.ts')].map((f) => fs.readFileSync(f, 'utf8')).join('\n');
  const named = new Set([...src.matchAll(/\.([A-Za-z_]\w*)/g)].map((m) => m[1]));
  const check = (kind: 'conn' | 'direction', obj: object, skipped: string[]): void => {
    const carried = new Set<string>(CARRIED[kind]);
    for (const k of Object.keys(obj)) {
      if (skipped.includes(k)) continue;
      if (named.has(k)) assert.ok(carried.has(k), `${kind}.${k} is read by the HTTP layer but not carried to the worker (src/pcap/threads/event.ts)`);
    }
    for (const k of carried) assert.ok(k in obj, `${kind}.${k} is carried but no longer exists`);
  };
  check('conn', new MIRRORED.Conn(), NOT_CARRIED.conn);
  check('direction', new MIRRORED.Direction(), []);

  // The events carry what the list says: every listed field, set to a distinct value on this side, arrives.
  const c = new Conn();
  let v = 1000;
  const rec = c as unknown as Record<string, number | boolean>;
  for (const k of CARRIED.conn) rec[k] = typeof rec[k] === 'boolean' ? true : v++;
  c.clientIsA = -1;
  for (const d of [c.ab, c.ba]) {
    const dr = d as unknown as Record<string, number | boolean>;
    for (const k of CARRIED.direction) dr[k] = typeof dr[k] === 'boolean' ? true : v++;
  }
  const n = new Float64Array(OPEN_NUMS + SEGMENT_NUMS + FINISH_NUMS);
  writeOpen(n, 0, 7, c);
  const w = readOpen(n, 0);
  writeSegment(n, OPEN_NUMS, 7, c, true, 1, 2, 3, 0x19, c.lastTime, 0, 3, 9);
  readSegmentConn(w, n, OPEN_NUMS);
  assert.equal(segFlags(n, OPEN_NUMS), 0x19);
  assert.equal(segFromA(n, OPEN_NUMS), true);
  assert.equal(w.clientIsA, -1);
  assert.equal(w.lastTime, c.lastTime);
  for (const cia of [0, 1]) {
    c.clientIsA = cia;
    writeFinish(n, OPEN_NUMS + SEGMENT_NUMS, 7, c);
    readFinish(w, n, OPEN_NUMS + SEGMENT_NUMS);
    for (const k of CARRIED.conn) assert.equal((w as unknown as Record<string, unknown>)[k], rec[k], `conn.${k}`);
    for (const d of ['ab', 'ba'] as const) for (const k of CARRIED.direction) assert.equal((w[d] as unknown as Record<string, number>)[k], (c[d] as unknown as Record<string, number>)[k], `${d}.${k}`);
  }
});

const captures = fs.readdirSync(FIXTURES).filter((f) => /\.(pcap|pcapng)(\.gz)?$/.test(f)).sort();

test('fixtures: --threads 2 prints exactly what --threads 1 prints (JSON and human)', async (t) => {
  const started = Date.now();
  assert.ok(captures.length >= 20, `${captures.length} fixtures`);
  for (const f of captures) await same([path.join(FIXTURES, f)], f);
  // All of them at once: several inputs merged in time order.
  await same(captures.slice(0, 6).map((f) => path.join(FIXTURES, f)), 'six fixtures merged');
  t.diagnostic(`${captures.length} fixtures in ${Date.now() - started} ms`);
});

test('fixtures cut in the middle of a record: the same warnings and partial results in both', async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lbdiag-threads-'));
  try {
    // One of each format and link type (a worker start per run is what this test costs).
    for (const f of ['fin-retransmit.pcap', 'fin-retransmit-ng.pcapng', 'fin-retransmit-nano.pcap', 'keepalive-pinning-sll2.pcap', 'fin-retransmit-v6.pcap', 'keepalive-pinning-backends.pcap']) {
      const whole = fs.readFileSync(path.join(FIXTURES, f));
      const cut = path.join(tmp, f);
      fs.writeFileSync(cut, whole.subarray(0, Math.floor(whole.length * 0.6) + 3));
      await same([cut], `${f} cut at 60%`);
      // A corrupt record in the middle: a pcap record length or a pcapng block length made huge.
      const bad = Buffer.from(whole);
      const at = Math.floor(bad.length / 2);
      bad.writeUInt32LE(0x7ffffff0, at - (at % 4));
      fs.writeFileSync(cut, bad);
      await same([cut], `${f} with a corrupt word at ${at}`);
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

const corpus = fs.existsSync(CORPUS) ? fs.readdirSync(CORPUS).sort() : [];
const want = process.env.LBDIAG_THREADS_CORPUS;
const count = want === 'all' ? corpus.length : Math.min(corpus.length, Number(want ?? 24) || 24);

test(`tcpdump corpus (${count} of ${corpus.length} captures; LBDIAG_THREADS_CORPUS=all for every one): both print the same`, { skip: corpus.length ? false : `no corpus at ${CORPUS}` }, async (t) => {
  const started = Date.now();
  // An even spread over the sorted names, so the sample covers every kind of file the corpus has.
  const step = corpus.length / count;
  for (let i = 0; i < count; i++) {
    const f = corpus[Math.floor(i * step)];
    await same([path.join(CORPUS, f)], f);
  }
  t.diagnostic(`${count} captures in ${Date.now() - started} ms`);
});

test('command line: --threads 2, auto and 1 print the same; a bad --threads is a usage error', async () => {
  const file = path.join(FIXTURES, 'keepalive-pinning-backends.pcap');
  const run = async (args: string[]): Promise<{ code: number | null; out: string; err: string }> => {
    const p = startLbdiag(['pcap', ...args], { env: { ...process.env, NO_COLOR: '1' } });
    const code = await p.exited;
    return { code: code as number | null, out: p.stdout(), err: p.stderr() };
  };
  for (const extra of [[], ['--json']]) {
    const a = await run([...extra, '--threads', '1', file]);
    const b = await run([...extra, '--threads', '2', file]);
    const c = await run([...extra, '--threads', 'auto', file]);
    assert.equal(b.code, a.code);
    assert.equal(c.code, a.code);
    assert.equal(b.out.replace(/"startedAt": "[^"]*"/, ''), a.out.replace(/"startedAt": "[^"]*"/, ''));
    assert.equal(c.out.replace(/"startedAt": "[^"]*"/, ''), a.out.replace(/"startedAt": "[^"]*"/, ''));
    assert.ok(a.out.length > 200);
  }
  const bad = await run(['--threads', '0', file]);
  assert.equal(bad.code, 2);
  assert.equal(bad.err.trim().split('\n').length, 1, bad.err);
  assert.match(bad.err, /--threads must be auto or a whole number/);
});

test('command line: Ctrl-C with --threads 2 on a stalled pipe prints what was read, exit 130', async () => {
  const fixture = fs.readFileSync(path.join(FIXTURES, 'keepalive-pinning-backends.pcap'));
  const p = startLbdiag(['pcap', '--json', '--threads', '2', '-'], { stdio: ['pipe', 'pipe', 'pipe'] });
  p.child.stdin!.write(fixture);
  await untilIdle(p.pid);
  p.child.kill('SIGINT');
  const timer = setTimeout(() => p.child.kill('SIGKILL'), 10_000);
  const code = await p.exited;
  clearTimeout(timer);
  p.child.stdin!.destroy();
  assert.equal(code, 130, p.stderr());
  const doc = JSON.parse(p.stdout());
  assert.equal(doc.interrupted, true);
  assert.ok(doc.summary.packets > 0);
  assert.ok(doc.http.requests > 0, 'the HTTP part of what was read is reported too');
  const whole = JSON.parse(renderJson(jsonDocument(await analyse([path.join(FIXTURES, 'keepalive-pinning-backends.pcap')], { stallThresholdS: 0.9, threads: 1 }), { startedAt: new Date(0), config: { stallThresholdS: 0.9 } })));
  assert.deepEqual(doc.http, whole.http, 'the whole capture was read before Ctrl-C: the same HTTP report');
});

test('a worker thread that dies: one HttpThreadError, no hang', async () => {
  const thread = new HttpThread({ kind: 'auto' });
  const c = new Conn();
  new HttpFront(thread).finish(c); // nothing sent for a connection the worker never heard of
  await (thread as unknown as { worker: { terminate: () => Promise<number> } }).worker.terminate();
  const t0 = Date.now();
  await assert.rejects(thread.close(), (e: Error) => e instanceof HttpThreadError && /HTTP analysis thread/.test(e.message) && !e.message.includes('\n'));
  assert.ok(Date.now() - t0 < 5000);
});

test('what only FINISH carries is read by the HTTP layer only when a connection is finished (fixtures and corpus sample, one thread)', async () => {
  // The one-thread HTTP layer gets connections that note any read of a FINISH-only field made while a segment is handled.
  const proto = HttpLayer.prototype;
  const { open, segment } = proto;
  let inSegment = false;
  const bad = new Set<string>();
  const watch = <T extends object>(o: T, kind: 'conn' | 'direction', fields: string[], inner?: (k: string | symbol) => unknown): T =>
    new Proxy(o, {
      get(t, k, r) {
        const sub = inner?.(k);
        if (sub !== undefined) return sub;
        if (inSegment && typeof k === 'string' && fields.includes(k)) bad.add(`${kind}.${k}`);
        return Reflect.get(t, k, r);
      },
    });
  proto.open = function (this: HttpLayer, c: Conn) {
    const ab = watch(c.ab, 'direction', AT_FINISH.direction);
    const ba = watch(c.ba, 'direction', AT_FINISH.direction);
    return open.call(this, watch(c, 'conn', AT_FINISH.conn, (k) => (k === 'ab' ? ab : k === 'ba' ? ba : undefined)));
  };
  proto.segment = function (this: HttpLayer, ...a: Parameters<HttpLayer['segment']>) {
    inSegment = true;
    try {
      segment.apply(this, a);
    } finally {
      inSegment = false;
    }
  };
  let exchanges = 0;
  try {
    const sample = corpus.filter((_, i) => i % Math.max(1, Math.floor(corpus.length / 24)) === 0);
    for (const f of [...captures.map((f) => path.join(FIXTURES, f)), ...sample.map((f) => path.join(CORPUS, f))]) {
      const res = await analyse([f], { stallThresholdS: 0.9, threads: 1 }).catch(() => null);
      exchanges += res?.http?.requests ?? 0;
    }
  } finally {
    proto.open = open;
    proto.segment = segment;
  }
  assert.ok(exchanges > 100, `${exchanges} requests seen`);
  assert.deepEqual([...bad], [], 'read per segment: carry these with SEGMENT (src/pcap/threads/event.ts)');
});
