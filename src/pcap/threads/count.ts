/**
 * How many threads `lbdiag pcap` uses: `--threads N` as given, else the available cores
 * (os.availableParallelism()), but one for small inputs, where starting a worker thread (about
 * 30-50 ms) costs more than it saves. Today at most two are used (TCP, HTTP: threads/http-thread.ts).
 */
import fs from 'node:fs';
import os from 'node:os';
import { UsageError } from '../../core/errors.js';

/** Regular files smaller than this in total are analysed in one thread unless --threads says otherwise. */
export const SMALL_INPUT_BYTES = 16 * 1024 * 1024;

export function parseThreads(v: string | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 1024) throw new UsageError(`--threads must be a whole number from 1 to 1024, not '${v}'`);
  return Number(v);
}

export function defaultThreads(paths: string[]): number {
  let total = 0;
  for (const p of paths) {
    if (p === '-') return os.availableParallelism();
    try {
      const st = fs.statSync(p);
      if (!st.isFile()) return os.availableParallelism();
      total += st.size;
    } catch {
      // Unreadable: analyse() says why.
    }
  }
  return total < SMALL_INPUT_BYTES ? 1 : os.availableParallelism();
}
