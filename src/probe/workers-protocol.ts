/** `probe --workers`: the messages between the main thread and a worker thread. */
import type { ProbeMode } from './record.js';
import type { ProbeOptions } from './run.js';
import type { ModeTally } from './tally.js';
import type { WorkerModeFacts } from './workers-types.js';

export type ToWorker =
  | {
      type: 'mode';
      mode: ProbeMode;
      /** This worker's share: concurrency, requests and rate already divided. */
      options: ProbeOptions;
      /** The run's origin, as epoch ms (performance.timeOrigin + t0 of the main thread). */
      originEpoch: number;
      startT: number;
      timelineBucketMs: number;
      resolved: string[];
      records: boolean;
      /** When the main thread sent it (epoch ms): a worker that gets it late shortens its --duration by as much, so every worker ends at the mode's deadline. */
      sentAt: number;
    }
  | { type: 'abort' };

export type FromWorker =
  | { type: 'ready' }
  | { type: 'progress'; done: number; errors: number; backends: number }
  | { type: 'records'; ndjson: string }
  | { type: 'done'; tally: ModeTally; facts: WorkerModeFacts }
  | { type: 'crash'; message: string };
