/**
 * A capture made by a real kernel in a network namespace of its own (loopback only): iptables
 * rules inside it shape the traffic (drop a FIN, a RST, ...), tcpdump records lo, and a Node
 * script run inside the namespace makes the traffic. The namespace is deleted afterwards; the
 * capture file is the caller's (in a temporary directory it removes with `cleanup`).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { canUseNetns, hasCommand, start } from './processes.js';

/** Why such a capture cannot be made here (false when it can). */
export const netnsCaptureSkip = !canUseNetns() ? 'needs root and ip netns' : !hasCommand('tcpdump') || !hasCommand('iptables') ? 'needs tcpdump and iptables' : false;

function run(cmd: string, args: string[]): void {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')}: ${r.stderr}`);
}

export interface NetnsCapture {
  file: string;
  cleanup(): void;
}

/**
 * `rules`: iptables argument lists (after `iptables`) applied in the namespace; `filter`: tcpdump's;
 * `script`: Node code run in the namespace (it must exit 0 on its own).
 */
export async function captureInNetns(name: string, rules: string[][], filter: string, script: string): Promise<NetnsCapture> {
  const ns = `lbdiag-${name}-${process.pid}`;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `lbdiag-${name}-`));
  const file = path.join(tmp, `${name}.pcap`);
  run('ip', ['netns', 'add', ns]);
  try {
    const inNs = (args: string[]): void => run('ip', ['netns', 'exec', ns, ...args]);
    inNs(['ip', 'link', 'set', 'lo', 'up']);
    for (const r of rules) inNs(['iptables', ...r]);
    // --immediate-mode: packets reach the file as they come (without it a SIGINT soon after the traffic can lose all of them).
    const dump = start('ip', ['netns', 'exec', ns, 'tcpdump', '-i', 'lo', '--immediate-mode', '-U', '-w', file, filter]);
    // tcpdump says "listening on" on stderr once the capture runs (bounded wait).
    for (const t0 = Date.now(); !/listening on/.test(dump.stderr()) && Date.now() - t0 < 10_000; ) await new Promise((r) => setTimeout(r, 50));
    run('ip', ['netns', 'exec', ns, process.execPath, '-e', script]);
    await new Promise((r) => setTimeout(r, 300));
    await dump.stop('SIGINT');
  } finally {
    spawnSync('ip', ['netns', 'del', ns]);
  }
  return { file, cleanup: () => fs.rmSync(tmp, { recursive: true, force: true }) };
}
