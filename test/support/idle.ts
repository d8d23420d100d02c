/**
 * Waits until a child process is idle (no CPU time used for `quietMs`, and none of its threads
 * runnable or in disk wait at any sample, from /proc/<pid>/task/<tid>/stat): a command blocked on
 * an empty stdin has finished starting up and installed its Ctrl-C handler. On a loaded machine
 * Node's start-up alone can take seconds, so a fixed sleep before a signal would kill the process
 * before lbdiag runs; and a process waiting for a CPU uses none either, which is why the thread
 * states count too (without them a busy machine made start-up look idle). Linux only; elsewhere
 * it waits `quietMs`.
 */
import fs from 'node:fs';

function cpuTicks(pid: number): number | null {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]); // utime + stime (fields 14 and 15)
  } catch {
    return null;
  }
}

/** True when a thread of `pid` is running, waiting for a CPU (R) or in uninterruptible disk wait (D). */
function anyThreadBusy(pid: number): boolean {
  try {
    for (const tid of fs.readdirSync(`/proc/${pid}/task`)) {
      const stat = fs.readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const state = stat[stat.lastIndexOf(')') + 2];
      if (state === 'R' || state === 'D') return true;
    }
  } catch {
    // The process or a thread ended between the listing and the read.
  }
  return false;
}

export async function untilIdle(pid: number, quietMs = 400, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = cpuTicks(pid);
  let quietSince = Date.now();
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    const now = cpuTicks(pid);
    if (now === null) return;
    if (now !== last || anyThreadBusy(pid)) {
      last = now;
      quietSince = Date.now();
    } else if (Date.now() - quietSince >= quietMs) return;
  }
}

/** Resolves once `pid` has a child process (e.g. the lab started haproxy), or after `timeoutMs`. */
export async function untilHasChild(pid: number, timeoutMs = 20_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if (fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim()) return true;
    } catch {
      return false;
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}
