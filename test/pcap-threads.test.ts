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
import { renderJson } from '../src/core/render.js';
import { COPIED, MIRRORED, NOT_COPIED } from '../src/pcap/threads/mirror.js';
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

test('every field of Conn, Direction and Decoded that src/pcap/http or connection.ts names is copied to the worker', () => {
  const dir = path.join(ROOT, 'src/pcap/http');
  const src = [...fs.readdirSync(dir).map((f) => path.join(dir, f)), path.join(ROOT, 'src/pcap/connection.ts')].map((f) => fs.readFileSync(f, 'utf8')).join('\n');
  const named = new Set([...src.matchAll(/\.([A-Za-z_]\w*)/g)].map((m) => m[1]));
  const check = (kind: 'conn' | 'direction' | 'decoded', obj: object): void => {
    const copied = new Set<string>(COPIED[kind]);
    const skipped = new Set<string>(NOT_COPIED[kind]);
    for (const k of Object.keys(obj)) {
      if (skipped.has(k)) continue;
      if (named.has(k)) assert.ok(copied.has(k), `${kind}.${k} is read by the HTTP layer but not copied (src/pcap/threads/mirror.ts)`);
    }
    for (const k of copied) assert.ok(k in obj, `${kind}.${k} is copied but no longer exists`);
  };
  check('conn', new MIRRORED.Conn());
  check('direction', new MIRRORED.Direction());
  check('decoded', new MIRRORED.Decoded());
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

test('command line: --threads 2 and --threads 1 print the same; a bad --threads is a usage error', async () => {
  const file = path.join(FIXTURES, 'keepalive-pinning-backends.pcap');
  const run = async (args: string[]): Promise<{ code: number | null; out: string; err: string }> => {
    const p = startLbdiag(['pcap', ...args], { env: { ...process.env, NO_COLOR: '1' } });
    const code = await p.exited;
    return { code: code as number | null, out: p.stdout(), err: p.stderr() };
  };
  for (const extra of [[], ['--json']]) {
    const a = await run([...extra, '--threads', '1', file]);
    const b = await run([...extra, '--threads', '2', file]);
    assert.equal(b.code, a.code);
    assert.equal(b.out.replace(/"startedAt": "[^"]*"/, ''), a.out.replace(/"startedAt": "[^"]*"/, ''));
    assert.ok(a.out.length > 200);
  }
  const bad = await run(['--threads', '0', file]);
  assert.equal(bad.code, 2);
  assert.equal(bad.err.trim().split('\n').length, 1, bad.err);
  assert.match(bad.err, /--threads must be a whole number/);
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
  thread.finish(c, true); // nothing sent for a connection the worker never heard of
  await (thread as unknown as { worker: { terminate: () => Promise<number> } }).worker.terminate();
  const t0 = Date.now();
  await assert.rejects(thread.close(), (e: Error) => e instanceof HttpThreadError && /HTTP analysis thread/.test(e.message) && !e.message.includes('\n'));
  assert.ok(Date.now() - t0 < 5000);
});
