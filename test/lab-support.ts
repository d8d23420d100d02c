/** Shared checks for the lab tests: run `lbdiag lab --json` and verify nothing it started survived. */
import assert from 'node:assert/strict';
import { isListening } from '../src/lab/proc-net.js';
import { pidAlive } from '../src/lab/supervisor.js';
import type { LabReport } from '../src/lab/run.js';
import { runLbdiag, type RunResult } from './support/processes.js';

/** The lab tests' loopback /24 (TEAM.md: lab tests use 127.0.40.x). */
export const ADDR = '127.0.40';

export async function lab(args: string[], timeoutMs = 40_000): Promise<{ r: RunResult; rep: LabReport; ms: number }> {
  const t0 = Date.now();
  const r = await runLbdiag(['lab', '--addresses', ADDR, '--json', ...args], { timeoutMs });
  const ms = Date.now() - t0;
  let rep: LabReport;
  try {
    rep = JSON.parse(r.stdout) as LabReport;
  } catch {
    assert.fail(`no JSON (exit ${r.code}): ${r.stderr}\n${r.stdout.slice(0, 500)}`);
  }
  return { r, rep, ms };
}

/** Every pid the lab started is gone and nothing listens on any address:port it used. */
export async function assertNothingLeft(rep: LabReport): Promise<void> {
  const deadline = Date.now() + 3000;
  const alive = () => rep.started.pids.filter((p) => pidAlive(p));
  const listening = () => rep.started.listeners.filter((l) => isListening(l.host, l.port));
  while ((alive().length || listening().length) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  assert.deepEqual(alive(), [], 'processes the lab started are still running');
  assert.deepEqual(listening(), [], 'ports the lab used still listen');
}

export const ids = (rep: LabReport, step: string) => rep.scenarios.find((s) => s.step === step)?.found ?? [];
