/**
 * Memory of child processes. Servers: read /proc/<pid>/status (VmHWM is the kernel's peak RSS,
 * VmRSS the current one) while they are still alive. Programs that run to completion: GNU time's
 * maximum resident set size (wait4 rusage, exact), or VmHWM sampling when /usr/bin/time is absent.
 */
import { readFileSync } from 'node:fs';

export function statusKb(pid: number, field: 'VmHWM' | 'VmRSS'): number | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Samples VmHWM of a pid until stopped; keeps the highest value seen. */
export class PeakSampler {
  private peak = 0;
  private timer: NodeJS.Timeout;
  constructor(private readonly pid: number, everyMs = 50) {
    this.timer = setInterval(() => this.sample(), everyMs);
    this.timer.unref();
  }
  sample(): void {
    const kb = statusKb(this.pid, 'VmHWM');
    if (kb !== undefined && kb > this.peak) this.peak = kb;
  }
  stop(): number | undefined {
    this.sample();
    clearInterval(this.timer);
    return this.peak || undefined;
  }
}

export const mib = (kb: number | undefined): number | undefined => (kb === undefined ? undefined : Number((kb / 1024).toFixed(1)));

/** CPU time (user + system, seconds) a live process has used so far, from /proc/<pid>/stat. */
export function cpuSeconds(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[11] = utime, fields[12] = stime (fields 14 and 15 of stat(5)), in clock ticks (100/s on Linux).
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return undefined;
  }
}
