/** Runs one load tool against one target and turns its output into a measurement. */
import { execMeasured } from '../exec.js';
import type { LoadSpec, LoadTool } from './tool.js';

export interface LoadResult {
  tool: string;
  keepAlive: boolean;
  concurrency: number;
  requests: number;
  rps: number;
  errors: number;
  non2xx: number;
  elapsedS: number;
  /** Peak RSS of the load tool itself (kB). */
  maxRssKb?: number;
  cpuS?: number;
  /** Requests per CPU-second of the load tool (user + system). */
  perCpuS?: number;
  note?: string;
}

export async function runLoad(tool: LoadTool, spec: LoadSpec, cpu: string | undefined): Promise<LoadResult> {
  const [cmd, args] = tool.command(spec);
  const bound = spec.requests !== undefined ? 600_000 : (spec.durationS + 30) * 1000;
  const done = await execMeasured(cmd, args, { cpu, timeoutMs: bound });
  if (done.timedOut) throw new Error(`${tool.name} did not finish within ${bound / 1000} s`);
  let parsed;
  try {
    parsed = tool.parse(done.stdout, done.stderr, spec);
  } catch (e) {
    throw new Error(`${tool.name}: cannot read its output (${(e as Error).message}): ${(done.stdout + done.stderr).trim().slice(-300)}`);
  }
  if (!(parsed.requests > 0)) {
    throw new Error(`${tool.name} (exit ${done.code}) reported no requests: ${(done.stderr || done.stdout).trim().split('\n').slice(-3).join(' | ')}`);
  }
  const elapsedS = parsed.elapsedS && parsed.elapsedS > 0 ? parsed.elapsedS : done.wallS;
  const rps = parsed.rps && Number.isFinite(parsed.rps) ? parsed.rps : parsed.requests / elapsedS;
  const cpuS = done.userS !== undefined && done.sysS !== undefined ? done.userS + done.sysS : undefined;
  return {
    tool: tool.name,
    keepAlive: spec.keepAlive,
    concurrency: spec.concurrency,
    requests: parsed.requests,
    rps: Math.round(rps),
    errors: parsed.errors || 0,
    non2xx: parsed.non2xx || 0,
    elapsedS: Number(elapsedS.toFixed(2)),
    maxRssKb: done.maxRssKb,
    cpuS: cpuS === undefined ? undefined : Number(cpuS.toFixed(2)),
    perCpuS: cpuS ? Math.round(parsed.requests / cpuS) : undefined,
    note: parsed.note,
  };
}
