/**
 * The one finding contract shared by `probe` and `pcap` (and shown by `lab`).
 * Finding ids are a public, stable contract: users gate CI on them. Never rename one;
 * add a new id instead. Every id is listed with its meaning in the README.
 */
import { UsageError } from './errors.js';

export type Severity = 'info' | 'warn' | 'error';

export const SEVERITIES: readonly Severity[] = ['info', 'warn', 'error'];

/** Rank for sorting and for `--fail-on`: higher is worse. */
export function severityRank(s: Severity): number {
  return SEVERITIES.indexOf(s);
}

export type MetricValue = number | string | boolean | null | number[] | string[];

export interface Finding {
  /** Stable kebab-case id, e.g. `keepalive-pinning`, `fin-retransmit`. */
  id: string;
  severity: Severity;
  /** One line, says what happened with the key number in it. */
  title: string;
  /** Human-readable evidence lines, each with the numbers that support the finding. */
  evidence: string[];
  /** What it means, in the field's words (L4 vs L7, conntrack, SO_REUSEPORT, ...). */
  explanation: string;
  /** What to change to fix it. */
  remedy: string;
  /** Machine-readable numbers behind the evidence (stable keys per id). */
  metrics?: Record<string, MetricValue>;

  // Location, for captures.
  /** Wireshark `tcp.stream` index (0-based). */
  stream?: number;
  /** Wireshark frame numbers (1-based) that show the problem, the original first. */
  frames?: number[];
  /** `address:port` ([v6]:port for IPv6). */
  client?: string;
  server?: string;
  /** Wireshark display filter that opens the evidence. */
  filter?: string;

  // Location, for probes.
  mode?: string;
  backend?: string;
}

/** Sort worst first, then by id, then by stream, keeping the input order otherwise. */
export function sortFindings(findings: readonly Finding[]): Finding[] {
  return findings
    .map((f, i) => ({ f, i }))
    .sort(
      (a, b) =>
        severityRank(b.f.severity) - severityRank(a.f.severity) ||
        a.f.id.localeCompare(b.f.id) ||
        (a.f.stream ?? -1) - (b.f.stream ?? -1) ||
        a.i - b.i,
    )
    .map((x) => x.f);
}

/** `--fail-on none` disables failing on findings. */
export type FailOn = Severity | 'none';

export function parseFailOn(value: string): FailOn {
  const v = value.trim().toLowerCase();
  if (v === 'none') return 'none';
  if ((SEVERITIES as readonly string[]).includes(v)) return v as Severity;
  throw new UsageError(`invalid --fail-on "${value}" (expected info, warn, error or none)`);
}

/** True when some finding is at or above the threshold. */
export function reachesFailOn(findings: readonly Finding[], failOn: FailOn): boolean {
  if (failOn === 'none') return false;
  const min = severityRank(failOn);
  return findings.some((f) => severityRank(f.severity) >= min);
}
