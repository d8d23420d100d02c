/**
 * `--weights` names are only checkable once backends have answered. A name that never answered
 * is either a usage mistake (it matches nothing the run saw, or it is a near-spelling of a
 * backend that did answer) or a backend that is missing (the other names match, this one does
 * not resemble any): the first is a usage error (exit 2, after the report), the second the
 * `backend-missing` finding. Either way the imbalance test only weighs backends that answered
 * (a weight for a backend with no answer would make its max/min ratio infinite).
 */
import type { Finding } from '../core/finding.js';

export interface WeightsCheck {
  /** Weights restricted to backends that answered (undefined when none is left). */
  weights?: Map<string, number>;
  /** One line each: names that are usage mistakes. */
  usageErrors: string[];
  findings: Finding[];
}

export function checkWeights(weights: Map<string, number> | undefined, seen: ReadonlySet<string>, alreadyExpected: readonly string[] = []): WeightsCheck {
  if (!weights) return { usageErrors: [], findings: [] };
  const unseen = [...weights.keys()].filter((n) => !seen.has(n));
  if (unseen.length === 0 || seen.size === 0) return { weights: unseen.length ? undefined : weights, usageErrors: [], findings: [] };
  const kept = new Map([...weights].filter(([n]) => seen.has(n)));
  const answered = [...seen].sort();
  const answeredText = answered.length > 8 ? `${answered.slice(0, 8).join(', ')}, … ${answered.length - 8} more` : answered.join(', ');
  const usageErrors: string[] = [];
  const findings: Finding[] = [];
  const noneMatched = kept.size === 0;
  for (const name of unseen) {
    const near = answered.find((s) => !weights.has(s) && similar(name, s));
    if (near !== undefined) usageErrors.push(`--weights names "${name}", which never answered: did you mean "${near}"? (backends that answered: ${answeredText})`);
    else if (noneMatched) usageErrors.push(`--weights names "${name}", but no --weights name matches a backend that answered (${answeredText}): check the names, or --backend-from`);
    else if (!alreadyExpected.includes(name)) {
      findings.push({
        id: 'backend-missing',
        severity: 'error',
        backend: name,
        title: `backend ${name} (weighted in --weights) never answered`,
        evidence: [`--weights names ${[...weights.keys()].join(', ')}; backends that answered: ${answeredText}`, `${[...kept.keys()].join(', ')} answered under the names --weights uses; ${name} resembles none of the answering backends`],
        explanation: `No request reached ${name}: it is out of the pool, failing the balancer's health checks, or it reports its identity under another name (check --backend-from). The imbalance test weighed only the backends that answered.`,
        remedy: `Check ${name}'s state on the balancer (pool member enabled, health monitor up) and that it answers directly; if the name is wrong, fix --weights.`,
        metrics: { expected: [...weights.keys()], seen: answered },
      });
    }
  }
  return { weights: kept.size ? kept : undefined, usageErrors, findings };
}

/** Same name but for case, or within two edits (web3 / web-3, backend1 / backend-1). */
function similar(a: string, b: string): boolean {
  if (a.toLowerCase() === b.toLowerCase()) return true;
  if (Math.abs(a.length - b.length) > 2) return false;
  return editDistance(a.toLowerCase(), b.toLowerCase()) <= Math.min(2, Math.floor(Math.max(a.length, b.length) / 3));
}

function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length];
}
