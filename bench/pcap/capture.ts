/**
 * Makes the 1× capture: tcpdump on lo, filtered to one nginx `return 200` on 127.0.60.21, while two
 * wrk run against it (one keep-alive, one with `Connection: close`, so the capture holds both long
 * connections and many short ones). tcpdump stops itself after `packets` packets (-c); everything is
 * bounded by `maxS` seconds and stopped by pid.
 */
import { rmSync } from 'node:fs';
import { start } from '../../test/support/processes.js';
import { ensureCommand, onCpu, type Pinning } from '../host.js';
import { startTarget } from '../servers/targets.js';

export const CAPTURE_SERVER = '127.0.60.21';

export interface CaptureResult {
  file: string;
  packets: number;
  seconds: number;
  droppedByKernel?: number;
}

export async function makeCapture(file: string, packets: number, pinning: Pinning, maxS = 240): Promise<CaptureResult> {
  for (const [cmd, pkg] of [['tcpdump', 'tcpdump'], ['wrk', 'wrk'], ['nginx', 'nginx-light']]) {
    const why = ensureCommand(cmd, pkg);
    if (why) throw new Error(why);
  }
  rmSync(file, { force: true });
  const nginx = await startTarget('nginx', CAPTURE_SERVER, pinning.serverCpu);
  const t0 = Date.now();
  const tcpdump = start('tcpdump', ['-i', 'lo', '-n', '-B', '65536', '-c', String(packets), '-w', file, `host ${CAPTURE_SERVER} and tcp port ${nginx.port}`]);
  const loads: ReturnType<typeof start>[] = [];
  try {
    const deadline = Date.now() + 10_000;
    while (!/listening on/.test(tcpdump.stderr())) {
      if (tcpdump.child.exitCode !== null) throw new Error(`tcpdump exited: ${tcpdump.stderr().trim()}`);
      if (Date.now() > deadline) throw new Error('tcpdump did not start listening within 10 s');
      await new Promise((r) => setTimeout(r, 50));
    }
    for (const close of [false, true]) {
      const [c, a] = onCpu(pinning.loadCpu, 'wrk', ['-t1', '-c25', `-d${maxS}s`, ...(close ? ['-H', 'Connection: close'] : []), nginx.url]);
      loads.push(start(c, a));
    }
    const timer = setTimeout(() => void tcpdump.stop('SIGINT', 5000), maxS * 1000);
    await tcpdump.exited;
    clearTimeout(timer);
  } finally {
    for (const l of loads) await l.stop('SIGTERM', 2000);
    await tcpdump.stop('SIGINT', 5000);
    await nginx.stop();
  }
  const err = tcpdump.stderr();
  const got = Number(/(\d+) packets? captured/.exec(err)?.[1] ?? NaN);
  const dropped = Number(/(\d+) packets? dropped by kernel/.exec(err)?.[1] ?? NaN);
  return { file, packets: got, seconds: Number(((Date.now() - t0) / 1000).toFixed(1)), droppedByKernel: Number.isFinite(dropped) ? dropped : undefined };
}
