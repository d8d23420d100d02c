/**
 * Real processes for integration tests: start, wait until they listen, stop them by pid.
 * Everything started here is registered and killed (by pid, never by name) when the test
 * process exits, so a failing test leaves nothing behind.
 */
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process';
import net from 'node:net';
import path from 'node:path';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const LBDIAG = path.join(ROOT, 'bin', 'lbdiag.js');

const started = new Set<ChildProcess>();
function killStarted(): void {
  for (const child of started) if (child.exitCode === null && child.pid) try { process.kill(child.pid, 'SIGKILL'); } catch { /* gone */ }
}
process.on('exit', killStarted);
// Under the test runner: once every test of the file has ended (a test that timed out never ran
// its `finally`), kill what is left and let go of its pipes. Without this a child still running
// (or its own children, e.g. whoami --workers holding the inherited stdout) keeps the test file's
// process alive, 'exit' never comes, and the whole `npm test` hangs instead of reporting the failure.
//
// This hook runs before the test file's own `after` hooks (it is registered first, at import), so
// what is left is asked to stop first: SIGTERM twice (a whoami drains on the first and exits on the
// second; an nginx or haproxy master stops its workers), SIGKILL only to what is still running after
// 3 s. A SIGKILL first orphaned nginx workers, which a master stops only when it is asked.
if (process.env.NODE_TEST_CONTEXT) {
  const { after } = await import('node:test');
  after(async () => {
    const left = [...started];
    const running = (): ChildProcess[] => left.filter((c) => c.exitCode === null && c.signalCode === null && c.pid !== undefined);
    for (const delay of [0, 300]) {
      await new Promise((r) => setTimeout(r, delay));
      for (const child of running()) try { process.kill(child.pid!, 'SIGTERM'); } catch { /* gone */ }
    }
    for (const deadline = Date.now() + 3000; running().length > 0 && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 25));
    killStarted();
    for (const child of left) {
      child.stdout?.destroy();
      child.stderr?.destroy();
      child.unref();
    }
  });
}

export interface Started {
  child: ChildProcess;
  pid: number;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the exit code (or signal name) once the process has exited. */
  exited: Promise<number | string>;
  stop: (signal?: NodeJS.Signals, graceMs?: number) => Promise<number | string>;
}

export function start(command: string, args: string[], options: SpawnOptions = {}): Started {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  started.add(child);
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (out += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (err += d));
  const exited = new Promise<number | string>((resolve) => {
    child.on('exit', (code, signal) => {
      started.delete(child);
      resolve(code ?? signal ?? -1);
    });
    child.on('error', (e) => {
      started.delete(child);
      err += String(e);
      resolve(-1);
    });
  });
  const stop = async (signal: NodeJS.Signals = 'SIGTERM', graceMs = 5000): Promise<number | string> => {
    if (child.exitCode !== null || child.signalCode !== null) return exited;
    try { child.kill(signal); } catch { /* gone */ }
    const timer = setTimeout(() => { try { child.kill('SIGKILL'); } catch { /* gone */ } }, graceMs);
    const r = await exited;
    clearTimeout(timer);
    return r;
  };
  return { child, pid: child.pid ?? -1, stdout: () => out, stderr: () => err, exited, stop };
}

/** Runs `node bin/lbdiag.js ...args` in the background. */
export function startLbdiag(args: string[], options: SpawnOptions = {}): Started {
  return start(process.execPath, [LBDIAG, ...args], options);
}

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs lbdiag to completion (bounded by `timeoutMs`). */
export async function runLbdiag(args: string[], options: SpawnOptions & { timeoutMs?: number; input?: Buffer | string } = {}): Promise<RunResult> {
  const { timeoutMs = 60_000, input, ...spawnOptions } = options;
  const p = start(process.execPath, [LBDIAG, ...args], { ...spawnOptions, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
  if (input !== undefined) p.child.stdin?.end(input);
  const timer = setTimeout(() => void p.stop('SIGKILL'), timeoutMs);
  const code = await p.exited;
  clearTimeout(timer);
  return { code: typeof code === 'number' ? code : -1, stdout: p.stdout(), stderr: p.stderr() };
}

/** Resolves once a TCP connect to host:port succeeds; rejects after `timeoutMs`. */
export async function waitForPort(host: string, port: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host, port });
      s.once('connect', () => { s.destroy(); resolve(true); });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listening on ${host}:${port} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export { freePort } from '../../src/lab/port-wait.js';

/** True when `cmd` is on PATH (or in /usr/sbin, where Debian puts haproxy, nginx, tcpdump). */
export function hasCommand(cmd: string): boolean {
  const r = spawnSync('sh', ['-c', `command -v ${cmd} || test -x /usr/sbin/${cmd}`], { stdio: 'ignore' });
  return r.status === 0;
}

export function isRoot(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

/** True when `ip netns` works here (root, iproute2, and a kernel that lets us). */
export function canUseNetns(): boolean {
  if (!isRoot() || !hasCommand('ip')) return false;
  const name = `lbdiag-check-${process.pid}`;
  const add = spawnSync('ip', ['netns', 'add', name], { stdio: 'ignore' });
  if (add.status !== 0) return false;
  spawnSync('ip', ['netns', 'del', name], { stdio: 'ignore' });
  return true;
}

/**
 * The tcpdump capture corpus kept in shared/ beside the checkout (CI clones main with shared/
 * beside it; a git worktree may sit one level deeper). LBDIAG_CORPUS overrides.
 */
export function corpusDir(): string {
  const candidates = [
    process.env.LBDIAG_CORPUS,
    path.resolve(ROOT, '../shared/corpus/tcpdump'),
    path.resolve(ROOT, '../../shared/corpus/tcpdump'),
  ].filter((c): c is string => Boolean(c));
  return candidates.find((c) => existsSync(c)) ?? candidates[candidates.length - 1];
}
