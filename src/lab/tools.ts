/**
 * The host tools the lab drives (haproxy, nginx, ip, iptables, tcpdump): finding their binaries
 * (PATH, then the sbin directories a non-login root shell may lack), running one to completion with
 * a bound, the root check, and removing the lab's temporary directories.
 */
import { spawnSync } from 'node:child_process';
import { accessSync, constants as fsConstants, rmSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from '../core/errors.js';

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
