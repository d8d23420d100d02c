/**
 * `probe --workers`: one worker thread. It runs one mode at a time when the main thread
 * (src/probe/workers.ts) asks, through `runProbe` itself (so every option behaves as in one thread),
 * with its share of the connections and requests, connection numbers and dispatch orders drawn from
 * counters shared with the other workers, and the run's clock. It answers with its mode tally
 * (structured clone: maps, sets and histogram counters travel as they are) and the engine's facts.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { UsageError } from '../core/errors.js';
import { runProbe } from './run.js';
import type { ModeTally } from './tally.js';
import type { ToWorker, FromWorker } from './workers-protocol.js';
import type { WorkerModeFacts } from './workers-types.js';

const port = parentPort!;
const ids = new Int32Array(workerData.ids as SharedArrayBuffer);
const index = workerData.index as number;
/** Fault injection for the tests only: LBDIAG_TEST_WORKER_CRASH=<worker index>:<requests> crashes that worker (an uncaught exception) once it has answered that many. */
const crashAt = (() => {
  const m = /^(\d+):(\d+)$/.exec(process.env.LBDIAG_TEST_WORKER_CRASH ?? '');
  return m && Number(m[1]) === index ? Number(m[2]) : undefined;
})();
let current: AbortController | undefined;

const post = (m: FromWorker): void => port.postMessage(m);

port.on('message', (msg: ToWorker) => {
  if (msg.type === 'abort') {
    current?.abort();
    return;
  }
  const controller = new AbortController();
  current = controller;
  let result: { tally: ModeTally; facts: WorkerModeFacts } | undefined;
  // -d is one deadline for the whole mode: a worker whose message waited (a busy machine) runs that much less.
  const late = Math.max(0, performance.timeOrigin + performance.now() - msg.sentAt);
  const durationMs = msg.options.durationMs !== undefined ? Math.max(1, msg.options.durationMs - late) : undefined;
  runProbe(
    { ...msg.options, mode: msg.mode, records: undefined, durationMs },
    {
      signal: controller.signal,
      onProgress: (p) => {
        post({ type: 'progress', done: p.done, errors: p.errors, backends: p.backends });
        if (crashAt !== undefined && p.done >= crashAt) setImmediate(() => {
          throw new Error(`injected crash of worker ${index} (LBDIAG_TEST_WORKER_CRASH)`);
        });
      },
      inWorker: {
        ids: { conn: () => Atomics.add(ids, 0, 1), order: () => Atomics.add(ids, 1, 1) },
        t0: msg.originEpoch - performance.timeOrigin,
        startT: msg.startT,
        timelineBucketMs: msg.timelineBucketMs,
        resolved: msg.resolved,
        records: msg.records ? (ndjson) => post({ type: 'records', ndjson }) : undefined,
        onMode: (tally, facts) => {
          result = { tally, facts };
        },
      },
    },
  ).then(
    () => done(),
    (e: unknown) => {
      // Unreachable target: runProbe throws after the tally is handed over; the main thread decides for the whole run.
      if (e instanceof UsageError && result) done();
      else post({ type: 'crash', message: (e as Error).message ?? String(e) });
    },
  );
  const done = (): void => {
    if (current === controller) current = undefined;
    if (!result) post({ type: 'crash', message: 'the mode ended without a tally' });
    else post({ type: 'done', tally: result.tally, facts: result.facts });
  };
});

post({ type: 'ready' });
