/**
 * `--workers auto`: how many cores this process may use. `os.availableParallelism()` counts the
 * CPUs it may run on (its affinity mask) but, with the libuv of Node 20, not a cgroup CPU quota:
 * in a container limited to 2 CPUs on a 16-core node it says 16, and 16 threads would then share
 * 2 CPUs' worth of time slices (throttled, each with half the connections of a busy one). So the
 * quota, when there is one (cgroup v2 `cpu.max`, v1 `cpu.cfs_quota_us` / `cpu.cfs_period_us`, on
 * this process's cgroup and its parents), caps the count, rounded up (1.5 CPUs: 2 threads).
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';

/** Reads a file's text, undefined when it cannot be read (absent controller, no cgroup fs). */
export type ReadText = (file: string) => string | undefined;

const readText: ReadText = (file) => {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
};

/** The directories from `dir` up to the mount root `root` (both included), innermost first. */
function upTo(root: string, rel: string): string[] {
  const parts = rel.split('/').filter(Boolean);
  const out: string[] = [];
  for (let i = parts.length; i >= 0; i--) out.push([root, ...parts.slice(0, i)].join('/'));
  return out;
}

/** The tightest CPU quota (in CPUs) on this process's cgroup or its parents; undefined when unlimited or unknown. */
export function cgroupCpuLimit(read: ReadText = readText): number | undefined {
  const self = read('/proc/self/cgroup') ?? '';
  let limit: number | undefined;
  const tighter = (cpus: number): void => {
    if (Number.isFinite(cpus) && cpus > 0 && (limit === undefined || cpus < limit)) limit = cpus;
  };
  // cgroup v2: "0::/path"; cpu.max is "max 100000" (no limit) or "<quota> <period>".
  const v2 = /^0::(\S*)$/m.exec(self);
  if (v2) {
    for (const dir of upTo('/sys/fs/cgroup', v2[1])) {
      const m = /^(\d+)\s+(\d+)\s*$/.exec(read(`${dir}/cpu.max`) ?? '');
      if (m) tighter(Number(m[1]) / Number(m[2]));
    }
  }
  // cgroup v1: "N:cpu,cpuacct:/path" (or "cpu" alone); a quota of -1 means none. In a container the
  // path may not exist under the mount (its own cgroup is the mount root): the root is read too.
  const v1 = /^\d+:([^:]*\bcpu\b[^:]*):(\S*)$/m.exec(self);
  if (v1) {
    for (const mount of [`/sys/fs/cgroup/${v1[1]}`, '/sys/fs/cgroup/cpu', '/sys/fs/cgroup/cpu,cpuacct']) {
      for (const dir of upTo(mount, v1[2])) {
        const quota = Number((read(`${dir}/cpu.cfs_quota_us`) ?? '').trim());
        const period = Number((read(`${dir}/cpu.cfs_period_us`) ?? '').trim());
        if (quota > 0 && period > 0) tighter(quota / period);
      }
    }
  }
  return limit;
}

/** Cores for `--workers auto`: the CPUs this process may run on, capped by its cgroup CPU quota (rounded up). */
export function availableCores(parallelism = os.availableParallelism(), read: ReadText = readText): number {
  const limit = cgroupCpuLimit(read);
  return Math.max(1, limit === undefined ? parallelism : Math.min(parallelism, Math.ceil(limit - 1e-9)));
}
