/**
 * Waiting for a server to listen (by /proc when readable, else by connecting), failing early with
 * the child's last stderr line when it exits first; and free ports for programs that need one.
 */
import net from 'node:net';
import { canReadListeners, isListening } from './proc-net.js';
import type { SpawnedProcess } from './supervisor.js';

/** Resolves after `ms`, or at once when `signal` aborts (a lab run interrupted by Ctrl-C). */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (!signal) return new Promise((r) => setTimeout(r, ms));
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(t);
      resolve();
    }, { once: true });
  });
}

export interface WaitForPortOptions {
  timeoutMs?: number;
  /** Fail early, with its stderr, if this process exits; and check that it is the one listening. */
  process?: SpawnedProcess;
  /** Check by connecting instead of reading /proc (sends one connection). */
  connect?: boolean;
}

/** Resolves once host:port listens; rejects after `timeoutMs` (default 10 s) or when `process` exits. */
export async function waitForPort(host: string, port: number, opts: WaitForPortOptions = {}): Promise<void> {
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const deadline = Date.now() + timeoutMs;
  const useProc = !opts.connect && canReadListeners();
  const child = opts.process;
  for (;;) {
    if (child && !child.running()) {
      const st = await child.exited;
      throw new Error(`${child.name} exited (${st.signal ?? `code ${st.code}`}) before listening on ${host}:${port}${lastLine(child.stderr())}`);
    }
    const ok = useProc ? isListening(host, port, child?.pid) : await tryConnect(host, port);
    if (ok) return;
    if (Date.now() > deadline) {
      throw new Error(`${child ? child.name : 'nothing'} not listening on ${host}:${port} after ${timeoutMs} ms${child ? lastLine(child.stderr()) : ''}`);
    }
    await sleep(20);
  }
}

/** ": <last meaningful stderr line>" or "". */
function lastLine(stderr: string): string {
  const lines = stderr.split('\n').map((l) => l.trim()).filter(Boolean);
  const alert = lines.filter((l) => /\[(ALERT|emerg|alert|crit)\]|error/i.test(l));
  const pick = alert.length ? alert[alert.length - 1] : lines[lines.length - 1];
  return pick ? `: ${pick}` : '';
}

function tryConnect(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host, port });
    s.setTimeout(1000, () => {
      s.destroy();
      resolve(false);
    });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/** A port free right now on host (the kernel picks it), for programs that need an explicit one. */
export function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}
