/** What every section gets: the settings of this run, the pinning, where to record, how to log. */
import type { Pinning } from './host.js';
import type { Results } from './results.js';

export interface Settings {
  sections: string[];
  durationS: number;
  warmupS: number;
  concurrency: number;
  rounds: number;
  /** Requests for the memory runs (whoami RSS, probe RSS). */
  requests: number;
  /** Packets in the 1× capture. */
  packets: number;
  /** Size factor of the big capture for the flat-memory check. */
  scale: number;
  /** Seconds of silence between the copies of the big capture (0: back to back, same traffic rate). */
  copyGapS: number;
  freshCapture: boolean;
  workDir: string;
  /**
   * `--smoke` (test/bench-smoke.test.ts): every code path of the sections, once, with the fewest
   * tools and the shortest runs; its figures say the bench works, not how fast anything is.
   */
  smoke: boolean;
}

export interface Ctx {
  settings: Settings;
  pinning: Pinning;
  results: Results;
  log(msg: string): void;
  skip(what: string, reason: string): void;
}

/** Best of the rounds: on a shared machine other load only ever slows a run down. */
export function best<T extends { rps: number }>(runs: T[]): T | undefined {
  return runs.reduce<T | undefined>((a, b) => (a === undefined || b.rps > a.rps ? b : a), undefined);
}

/** Best requests per CPU-second over the rounds (taken separately from the best req/s). */
export function bestPerCpu(runs: { perCpuS?: number }[]): number | undefined {
  const v = runs.map((r) => r.perCpuS).filter((x): x is number => x !== undefined);
  return v.length ? Math.max(...v) : undefined;
}
