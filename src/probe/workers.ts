/**
 * `probe --workers N` (as autocannon -w): each mode runs in N worker threads, each with its share of
 * `-c` connections and of `-n`/`--rate`, all for the same `--duration`; their tallies are merged into
 * one report (src/probe/workers-merge.ts), then analysed once, as one thread's would be.
 *
 * What keeps the verdicts those of one thread:
 * - connection numbers and dispatch orders come from counters shared by every worker (Atomics on a
 *   SharedArrayBuffer): the order is the order requests were sent over the whole run, which the
 *   keep-alive pinning test (strict round robin check) and the 1-in-N failure pattern rely on;
 * - keep-alive and rotate give each worker at least two connections (one request fewer in flight than
 *   connections, each sent on one drawn at random: no lockstep inside a worker); with fewer than
 *   four connections the mode runs in one worker;
 * - all workers share the run's clock, the target's resolved addresses and the timeline's origin.
 * Ctrl-C asks every worker for what it has; a worker that crashes is reported in one line (exit 2)
 * and the others' results are still merged and printed.
 */
import { Worker } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { UsageError } from '../core/errors.js';
import { availableCores } from './cores.js';
import type { ProbeMode } from './record.js';
import { DEFAULT_CONCURRENCY, DEFAULT_REQUESTS, runProbe, type ProbeHooks, type ProbeOptions } from './run.js';
import type { ProbeReport } from './summary.js';
import type { ModeTally } from './tally.js';
import { mergeTallies } from './workers-merge.js';
import type { FromWorker, ToWorker } from './workers-protocol.js';
import type { WorkerModeFacts, WorkersModeIo, WorkersModeResult } from './workers-types.js';

export const MAX_WORKERS = 64;

/**
 * `--workers`: a count, or `auto`: the cores this process may use (src/probe/cores.ts: its CPUs,
 * capped by a container's CPU quota). On a client machine separate from the balancer, as in real
 * use, that is one thread per core. When the server under test runs on the same cores (a lab on
 * one machine, the bench), the workers share them with it; the count is still the cores: the probe
 * cannot tell how many threads the server needs, and on 2 cores shared with one nginx worker
 * process, 2 workers still did 1.21x one thread's rate (docs/benchmarks.md).
 */
export function parseWorkers(text: string): number {
  const t = text.trim().toLowerCase();
  if (t === 'auto') return Math.max(1, Math.min(MAX_WORKERS, availableCores()));
  const n = Number(t);
  if (!/^\d+$/.test(t) || !Number.isInteger(n) || n < 1 || n > MAX_WORKERS) throw new UsageError(`invalid --workers "${text}" (a count from 1 to ${MAX_WORKERS}, or auto for the available cores)`);
  return n;
}

/** Splits `total` over weights by largest remainder (exact sum). */
function split(total: number, weights: number[]): number[] {
  const sum = weights.reduce((a, b) => a + b, 0);
  const raw = weights.map((w) => (total * w) / sum);
  const out = raw.map(Math.floor);
  let left = total - out.reduce((a, b) => a + b, 0);
  const order = raw.map((r, i) => [r - Math.floor(r), i] as const).sort((a, b) => b[0] - a[0]);
  for (const [, i] of order) {
    if (left-- <= 0) break;
    out[i]++;
  }
  return out;
}

/** Each worker's options for one mode: its connections, requests and rate. Fewer workers than asked when -c (or -n) is too small to share. */
export function shareOptions(o: ProbeOptions, mode: ProbeMode, workers: number): ProbeOptions[] {
  const c = o.concurrency ?? DEFAULT_CONCURRENCY;
  const pooled = mode !== 'short';
  let n = pooled ? Math.max(1, Math.min(workers, Math.floor(c / 2))) : Math.min(workers, c);
  const requests = o.durationMs === undefined ? (o.requests ?? DEFAULT_REQUESTS) : o.requests;
  if (requests !== undefined) n = Math.max(1, Math.min(n, requests));
  const conns = split(c, new Array<number>(n).fill(1));
  const lanes = conns.map((ci) => (pooled && ci > 1 ? ci - 1 : ci));
  const reqs = requests !== undefined ? split(requests, lanes) : undefined;
  const laneSum = lanes.reduce((a, b) => a + b, 0);
  return conns.map((ci, i) => ({
    ...o,
    mode,
    concurrency: ci,
    requests: reqs?.[i],
    rate: o.rate !== undefined ? (o.rate * lanes[i]) / laneSum : undefined,
    // Paced modes: worker i's lanes start i/n of a lane step later, so the workers' requests interleave evenly instead of in bursts of n.
    pacePhase: n > 1 && (o.rate !== undefined || o.intervalMs !== undefined) ? i / n : undefined,
    records: undefined,
  }));
}

interface Slot {
  worker: Worker;
  index: number;
  exited: boolean;
  /** Resolves when the thread has loaded (or is gone). */
  ready: Promise<void>;
  /** The mode it is running: called with each of its messages. */
  listener?: (m: FromWorker) => void;
  onGone?: (why: string) => void;
}

export async function runProbeWorkers(options: ProbeOptions, workers: number, hooks: ProbeHooks = {}): Promise<ProbeReport> {
  if (workers <= 1) return runProbe(options, hooks);
  // The HTTP/2 engine (h2-engine.ts) does not draw connection numbers and dispatch orders from shared counters yet.
  if (options.http2 || options.grpc) throw new UsageError('--workers works with HTTP/1.1 only for now: drop --workers, or --http2/--grpc');
  const ids = new SharedArrayBuffer(8);
  const counters = new Int32Array(ids);
  counters[0] = 1;
  const stop = new AbortController();
  const onOuter = (): void => stop.abort();
  if (hooks.signal?.aborted) stop.abort();
  hooks.signal?.addEventListener('abort', onOuter);
  let crash: string | undefined;
  const slots: Slot[] = [];
  const spawnAhead = Math.min(workers, options.concurrency ?? DEFAULT_CONCURRENCY);
  const spawn = (index: number): Slot => {
    const worker = new Worker(new URL('./workers-thread.js', import.meta.url), { workerData: { ids, index } });
    let markReady = (): void => {};
    const slot: Slot = { worker, index, exited: false, ready: new Promise<void>((r) => (markReady = r)) };
    worker.on('message', (m: FromWorker) => (m.type === 'ready' ? markReady() : slot.listener?.(m)));
    worker.once('exit', () => markReady());
    worker.on('error', (e) => slot.onGone?.(`worker ${index + 1} of ${workers} crashed: ${e.message}`));
    worker.on('exit', (code) => {
      slot.exited = true;
      slot.onGone?.(`worker ${index + 1} of ${workers} exited (code ${code})`);
    });
    return slot;
  };

  const runMode = async (mode: ProbeMode, tally: ModeTally, io: WorkersModeIo): Promise<WorkersModeResult> => {
    const shares = shareOptions(options, mode, workers);
    while (slots.length < shares.length) slots.push(spawn(slots.length));
    // The mode starts when its threads are loaded: thread start-up is neither in the timeline nor in the rate.
    await Promise.all(slots.slice(0, shares.length).map((s) => s.ready));
    tally.startT = performance.now() - io.t0;
    Atomics.store(counters, 1, 0); // dispatch orders are per mode, from 0
    const progress = shares.map(() => ({ done: 0, errors: 0, backends: 0 }));
    const t0 = performance.now();
    const total = options.durationMs === undefined ? (options.requests ?? DEFAULT_REQUESTS) : options.requests;
    let lastProgress = 0;
    const results = await Promise.all(
      shares.map(
        (share, i) =>
          new Promise<{ tally: ModeTally; facts: WorkerModeFacts } | undefined>((resolve) => {
            const slot = slots[i];
            const abort = (): void => slot.worker.postMessage({ type: 'abort' } satisfies ToWorker);
            const finish = (r: { tally: ModeTally; facts: WorkerModeFacts } | undefined): void => {
              slot.listener = undefined;
              slot.onGone = undefined;
              stop.signal.removeEventListener('abort', abort);
              resolve(r);
            };
            slot.onGone = (why) => {
              crash ??= why;
              stop.abort();
              finish(undefined);
            };
            slot.listener = (m) => {
              if (m.type === 'records') io.write(m.ndjson);
              else if (m.type === 'progress') {
                progress[i] = m;
                const now = performance.now();
                if (hooks.onProgress && now - lastProgress > 100) {
                  lastProgress = now;
                  const done = progress.reduce((s, p) => s + p.done, 0);
                  const elapsed = now - t0;
                  hooks.onProgress({ mode, done, total, elapsedMs: elapsed, durationMs: options.durationMs, rate: elapsed > 0 ? (done * 1000) / elapsed : 0, errors: progress.reduce((s, p) => s + p.errors, 0), backends: Math.max(...progress.map((p) => p.backends)) });
                }
              } else if (m.type === 'done') finish(m);
              else if (m.type === 'crash') slot.onGone?.(`worker ${i + 1} of ${workers} failed: ${m.message}`);
            };
            if (slot.exited) return slot.onGone(`worker ${i + 1} of ${workers} is gone`);
            stop.signal.addEventListener('abort', abort);
            const msg: ToWorker = { type: 'mode', mode, options: share, originEpoch: performance.timeOrigin + io.t0, startT: tally.startT, timelineBucketMs: tally.timeline.bucketMs, resolved: io.resolved, records: io.recording, sentAt: performance.timeOrigin + performance.now() };
            slot.worker.postMessage(msg);
            if (stop.signal.aborted) abort();
          }),
      ),
    );
    const got = results.filter((r): r is { tally: ModeTally; facts: WorkerModeFacts } => r !== undefined);
    mergeTallies(tally, got.map((r) => r.tally));
    const facts = got.map((r) => r.facts);
    const now = performance.now();
    return {
      connections: facts.reduce((s, f) => s + f.connections, 0),
      nextConnId: Atomics.load(counters, 0),
      startedAt: facts.length ? Math.min(...facts.map((f) => f.startT)) + io.t0 : now,
      endedAt: facts.length ? Math.max(...facts.map((f) => f.endT)) + io.t0 : now,
      aborted: stop.signal.aborted,
      inFlightAborted: facts.reduce((s, f) => s + f.inFlightAborted, 0),
      connected: facts.some((f) => f.connected),
      unreachable: facts.find((f) => f.unreachable !== undefined)?.unreachable,
    };
  };

  try {
    // Threads load while the target resolves.
    while (slots.length < spawnAhead) slots.push(spawn(slots.length));
    const report = await runProbe(options, { onProgress: hooks.onProgress, signal: stop.signal, runMode });
    (report.config as Record<string, unknown>).workers = workers;
    if (crash !== undefined) {
      // Not an interrupt: the run stopped because a worker failed; what the others gathered is reported.
      report.interrupted = Boolean(hooks.signal?.aborted);
      report.inputErrors = [...(report.inputErrors ?? []), `${crash}; the report covers what the other workers gathered until then`];
    }
    return report;
  } finally {
    hooks.signal?.removeEventListener('abort', onOuter);
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }
}
