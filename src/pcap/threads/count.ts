/**
 * How many threads `lbdiag pcap` uses: `--threads N` as given; `--threads auto`: the available
 * cores (os.availableParallelism()), but one for small inputs, where starting a worker thread (about
 * 30-50 ms) costs more than it saves. Without the option: one. Measured on the 1 M-packet bench
 * capture (docs/pcap.md, Threads), the HTTP worker's own cost (replaying the copies, a second set of
 * connection objects) makes two threads no faster than one even with a core free, and slower on a
 * busy machine, so two threads are opt-in until that cost is down. Today at most two are used.
 */
import fs from 'node:fs';
import os from 'node:os';
import { UsageError } from '../../core/errors.js';

/** Regular files smaller than this in total are analysed in one thread unless --threads says otherwise. */
export const SMALL_INPUT_BYTES = 16 * 1024 * 1024;

export function parseThreads(v: string | undefined, paths: string[]): number {
  if (v === undefined) return 1;
  if (v === 'auto') return autoThreads(paths);
  if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > 1024) throw new UsageError(`--threads must be auto or a whole number from 1 to 1024, not '${v}'`);
  return Number(v);
}

export function autoThreads(paths: string[]): number {
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
