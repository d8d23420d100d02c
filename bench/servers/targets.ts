/**
 * The HTTP servers the bench measures or loads: lbdiag whoami, the bare node:http floor and nginx.
 * Each runs as a child process (pinned to the server CPU when pinning is on) and is stopped by pid.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, LBDIAG, start, waitForPort, type Started } from '../../test/support/processes.js';
import { onCpu } from '../host.js';
import { statusKb } from '../memory.js';
import { nginxArgs, removeNginxConfig, writeNginxConfig } from './nginx.js';

export type TargetKind = 'whoami' | 'bare-node' | 'nginx';

export interface Target {
  kind: TargetKind;
  host: string;
  port: number;
  url: string;
  pid: number;
  /** Peak RSS so far (kB). */
  peakKb(): number | undefined;
  /** Current RSS (kB). */
  rssKb(): number | undefined;
  stop(): Promise<void>;
}

const here = path.dirname(fileURLToPath(import.meta.url));

export async function startTarget(kind: TargetKind, host: string, cpu: string | undefined): Promise<Target> {
  const port = await freePort(host);
  let proc: Started;
  let cleanup = (): void => {};
  if (kind === 'whoami') {
    const [c, a] = onCpu(cpu, process.execPath, [LBDIAG, 'whoami', '--host', host, '--port', String(port), '--name', 'bench', '--drain-delay', '0']);
    proc = start(c, a);
  } else if (kind === 'bare-node') {
    const [c, a] = onCpu(cpu, process.execPath, [path.join(here, 'bare-node.js'), '--host', host, '--port', String(port)]);
    proc = start(c, a);
  } else {
    const conf = writeNginxConfig(host, port);
    const [c, a] = onCpu(cpu, 'nginx', nginxArgs(conf));
    proc = start(c, a);
    cleanup = () => removeNginxConfig(conf);
  }
  try {
    await Promise.race([
      waitForPort(host, port, 15_000),
      proc.exited.then((code) => {
        throw new Error(`${kind} exited (${code}) before listening: ${proc.stderr().trim().split('\n').slice(-3).join(' | ')}`);
      }),
    ]);
  } catch (e) {
    await proc.stop('SIGKILL');
    cleanup();
    throw e;
  }
  return {
    kind,
    host,
    port,
    url: `http://${host}:${port}/`,
    pid: proc.pid,
    peakKb: () => statusKb(proc.pid, 'VmHWM'),
    rssKb: () => statusKb(proc.pid, 'VmRSS'),
    stop: async () => {
      await proc.stop('SIGTERM', 3000);
      cleanup();
    },
  };
}
