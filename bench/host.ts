/**
 * The machine the bench runs on: CPU pinning (server on one core, load generator on another),
 * tools that are missing and can be installed, a description for results.json.
 */
import os from 'node:os';
import { spawnSync } from 'node:child_process';
import { hasCommand, isRoot } from '../test/support/processes.js';

export interface Pinning {
  enabled: boolean;
  /** Core for the thing measured as a server (whoami, bare node, nginx). */
  serverCpu?: string;
  /** Core for the load generator / the client measured. */
  loadCpu?: string;
  note: string;
}

export function detectPinning(disabled: boolean): Pinning {
  const cpus = os.availableParallelism();
  if (disabled) return { enabled: false, note: 'pinning off (--no-pin)' };
  if (!hasCommand('taskset')) return { enabled: false, note: 'taskset not installed: processes not pinned' };
  if (cpus < 2) return { enabled: false, note: `only ${cpus} CPU: processes not pinned` };
  return { enabled: true, serverCpu: '0', loadCpu: '1', note: 'taskset: servers on CPU 0, load generators/clients on CPU 1' };
}

/** Wraps a command so it runs on `cpu` (no-op when pinning is off). */
export function onCpu(cpu: string | undefined, cmd: string, args: string[]): [string, string[]] {
  return cpu === undefined ? [cmd, args] : ['taskset', ['-c', cpu, cmd, ...args]];
}

const tried = new Map<string, string | undefined>();

/**
 * Makes sure `cmd` exists, installing `aptPackage` with apt-get when it does not (root only; never
 * with LBDIAG_BENCH_NO_INSTALL set, as in the smoke test).
 * Returns undefined when usable, or the reason it is not.
 */
export function ensureCommand(cmd: string, aptPackage: string): string | undefined {
  if (tried.has(cmd)) return tried.get(cmd);
  let reason: string | undefined;
  if (!hasCommand(cmd)) {
    if (process.env.LBDIAG_BENCH_NO_INSTALL) reason = `${cmd} not installed (LBDIAG_BENCH_NO_INSTALL: not installing ${aptPackage})`;
    else if (!isRoot() || !hasCommand('apt-get')) reason = `${cmd} not installed (apt-get install ${aptPackage} needs root and apt-get)`;
    else {
      process.stderr.write(`bench: ${cmd} missing, running apt-get install -y ${aptPackage}\n`);
      const opts = { stdio: 'ignore' as const, timeout: 300_000, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } };
      let r = spawnSync('apt-get', ['install', '-y', aptPackage], opts);
      if (r.status !== 0) {
        spawnSync('apt-get', ['update'], opts);
        r = spawnSync('apt-get', ['install', '-y', aptPackage], opts);
      }
      if (!hasCommand(cmd)) reason = `${cmd} not installed and apt-get install ${aptPackage} failed`;
    }
  }
  tried.set(cmd, reason);
  return reason;
}

function firstLine(cmd: string, args: string[]): string | undefined {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0 && !r.stdout && !r.stderr) return undefined;
  return `${r.stdout}${r.stderr}`.split('\n').find((l) => l.trim())?.trim();
}

export function describeMachine(): Record<string, unknown> {
  const cpus = os.cpus();
  return {
    cpus: os.availableParallelism(),
    cpuModel: cpus[0]?.model,
    memoryMiB: Math.round(os.totalmem() / 2 ** 20),
    kernel: os.release(),
    node: process.version,
    loadAverageAtStart: os.loadavg().map((l) => Number(l.toFixed(2))),
    tools: {
      wrk: firstLine('wrk', ['-v']),
      ab: firstLine('ab', ['-V']),
      hey: hasCommand('hey') ? 'hey (no version flag)' : undefined,
      nginx: firstLine('nginx', ['-v']),
      tshark: firstLine('tshark', ['-v']),
      tcpdump: firstLine('tcpdump', ['--version']),
    },
  };
}
