/**
 * What a lab scenario is and what it hands back. A scenario builds a small balanced service on
 * loopback (through the LabContext, which stops everything it started), breaks it the way a field
 * story describes, runs the probe against it and returns one or more steps (one probe run each)
 * plus the story: what was built, what a naive check shows, what lbdiag found, the fix.
 *
 * The JSON document (`lbdiag lab --json`) is built from these: a stable schema, fields are added,
 * never renamed.
 */
import type { Finding } from '../core/finding.js';
import type { ProbeReport } from '../probe/summary.js';
import type { LabContext } from './context.js';

export const SCENARIO_NAMES = ['pinning', 'scale-up', 'stale-listener', 'stall', 'source-affinity', 'grpc'] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];


/** A check on a step that is not a finding id (e.g. "the late backend got its share under rotate"). */
export interface StepCheck {
  what: string;
  ok: boolean;
}

/** One probe run inside a scenario, and whether it showed what the scenario expects. */
export interface LabStep {
  /** The scenario this step belongs to. */
  name: ScenarioName;
  /** Which part of the scenario: `l4`, `l7`, `pool`, `rotate`, `fresh`, `direct`, `goaway`. */
  step: string;
  /** The balancer kind probed (`builtin-l4`, `haproxy-tcp`, `builtin-stale`, `netns-syn-drop`, ...). */
  balancer: string;
  /** Finding ids that must appear. */
  expected: string[];
  /** Finding ids that must not appear. */
  absent: string[];
  /** Finding ids the probe (and, for stall, the capture analysis) raised. */
  found: string[];
  checks: StepCheck[];
  ok: boolean;
  /** Why the step did not run (missing root, tool, ...); ok is then true and probe null. */
  skipped?: string;
  probe: ProbeReport | null;
  /** stall: the capture analysis (`lbdiag pcap --json` of the scenario's capture). */
  pcap?: PcapOutcome;
}

export interface PcapOutcome {
  file: string | null;
  /** Why there is no analysis (no tcpdump, the analysis failed). */
  skipped?: string;
  findings: Finding[];
  summary?: Record<string, unknown>;
}

/** The human story around the probe reports, computed from what was measured. */
export interface Story {
  /** One line: what this scenario reproduces. */
  title: string;
  /** What was built: backends, balancers, the fault (a few lines). */
  built: string[];
  /** What a naive check (`curl` in a loop, i.e. the probe's short mode) shows, from the data. */
  naive: string[];
  /** What lbdiag found, from the findings. */
  found: string[];
  /** The fix. */
  fix: string[];
}

export interface ScenarioResult {
  name: ScenarioName;
  steps: LabStep[];
  story: Story;
  /** One-line versions for the `all` summary table. */
  summary: { naive: string; finding: string; fix: string };
  /** Set when the whole scenario was skipped. */
  skipped?: string;
  /** Set when the scenario failed to run (a balancer did not start, ...): one line. */
  error?: string;
}

export interface Scenario {
  name: ScenarioName;
  title: string;
  /** Fixed text for the summary table when the scenario is skipped. */
  fix: string;
  run(ctx: LabContext): Promise<ScenarioResult>;
}

/** Judges a step: expected ids present, absent ids missing, extra checks passed. */
export function judge(step: Omit<LabStep, 'ok' | 'found'> & { found?: string[] }, extraFindings: Finding[] = []): LabStep {
  const found = [...new Set([...(step.probe?.findings ?? []).map((f) => f.id), ...extraFindings.map((f) => f.id), ...(step.found ?? [])])];
  if (step.skipped) return { ...step, found, ok: true };
  const ok =
    step.probe !== null &&
    !step.probe.interrupted &&
    step.expected.every((id) => found.includes(id)) &&
    step.absent.every((id) => !found.includes(id)) &&
    step.checks.every((c) => c.ok);
  return { ...step, found, ok };
}
