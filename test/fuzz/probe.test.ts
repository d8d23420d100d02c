/**
 * Probe fuzz (issue 10): malformed and hostile responses.
 * 1. The response parser, fed each generated response whole and in random splits, must reach the
 *    same outcome either way (same status, body, framing, or the same error kind) and throw
 *    nothing but its own ParseError.
 * 2. Real sockets: a server on 127.0.21.2 answers each connection with a generated response
 *    (well-formed or mutated: garbage, truncated heads, bad chunking, huge headers, resets, mixed),
 *    written in random pieces; the probe must account for every request, name every failure with
 *    a known error kind, and end within requests / concurrency x timeout + 1 s.
 * Default counts keep `npm test` short; LBDIAG_FUZZ_COUNT=N multiplies them (N=100 is the large run).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { performance } from 'node:perf_hooks';
import { ParseError, ResponseParser } from '../../src/probe/http-response.js';
import { runProbe } from '../../src/probe/run.js';
import { startFaultServer } from '../support/fault-servers.js';
import { mutated, Rng, wellFormed, type Generated } from './responses.js';

const SCALE = Math.max(1, Number(process.env.LBDIAG_FUZZ_COUNT ?? 1) || 1);
const SEED = Number(process.env.LBDIAG_FUZZ_SEED ?? 20261201);
const PARSER_CASES = 2000 * SCALE;
const SOCKET_REQUESTS = 120 * SCALE;

/** Error kinds a probe record may carry (connection.ts, http-response.ts, errors.ts). */
const KNOWN_KINDS = new Set(['refused', 'reset', 'timeout', 'head-timeout', 'body-timeout', 'head-too-large', 'chunk-line-too-long', 'too-many-1xx', 'bad-response', 'closed']);

interface Outcome {
  done: boolean;
  error?: string;
  status?: number;
  bodyBytes?: number;
  body?: string;
  close?: boolean;
}

function parse(g: Generated, splits: number[]): Outcome {
  const p = new ResponseParser(1024);
  let done = false;
  let from = 0;
  try {
    for (const to of [...splits, g.bytes.length]) {
      if (to <= from) continue;
      done = p.feed(g.bytes.subarray(from, to));
      from = to;
      if (done) break;
    }
    if (!done && g.untilClose) done = p.end();
  } catch (e) {
    if (!(e instanceof ParseError)) throw e;
    return { done: false, error: e.kind };
  }
  const r = p.response;
  return done && r ? { done, status: r.status, bodyBytes: r.bodyBytes, body: r.body.toString('latin1'), close: r.close } : { done };
}

test(`fuzz: the response parser gives the same outcome however the bytes are split (${PARSER_CASES} responses)`, () => {
  const r = new Rng(SEED);
  const outcomes = new Map<string, number>();
  for (let i = 0; i < PARSER_CASES; i++) {
    const g = r.int(4) === 0 ? wellFormed(r) : mutated(r);
    const whole = parse(g, []);
    const splits: number[] = [];
    const pieces = r.int(3) === 0 && g.bytes.length < 4096 ? g.bytes.length : 1 + r.int(20); // sometimes byte by byte
    for (let k = 0; k < pieces; k++) splits.push(pieces === g.bytes.length ? k : r.int(g.bytes.length + 1));
    splits.sort((a, b) => a - b);
    const split = parse(g, splits);
    assert.deepEqual(split, whole, `case ${i} (seed ${SEED}): ${g.label}`);
    const key = whole.error ?? (whole.done ? 'complete' : 'incomplete');
    outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
  }
  // Every class of outcome must be exercised, or the generator has gone blind.
  for (const k of ['complete', 'incomplete', 'bad-response', 'head-too-large', 'chunk-line-too-long']) assert.ok((outcomes.get(k) ?? 0) > 0, `no ${k} among ${JSON.stringify([...outcomes])}`);
  if (SCALE > 1) process.stderr.write(`parser fuzz: ${JSON.stringify(Object.fromEntries(outcomes))}\n`);
});

test(`fuzz: the probe against a server of malformed answers (${SOCKET_REQUESTS} short-lived requests)`, async () => {
  let served = 0;
  const srv = await startFaultServer('127.0.21.2', (s) => {
    let answered = false;
    s.on('data', () => {
      if (answered) return;
      answered = true;
      const c = new Rng(SEED + 7 * ++served);
      const g = c.int(3) === 0 ? wellFormed(c) : mutated(c);
      const ending = c.pick(['end', 'end', 'end', 'keep-open', 'reset']);
      const pieces: Buffer[] = [];
      for (let i = 0; i < g.bytes.length; ) {
        const n = c.int(3) === 0 ? 1 + c.int(16) : 1 + c.int(20_000);
        pieces.push(g.bytes.subarray(i, i + n));
        i += n;
      }
      const pace = c.int(4) === 0 ? 1 + c.int(5) : 0;
      const write = (): void => {
        if (s.destroyed) return;
        const p = pieces.shift();
        if (p) {
          s.write(p);
          if (pace) setTimeout(write, pace);
          else setImmediate(write);
          return;
        }
        if (ending === 'end') s.end();
        else if (ending === 'reset') s.resetAndDestroy();
      };
      write();
    });
  });
  const timeoutMs = 400;
  const concurrency = 4;
  const t0 = performance.now();
  try {
    const report = await runProbe({ target: `127.0.21.2:${srv.port}`, mode: 'short', requests: SOCKET_REQUESTS, concurrency, timeoutMs });
    const ms = performance.now() - t0;
    const m = report.modes.short!;
    assert.equal(m.requests, SOCKET_REQUESTS, 'every request accounted for');
    assert.equal(m.ok + m.errors, m.requests);
    const kinds = Object.entries(m.errorKinds);
    for (const [k] of kinds) assert.ok(KNOWN_KINDS.has(k), `unknown error kind ${k}`);
    const bound = (SOCKET_REQUESTS / concurrency) * timeoutMs + 1000;
    assert.ok(ms < bound, `took ${ms.toFixed(0)} ms, bound ${bound}`);
    assert.ok(m.ok > 0 && m.errors > 0, `both outcomes exercised: ok ${m.ok}, errors ${m.errors}`);
    if (SCALE > 1) process.stderr.write(`socket fuzz: ${m.requests} requests in ${ms.toFixed(0)} ms: ok ${m.ok}, ${kinds.map(([k, v]) => `${k} ${v.count}`).join(', ')}; statuses ${JSON.stringify(m.statuses)}\n`);
  } finally {
    await srv.close();
  }
});
