/**
 * A small process supervisor for the lab: spawn a child in its own process group, keep the tail
 * of its stderr for error messages, wait until it listens, stop it by pid (SIGTERM, then SIGKILL
 * after a grace period), and a registry that stops everything the lab started when this process
 * exits, or on SIGINT/SIGTERM when nobody else handles them.
 *
 * Children run in their own process group (`detached`) so a stop reaches the whole group (nginx's
 * master and its workers) and a terminal Ctrl-C does not kill them behind the lab's back: the lab
 * decides when they stop. Never kills by name.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync, readlinkSync, accessSync, constants as fsConstants, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { UsageError } from '../core/errors.js';

const TAIL_BYTES = 64 * 1024;

/** A tool the lab needs (haproxy, nginx, ip, iptables) is missing: the lab prints it as one line. */
export class MissingToolError extends UsageError {
  readonly tool: string;
  constructor(tool: string, message?: string) {
    super(message ?? `${tool} is not installed (looked on PATH and in /usr/sbin, /usr/local/sbin, /sbin)`);
    this.name = 'MissingToolError';
    this.tool = tool;
  }
}

/** Absolute path of an executable named `name`, or null. Looks on PATH, then the sbin directories. */
export function findBinary(name: string): string | null {
  if (name.includes('/')) return isExecutable(name) ? name : null;
  const dirs = [...(process.env.PATH ?? '').split(path.delimiter), '/usr/sbin', '/usr/local/sbin', '/sbin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const p = path.join(dir, name);
    if (isExecutable(p)) return p;
  }
  return null;
}

function isExecutable(p: string): boolean {
  try {
    accessSync(p, fsConstants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Like findBinary, but throws a MissingToolError naming the tool. */
export function requireBinary(name: string): string {
  const p = findBinary(name);
  if (!p) throw new MissingToolError(name);
  return p;
}

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

/** Stops a pid we did not spawn through spawnProcess: SIGTERM, then SIGKILL after `graceMs`. */
export async function stopPid(pid: number, graceMs = 3000): Promise<void> {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (pidAlive(pid) && Date.now() < deadline) await sleep(25);
  if (pidAlive(pid)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      /* gone */
    }
    const hard = Date.now() + 2000;
    while (pidAlive(pid) && Date.now() < hard) await sleep(25);
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

// ---------------------------------------------------------------------------------------------
// Listening sockets, read from /proc so that waiting for a balancer does not send it a connection
// (a probe connection through haproxy would advance its round robin).

interface ListenEntry {
  address: string; // dotted IPv4, or a v6 form ('::' for any)
  port: number;
  inode: string;
}

function parseProcNet(text: string, v6: boolean): ListenEntry[] {
  const le = os.endianness() === 'LE';
  const entries: ListenEntry[] = [];
  for (const line of text.split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 10 || cols[3] !== '0A') continue; // 0A = LISTEN
    const [addrHex, portHex] = cols[1].split(':');
    const port = parseInt(portHex, 16);
    let address: string;
    if (!v6) {
      const bytes = Buffer.from(addrHex, 'hex');
      if (le) bytes.reverse();
      address = Array.from(bytes).join('.');
    } else {
      const words: Buffer[] = [];
      for (let i = 0; i < 4; i++) {
        const w = Buffer.from(addrHex.slice(i * 8, i * 8 + 8), 'hex');
        if (le) w.reverse();
        words.push(w);
      }
      const b = Buffer.concat(words);
      const groups: string[] = [];
      for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i).toString(16));
      address = groups.join(':');
      if (/^0:0:0:0:0:0:0:0$/.test(address)) address = '::';
      const mapped = /^0:0:0:0:0:ffff:([0-9a-f]+):([0-9a-f]+)$/.exec(address);
      if (mapped) {
        const hi = parseInt(mapped[1], 16);
        const lo = parseInt(mapped[2], 16);
        address = `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
      }
    }
    entries.push({ address, port, inode: cols[9] });
  }
  return entries;
}

function readListeners(procRoot: string): ListenEntry[] {
  const out: ListenEntry[] = [];
  for (const [file, v6] of [['tcp', false], ['tcp6', true]] as const) {
    try {
      out.push(...parseProcNet(readFileSync(`${procRoot}/net/${file}`, 'utf8'), v6));
    } catch {
      /* no such table */
    }
  }
  return out;
}

function socketInodes(pid: number): Set<string> {
  const inodes = new Set<string>();
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m) inodes.add(m[1]);
      } catch {
        /* fd closed meanwhile */
      }
    }
  } catch {
    /* process gone or not ours */
  }
  return inodes;
}

function matchesHost(entry: string, host: string): boolean {
  return entry === host || entry === '0.0.0.0' || entry === '::' || (host === 'localhost' && entry === '127.0.0.1');
}

/** True when /proc is readable here (Linux): listener checks are exact and send no traffic. */
export function canReadListeners(): boolean {
  try {
    readFileSync('/proc/self/net/tcp', 'utf8');
    return true;
  } catch {
    return false;
  }
}

/**
 * How many LISTEN sockets cover host:port. With `pid`, only the sockets that process holds, and in
 * that process's network namespace (so it works for a server inside a namespace too).
 */
export function listenerCount(host: string, port: number, pid?: number): number {
  const entries = readListeners(pid ? `/proc/${pid}` : '/proc/self').filter(
    (e) => e.port === port && matchesHost(e.address, host),
  );
  if (!pid) return entries.length;
  const mine = socketInodes(pid);
  return entries.filter((e) => mine.has(e.inode)).length;
}

/** True when something (or, with `pid`, that process) listens on host:port. */
export function isListening(host: string, port: number, pid?: number): boolean {
  return listenerCount(host, port, pid) > 0;
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
export function lastLine(stderr: string): string {
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

// ---------------------------------------------------------------------------------------------
// The registry.

export interface Cleanup {
  name: string;
  /** Graceful, bounded. */
  stop(): Promise<void>;
  /** Synchronous last resort, run from process 'exit' (SIGKILL, rm -rf, ip netns del). */
  stopSync(): void;
}

const registry = new Set<Cleanup>();
let installed = false;

/** Registers something to clean up; returns a function that unregisters it (call after stopping). */
export function track(cleanup: Cleanup): () => void {
  installHandlers();
  registry.add(cleanup);
  return () => void registry.delete(cleanup);
}

/** What is still registered (names), for tests and the lab's "left behind" check. */
export function tracked(): string[] {
  return [...registry].map((c) => c.name);
}

/** Stops everything registered, newest first, each bounded by its own grace period. */
export async function stopAll(): Promise<void> {
  const all = [...registry].reverse();
  for (const c of all) {
    try {
      await c.stop();
    } catch {
      c.stopSync();
    }
    registry.delete(c);
  }
}

function stopAllSync(): void {
  for (const c of [...registry].reverse()) {
    try {
      c.stopSync();
    } catch {
      /* best effort */
    }
  }
  registry.clear();
}

function installHandlers(): void {
  if (installed) return;
  installed = true;
  process.on('exit', stopAllSync);
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const) {
    const handler = (): void => {
      // Someone else (the lab's onInterrupt) handles this signal: let them stop and report; their
      // eventual process.exit() runs the 'exit' handler above.
      if (process.listenerCount(signal) > 1) return;
      const hard = setTimeout(() => process.exit(code), 5000);
      hard.unref();
      void stopAll().finally(() => process.exit(code));
    };
    process.on(signal, handler);
  }
}

/** Runs a command to completion (bounded), for ip/iptables/nginx -V: returns status and output. */
export function runSync(command: string, args: string[], timeoutMs = 10_000): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(command, args, { encoding: 'utf8', timeout: timeoutMs });
  return {
    status: r.status ?? -1,
    stdout: r.stdout ?? '',
    stderr: (r.stderr ?? '') + (r.error ? String(r.error.message) : ''),
  };
}

/** rm -rf, never throws. */
export function removeDir(dir: string): void {
  try {
    rmSync(dir, { recursive: true, force: true });
  } catch {
    /* best effort */
  }
}

/** True when this process runs as root. */
export function isRootUser(): boolean {
  return typeof process.getuid === 'function' && process.getuid() === 0;
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
