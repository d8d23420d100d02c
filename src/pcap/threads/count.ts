/**
 * How many threads `lbdiag pcap` uses: `--threads N` as given; `--threads auto`, the default: the
 * available cores (os.availableParallelism()), but one for regular files under SMALL_INPUT_BYTES in
 * total, where starting the worker thread costs more than it saves. Today at most two are used.
 *
 * The break-even: a second thread saves about the TCP side's time (the HTTP worker is the slower
 * of the two), 5-7 ms of CPU per MiB of the bench capture, and costs the worker's start (its
 * modules, a second heap: 60 ms of CPU on an idle machine, about 200 ms at load 15 on 2 cores),
 * so it pays from about 10 MiB (idle) to 30 MiB (busy): 16 MiB is between the two.
 */
import fs from 'node:fs';
import os from 'node:os';
import { UsageError } from '../../core/errors.js';

/** Regular files smaller than this in total are analysed in one thread unless --threads says otherwise. */
export const SMALL_INPUT_BYTES = 16 * 1024 * 1024;

export function parseThreads(v: string | undefined, paths: string[]): number {
  if (v === undefined || v === 'auto') return autoThreads(paths);
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
