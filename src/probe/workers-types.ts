/**
 * `probe --workers`: what the main thread (src/probe/workers.ts), the worker threads
 * (src/probe/workers-thread.ts) and `runProbe` (src/probe/run.ts) exchange.
 */
import type { EngineResult } from './engine.js';
import type { ProbeMode } from './record.js';
import type { ModeTally } from './tally.js';

/** What a worker thread gives `runProbe` so its records and tallies fit the whole run. */
export interface WorkerSide {
  /** Connection numbers and dispatch orders from counters shared by every worker (Atomics on a SharedArrayBuffer). */
  ids: { conn(): number; order(): number };
  /** The run's origin on this thread's `performance.now()` clock: every worker's `t` is on the same clock. */
  t0: number;
  /** The mode's start (ms from t0), the same in every worker: their timelines share their origin. */
  startT: number;
  /** The main thread's timeline bucket for this mode (computed from the whole run's plan, not the share). */
  timelineBucketMs: number;
  /** The addresses the main thread resolved the target to (every worker uses the same ones). */
  resolved: string[];
  /** NDJSON record lines, in chunks of whole lines, for the main thread to write (`--records`). */
  records?: (ndjson: string) => void;
  /** The mode's tally and engine facts, after the mode ran and before the unreachable check. */
  onMode(tally: ModeTally, facts: WorkerModeFacts): void;
}

export interface WorkerModeFacts {
  /** Engine start and end, ms from t0 (the shared clock). */
  startT: number;
  endT: number;
  connections: number;
  inFlightAborted: number;
  /** A connection of this worker got an answer (or at least a byte). */
  connected: boolean;
  /** Why this worker's target looked unreachable, when nothing ever connected. */
  unreachable?: string;
}

/** The result of one mode run over all workers, in the main thread (the engine's result plus what `runProbe` checks). */
export interface WorkersModeResult extends EngineResult {
  connected: boolean;
  unreachable?: string;
}

/** What `runProbe` hands the main-thread mode runner. */
export interface WorkersModeIo {
  /** `--records` was given: the workers send their NDJSON lines, `write` takes them. */
  recording: boolean;
  write(ndjson: string): void;
  /** The run's origin on the main thread's `performance.now()` clock. */
  t0: number;
  /** Every address the target resolved to (each worker then applies `--resolve` as one thread does). */
  resolved: string[];
}

/** Runs `mode` in the workers and merges their tallies into `tally`. */
export type WorkersModeRun = (mode: ProbeMode, tally: ModeTally, io: WorkersModeIo) => Promise<WorkersModeResult>;
