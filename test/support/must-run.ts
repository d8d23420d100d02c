/**
 * Setup commands of the network-namespace tests (ip, iptables, sysctl): run to completion, stdout
 * returned, and a failure thrown as one line naming the command and the first line of its stderr.
 */
import { findBinary, runSync } from '../../src/lab/tools.js';

export function mustRun(cmd: string, args: string[]): string {
  const r = runSync(cmd, args);
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr.trim().split('\n')[0] || `status ${r.status}`}`);
  return r.stdout;
}

/** `cmd args` inside network namespace `ns`. */
export function inNamespace(ns: string, cmd: string, ...args: string[]): string {
  return mustRun(findBinary('ip')!, ['netns', 'exec', ns, cmd, ...args]);
}
