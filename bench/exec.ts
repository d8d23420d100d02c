/**
 * Runs a program to completion, bounded in time, optionally pinned to a CPU, and measures its
 * peak RSS and CPU time with GNU time (exact, from wait4) or by sampling /proc when GNU time is absent.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { start } from '../test/support/processes.js';
import { PeakSampler } from './memory.js';
import { onCpu } from './host.js';

export interface Completed {
  code: number | string;
  stdout: string;
  stderr: string;
  wallS: number;
  /** Peak resident set size in kB. */
  maxRssKb?: number;
  userS?: number;
  sysS?: number;
  timedOut: boolean;
}

export interface ExecOptions {
  cpu?: string;
  timeoutMs: number;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

const GNU_TIME = '/usr/bin/time';
const hasGnuTime = existsSync(GNU_TIME);

export async function execMeasured(cmd: string, args: string[], opts: ExecOptions): Promise<Completed> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lbdiag-bench-'));
  const timeFile = path.join(dir, 'time');
  const [c0, a0] = hasGnuTime ? [GNU_TIME, ['-o', timeFile, '-f', '%M %U %S', cmd, ...args]] : [cmd, args];
  const [c, a] = onCpu(opts.cpu, c0, a0);
  const t0 = process.hrtime.bigint();
  const p = start(c, a, { cwd: opts.cwd, env: opts.env ?? process.env });
  const sampler = hasGnuTime ? undefined : new PeakSampler(p.pid);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    void p.stop('SIGINT', 3000);
  }, opts.timeoutMs);
  const code = await p.exited;
  clearTimeout(timer);
  const wallS = Number(process.hrtime.bigint() - t0) / 1e9;
  const result: Completed = { code, stdout: p.stdout(), stderr: p.stderr(), wallS, timedOut };
  if (sampler) result.maxRssKb = sampler.stop();
  else {
    try {
      // GNU time writes "Command exited with non-zero status N" before the format line when the code is not 0.
      const line = readFileSync(timeFile, 'utf8').trim().split('\n').pop() ?? '';
      const [m, u, s] = line.split(/\s+/).map(Number);
      if (Number.isFinite(m)) result.maxRssKb = m;
      if (Number.isFinite(u)) result.userS = u;
      if (Number.isFinite(s)) result.sysS = s;
    } catch { /* killed before time wrote its line */ }
  }
  rmSync(dir, { recursive: true, force: true });
  return result;
}
