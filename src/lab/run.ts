/**
 * `runLab`: runs the chosen scenarios in turn, each with its own LabContext whose cleanup stack is
 * emptied before the next one starts (and on error or Ctrl-C), and collects one document.
 */
import { performance } from 'node:perf_hooks';
import { envelope, type Envelope } from '../core/envelope.js';
import { LabContext, type LabHooks, type LabOptions, type StartedRecord } from './context.js';
import type { LabStep, ScenarioName, ScenarioResult } from './scenario.js';
import { SCENARIOS } from './scenarios/index.js';

export interface LabConfig {
  scenario: string;
  balancer: string;
  backends: number;
  requests: number | null;
  addresses: string;
}

/**
 * The lab's document: the common envelope (src/core/envelope.ts) whose `findings` are every finding
 * its probes and captures raised (each step's own list, with its context, is under `scenarios`).
 */
export interface LabReport extends Envelope<'lab'> {
  /** Deprecated alias of `config` (lbdiag 0.1), removed after one release. */
  options: LabConfig;
  durationMs: number;
  /** One entry per probe run (a scenario can have several steps). */
  scenarios: LabStep[];
  /** Per scenario: the one-screen summary rows. */
  summary: { scenario: ScenarioName; naive: string; finding: string; fix: string; ok: boolean; skipped?: string; error?: string }[];
  ok: boolean;
  /** Processes and listeners the lab started (all stopped when it returns). */
  started: StartedRecord;
  /** Cleanup problems, if any (each a line). */
  cleanupErrors: string[];
}

export interface LabRun {
  report: LabReport;
  /** The full results (story included), for the human renderer. */
  results: ScenarioResult[];
}

export async function runLab(names: ScenarioName[], options: LabOptions, hooks: LabHooks = {}, onScenario?: (r: ScenarioResult) => void): Promise<LabRun> {
  const t0 = performance.now();
  const startedAt = new Date();
  const started: StartedRecord = { pids: [], listeners: [], namespaces: [] };
  const results: ScenarioResult[] = [];
  const cleanupErrors: string[] = [];
  for (const name of names) {
    if (hooks.signal?.aborted) break;
    const ctx = new LabContext(options, hooks, started);
    try {
      await ctx.checkAddresses();
      const result = await SCENARIOS[name].run(ctx);
      results.push(result);
      onScenario?.(result);
    } catch (e) {
      // One line for the user; the other scenarios still run (their own cleanup is separate).
      const s = SCENARIOS[name];
      results.push({
        name,
        steps: [],
        story: { title: s.title, built: [], naive: [], found: [], fix: [] },
        summary: { naive: '-', finding: '-', fix: s.fix },
        error: (e as Error).message.split('\n')[0],
      });
    } finally {
      hooks.onStatus?.(`stopping what ${name} started`);
      cleanupErrors.push(...(await ctx.cleanup()));
    }
  }
  const steps = results.flatMap((r) => r.steps);
  const interrupted = Boolean(hooks.signal?.aborted);
  const summary = results.map((r) => ({
    scenario: r.name,
    ...r.summary,
    ok: !r.error && r.steps.every((s) => s.ok) && (r.steps.length > 0 || r.skipped !== undefined),
    ...(r.skipped ? { skipped: r.skipped } : {}),
    ...(r.error ? { error: r.error } : {}),
  }));
  const config: LabConfig = { scenario: names.length > 1 ? 'all' : names[0], balancer: options.family, backends: options.backends, requests: options.requests ?? null, addresses: `${options.prefix}.0/24` };
  const report: LabReport = envelope(
    'lab',
    { startedAt, interrupted, config: { ...config }, findings: steps.flatMap((s) => [...(s.probe?.findings ?? []), ...(s.pcap?.findings ?? [])]) },
    {
      options: config,
      durationMs: Math.round(performance.now() - t0),
      scenarios: steps,
      summary,
      ok: !interrupted && results.length === names.length && summary.every((s) => s.ok),
      started,
      cleanupErrors,
    },
  );
  return { report, results };
}
