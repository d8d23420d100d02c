/**
 * Related findings grouped under their cause, for the human output only (the JSON keeps every
 * finding flat). A `CauseRule` says when one finding explains another ("backend d never
 * answered" explains "short: shares depart from equal shares" when d's zero is the whole
 * departure); each source (probe, pcap) lists its rules in one place and `groupFindings` applies
 * them. A finding is shown as a consequence only when a rule proves it from the two findings'
 * own numbers; anything a rule cannot prove stays a finding of its own.
 */
import { type Finding, sortFindings } from './finding.js';

export interface CauseRule {
  /** The id of the finding that explains. */
  cause: string;
  /** The id of the finding it can explain. */
  effect: string;
  /** True when `cause` fully accounts for `effect` (from their metrics, mode, backend...). */
  explains(cause: Finding, effect: Finding): boolean;
}

export interface FindingGroup {
  cause: Finding;
  /** Findings this one explains (directly or through one of them), worst first. */
  consequences: Finding[];
}

/**
 * Groups findings (any order) worst first: each finding goes under the first finding, in sorted
 * order, that a rule says explains it; chains (a explains b explains c) end at the root; a cycle
 * leaves its members as roots. Every input finding appears exactly once in the result.
 */
export function groupFindings(findings: readonly Finding[], rules: readonly CauseRule[]): FindingGroup[] {
  const sorted = sortFindings(findings);
  const parent = new Map<Finding, Finding>();
  for (const effect of sorted) {
    for (const cause of sorted) {
      if (cause === effect) continue;
      if (rules.some((r) => r.cause === cause.id && r.effect === effect.id && r.explains(cause, effect))) {
        parent.set(effect, cause);
        break;
      }
    }
  }
  const rootOf = (f: Finding): Finding => {
    const seen = new Set<Finding>([f]);
    let cur = f;
    for (;;) {
      const p = parent.get(cur);
      if (!p) return cur;
      if (seen.has(p)) return f; // a cycle: no root proves the others, keep f on its own
      seen.add(p);
      cur = p;
    }
  };
  const groups = new Map<Finding, FindingGroup>();
  for (const f of sorted) {
    const root = rootOf(f);
    if (root === f) groups.set(f, groups.get(f) ?? { cause: f, consequences: [] });
  }
  for (const f of sorted) {
    const root = rootOf(f);
    if (root !== f) groups.get(root)!.consequences.push(f);
  }
  return [...groups.values()];
}
