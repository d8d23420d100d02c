/**
 * A small process supervisor for the lab: spawn a child in its own process group, keep the tail
 * of its stdout and stderr for error messages, stop it by pid (SIGTERM to the group, then SIGKILL
 * after a grace period), and register it with the exit registry (exit-registry.ts) so it never
 * outlives the lab.
 *
 * Children run in their own process group (`detached`) so a stop reaches the whole group (nginx's
 * master and its workers) and a terminal Ctrl-C does not kill them behind the lab's back: the lab
 * decides when they stop. Never kills by name.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { track } from './exit-registry.js';

const TAIL_BYTES = 64 * 1024;

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface SpawnedProcess {
  /** A short label for messages ("haproxy", "nginx", "whoami b1"). */
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** The last 64 KiB of stdout / stderr. */
  stdout(): string;
  stderr(): string;
  running(): boolean;
  readonly exited: Promise<ExitStatus>;
  /** SIGTERM to its process group, SIGKILL after `graceMs` (default: the spawn option, 3000). */
  stop(graceMs?: number): Promise<ExitStatus>;
}

export interface SpawnOptions {
  name?: string;
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  graceMs?: number;
  /** Register with the exit-time registry (default true). */
  track?: boolean;
}

export function spawnProcess(command: string, args: string[], opts: SpawnOptions = {}): SpawnedProcess {
  const name = opts.name ?? path.basename(command);
  const child = spawn(command, args, {
    cwd: opts.cwd,
    env: opts.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  let out = '';
  let err = '';
  const keep = (s: string, d: string): string => {
    const n = s + d;
    return n.length > TAIL_BYTES ? n.slice(n.length - TAIL_BYTES) : n;
  };
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (out = keep(out, d)));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (err = keep(err, d)));
  let done = false;
  const exited = new Promise<ExitStatus>((resolve) => {
    child.once('exit', (code, signal) => {
      done = true;
      resolve({ code, signal });
    });
    child.once('error', (e) => {
      done = true;
      err = keep(err, `${e.message}\n`);
      resolve({ code: -1, signal: null });
    });
  });
  const pid = child.pid ?? -1;
  const graceDefault = opts.graceMs ?? 3000;
  let untrack = (): void => {};
  const stop = async (graceMs = graceDefault): Promise<ExitStatus> => {
    if (!done && pid > 0) {
      signalGroup(pid, 'SIGTERM');
      const timer = setTimeout(() => signalGroup(pid, 'SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    }
    // The leader is gone; make sure no member of its group (nginx workers) outlives it.
    if (pid > 0) signalGroup(pid, 'SIGKILL');
    untrack();
    return exited;
  };
  const proc: SpawnedProcess = {
    name,
    pid,
    child,
    stdout: () => out,
    stderr: () => err,
    running: () => !done,
    exited,
    stop,
  };
  if (opts.track !== false && pid > 0) {
    untrack = track({
      name: `${name} (pid ${pid})`,
      stop: async () => void (await stop()),
      stopSync: () => signalGroup(pid, 'SIGKILL'),
    });
    void exited.then(() => {
      // Leader exited on its own: drop it from the registry only once no group member is left.
      if (!groupAlive(pid)) untrack();
    });
  }
  return proc;
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      /* gone */
    }
  }
}

function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch {
    return false;
  }
}

/** True when a process with this pid exists (and is not a zombie we could reap). */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    return state !== 'Z' && state !== 'X';
  } catch {
    return true; // no /proc: kill(0) said it exists
  }
}
