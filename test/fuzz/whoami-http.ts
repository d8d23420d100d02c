/**
 * Malformed HTTP against a running whoami over raw sockets: garbage, mutated request lines,
 * oversize and odd headers, bad chunking, conflicting framing, pipelining bursts, half-closed
 * connections and slowloris. Seeded (reproducible): `LBDIAG_FUZZ_SEED`. Every answer must be a
 * well-formed HTTP/1.1 status line carrying X-Lbdiag-Backend; the server must never crash and a
 * monitor's `GET /` must keep being answered meanwhile.
 */
import net from 'node:net';
import { rng } from '../support/seeded-random.js';


export interface FuzzCase {
  kind: string;
  /** Written in order, `gapMs` apart. */
  parts: Buffer[];
  gapMs: number;
  /** Half-close (FIN) after the last part, then read the answer. */
  halfClose: boolean;
}

const METHODS = ['GET', 'POST', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'CONNECT', 'TRACE'];
const PATHS = ['/', '/api', '/health', '/metrics', '/x?size=20k', '/?wait=50ms', '/?status=503', '/?close=1', '/?format=json', '*', 'http://h/abs'];

function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[Math.floor(r() * xs.length)];
}

function valid(r: () => number): string {
  return `${pick(r, METHODS)} ${pick(r, PATHS)} HTTP/1.1\r\nHost: fuzz\r\n${r() < 0.3 ? 'Accept: application/json\r\n' : ''}\r\n`;
}

function mutate(r: () => number, s: Buffer): Buffer {
  const b = Buffer.from(s);
  const n = 1 + Math.floor(r() * 4);
  for (let i = 0; i < n; i++) b[Math.floor(r() * b.length)] = Math.floor(r() * 256);
  return b;
}

const CHUNKED_BODIES = [
  'zz\r\nabc\r\n0\r\n\r\n', // bad hex
  '5\r\nabc\r\n0\r\n\r\n', // size larger than data, then garbage
  'ffffffffffffffffff\r\nx\r\n', // overflowing size
  '-1\r\nx\r\n0\r\n\r\n',
  '3;ext=\x01\r\nabc\r\n0\r\n\r\n', // control char in extension
  '3\nabc\n0\n\n', // bare LF
  '3\r\nabcXX0\r\n\r\n', // missing CRLF after data
  '0\r\nTrailer: x\r\nBad Trailer\r\n\r\n',
  '3 \r\nabc\r\n0\r\n\r\n',
  '1\r\na\r\n'.repeat(50) + '0\r\n\r\n', // many chunks (valid)
];

export function makeCase(r: () => number): FuzzCase {
  const k = Math.floor(r() * 12);
  const one = (kind: string, text: string | Buffer, extra: Partial<FuzzCase> = {}): FuzzCase => ({ kind, parts: [Buffer.isBuffer(text) ? text : Buffer.from(text, 'latin1')], gapMs: 0, halfClose: false, ...extra });
  switch (k) {
    case 0: {
      const n = 1 + Math.floor(r() * 2000);
      const b = Buffer.alloc(n);
      for (let i = 0; i < n; i++) b[i] = Math.floor(r() * 256);
      return one('garbage', b);
    }
    case 1:
      return one('bad-request-line', mutate(r, Buffer.from(valid(r), 'latin1')));
    case 2: {
      const lines = [
        `GET / HTTP/9.9\r\nHost: x\r\n\r\n`,
        `GET  /  HTTP/1.1\r\n\r\n`,
        `GET /\r\n\r\n`,
        `G\x00T / HTTP/1.1\r\n\r\n`,
        `GET / HTTP/1.1\nHost: x\n\n`,
        `GET /${'a'.repeat(70_000)} HTTP/1.1\r\n\r\n`,
        `\r\n\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n`,
        `GET /\xff\xfe HTTP/1.1\r\nHost: x\r\n\r\n`,
        `PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n`,
        `GET / HTTP/1.1\r\nHost: x\r\n ob-fold\r\n\r\n`,
      ];
      return one('odd-request-line', pick(r, lines));
    }
    case 3: {
      const big = r() < 0.5;
      const h = big ? `X-Big: ${'b'.repeat(16_000 + Math.floor(r() * 50_000))}\r\n` : Array.from({ length: 500 + Math.floor(r() * 3000) }, (_, i) => `X-H${i}: v\r\n`).join('');
      return one(big ? 'oversize-header' : 'many-headers', `GET / HTTP/1.1\r\nHost: x\r\n${h}\r\n`);
    }
    case 4: {
      const path = r() < 0.5 ? '/health' : '/echo';
      const ctype = r() < 0.5 ? 'Content-Type: application/json\r\n' : '';
      return one('bad-chunking', `POST ${path} HTTP/1.1\r\nHost: x\r\n${ctype}Transfer-Encoding: chunked\r\n\r\n${pick(r, CHUNKED_BODIES)}`);
    }
    case 5: {
      const framing = [
        'Content-Length: 5\r\nContent-Length: 6\r\n',
        'Content-Length: 5\r\nTransfer-Encoding: chunked\r\n',
        'Transfer-Encoding: gzip, chunked\r\n',
        'Transfer-Encoding: chunked, identity\r\n',
        'Content-Length: -1\r\n',
        'Content-Length: 99999999999999999999\r\n',
        'Content-Length: 1e3\r\n',
        'Content-Length: 10\r\n', // body shorter than announced
      ];
      return one('bad-framing', `POST /health HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${pick(r, framing)}\r\n503`);
    }
    case 6: {
      const n = 2 + Math.floor(r() * 40);
      let s = '';
      const bad = Math.floor(r() * n);
      for (let i = 0; i < n; i++) s += i === bad && r() < 0.7 ? mutate(r, Buffer.from(valid(r), 'latin1')).toString('latin1') : valid(r);
      return one('pipelining-burst', s);
    }
    case 7:
      return one('half-closed', r() < 0.5 ? valid(r) : `POST /health HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 3\r\n\r\n50`, { halfClose: true });
    case 8: {
      const text = `GET /?wait=10ms HTTP/1.1\r\nHost: x\r\nX-Slow: ${'s'.repeat(20)}\r\n\r\n`;
      const parts: Buffer[] = [];
      for (let i = 0; i < text.length; i += 1 + Math.floor(r() * 8)) parts.push(Buffer.from(text.slice(i, i + 1 + Math.floor(r() * 8)), 'latin1'));
      // slowloris: a few bytes at a time; often never finished
      if (r() < 0.5) parts.length = Math.max(1, Math.floor(parts.length / 2));
      return { kind: 'slowloris', parts, gapMs: 5 + Math.floor(r() * 20), halfClose: false };
    }
    case 9:
      return one('secret-headers', `GET /api HTTP/1.1\r\nHost: x\r\nAuthorization: ${'Bearer '.slice(0, Math.floor(r() * 8))}${'t'.repeat(Math.floor(r() * 300))}\r\nCookie: ${';='.repeat(Math.floor(r() * 50))}\r\n\r\n`);
    case 10:
      return one('size-and-close', `GET /?size=${pick(r, ['1m', '16m', '10g', '-1', 'abc', '0x10', '1e9'])}&close=${r() < 0.5 ? 1 : 0} HTTP/1.1\r\nHost: x\r\n\r\n`, { halfClose: r() < 0.3 });
    default:
      return one('mutated-valid', mutate(r, Buffer.from(valid(r), 'latin1')));
  }
}

export interface CaseResult {
  kind: string;
  /** Status codes of the answers, in order. */
  statuses: number[];
  /** An answer without the identity header, or bytes that are not an HTTP/1.1 answer. */
  malformed: string | null;
  reset: boolean;
}

/** Runs one case; resolves when the server closed or nothing arrived for `quietMs` after the last write. */
export function runCase(host: string, port: number, c: FuzzCase, quietMs = 250): Promise<CaseResult> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    const chunks: Buffer[] = [];
    let reset = false;
    let quiet: NodeJS.Timeout | null = null;
    let writing = true;
    const hard = setTimeout(() => s.destroy(), 20_000);
    const arm = (): void => {
      if (writing) return;
      if (quiet) clearTimeout(quiet);
      quiet = setTimeout(() => s.destroy(), quietMs);
    };
    s.on('data', (d: Buffer) => {
      // Keep at most 64 KiB: enough for the status lines and headers that matter.
      if (chunks.reduce((n, b) => n + b.length, 0) < 65_536) chunks.push(d);
      arm();
    });
    s.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ECONNRESET' || e.code === 'EPIPE') reset = true;
    });
    s.on('close', () => {
      clearTimeout(hard);
      if (quiet) clearTimeout(quiet);
      resolve(judge(c.kind, Buffer.concat(chunks), reset));
    });
    s.on('connect', async () => {
      for (let i = 0; i < c.parts.length && !s.destroyed; i++) {
        if (i > 0 && c.gapMs > 0) await new Promise((r) => setTimeout(r, c.gapMs));
        s.write(c.parts[i]);
      }
      if (c.halfClose && !s.destroyed) s.end();
      writing = false;
      arm();
    });
  });
}

function judge(kind: string, out: Buffer, reset: boolean): CaseResult {
  const statuses: number[] = [];
  let malformed: string | null = null;
  const text = out.toString('latin1');
  let at = 0;
  while (at < text.length) {
    const end = text.indexOf('\r\n\r\n', at);
    if (end === -1) break; // cut off (destroyed mid-answer, or the 64 KiB cap)
    const head = text.slice(at, end);
    const m = /^HTTP\/1\.1 (\d{3}) [^\r\n]*\r\n/.exec(head);
    if (!m) {
      malformed = `not an HTTP/1.1 answer: ${JSON.stringify(head.slice(0, 80))}`;
      break;
    }
    if (!/\r\nX-Lbdiag-Backend: /i.test(head)) malformed = `answer ${m[1]} without X-Lbdiag-Backend`;
    statuses.push(Number(m[1]));
    const len = /\r\ncontent-length: (\d+)/i.exec(head);
    // An answer to HEAD (or 204/304) announces a length but has no body: the next answer follows at once.
    const bodyless = text.startsWith('HTTP/1.1 ', end + 4) || m[1] === '204' || m[1] === '304';
    at = end + 4 + (len && !bodyless ? Number(len[1]) : 0);
  }
  return { kind, statuses, malformed, reset };
}

export interface FuzzSummary {
  cases: number;
  byKind: Record<string, number>;
  answersByStatus: Record<string, number>;
  noAnswer: number;
  resets: number;
  malformed: string[];
  monitor: { ok: number; failed: number; maxMs: number };
}

/**
 * `count` cases, `parallel` at a time, against host:port; meanwhile a monitor sends `GET /` on a
 * new connection every 50 ms and counts answers.
 */
export async function fuzzWhoami(host: string, port: number, count: number, seed: number, parallel = 16): Promise<FuzzSummary> {
  const r = rng(seed);
  const sum: FuzzSummary = { cases: 0, byKind: {}, answersByStatus: {}, noAnswer: 0, resets: 0, malformed: [], monitor: { ok: 0, failed: 0, maxMs: 0 } };
  let stop = false;
  const monitor = (async () => {
    while (!stop) {
      const t0 = performance.now();
      const ok = await new Promise<boolean>((resolve) => {
        const s = net.connect({ host, port }, () => s.write('GET / HTTP/1.1\r\nHost: monitor\r\nConnection: close\r\n\r\n'));
        let got = '';
        s.setEncoding('latin1').on('data', (d: string) => (got += d));
        s.setTimeout(5000, () => s.destroy());
        s.on('error', () => {});
        s.on('close', () => resolve(/^HTTP\/1\.1 200 /.test(got)));
      });
      if (ok) sum.monitor.ok++;
      else sum.monitor.failed++;
      sum.monitor.maxMs = Math.max(sum.monitor.maxMs, performance.now() - t0);
      await new Promise((res) => setTimeout(res, 50));
    }
  })();
  let next = 0;
  const cases: FuzzCase[] = [];
  for (let i = 0; i < count; i++) cases.push(makeCase(r));
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      while (next < cases.length) {
        const c = cases[next++];
        // Slowloris waits for the headers timeout's 408 (whoami runs with --headers-timeout 1s).
        const res = await runCase(host, port, c, c.kind === 'slowloris' ? 1500 : 250);
        sum.cases++;
        sum.byKind[res.kind] = (sum.byKind[res.kind] ?? 0) + 1;
        for (const st of res.statuses) sum.answersByStatus[st] = (sum.answersByStatus[st] ?? 0) + 1;
        if (res.statuses.length === 0) sum.noAnswer++;
        if (res.reset) sum.resets++;
        if (res.malformed && sum.malformed.length < 20) sum.malformed.push(`${res.kind}: ${res.malformed}`);
      }
    }),
  );
  stop = true;
  await monitor;
  return sum;
}
