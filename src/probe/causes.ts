/**
 * Which probe findings explain which (for grouping in the human report; the JSON stays flat).
 * Every rule proves the link from the two findings' own numbers, with the thresholds the
 * analysis uses, so a finding is shown under a cause only when the cause accounts for all of it.
 */
import type { CauseRule } from '../core/grouping.js';
import type { Finding } from '../core/finding.js';
import { chiSquareGoodnessOfFit } from './chi-square.js';

/** tls-error accounts for a failure finding of its mode when every failure there was TLS-level. */
const tlsExplains = (cause: Finding, effect: Finding): boolean =>
  cause.mode !== undefined && cause.mode === effect.mode && cause.severity === 'error' && typeof cause.metrics?.failed === 'number' && cause.metrics.failed === effect.metrics?.errors;

/** The analysis' imbalance thresholds (analyse.ts): p below ALPHA and a share off by 20% or more. */
const ALPHA = 0.001;
const MIN_DEVIATION = 0.2;
const MIN_EXPECTED = 5;

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : []);
const numbers = (v: unknown): number[] => (Array.isArray(v) ? v.filter((x): x is number => typeof x === 'number') : []);

/**
 * True when the backends `missing` (zero answers) are the whole departure of an imbalance
 * finding: without them the remaining backends' shares pass the same test the analysis ran.
 */
export function imbalanceOnlyFromMissing(imbalance: Finding, missing: ReadonlySet<string>, weights: Record<string, number> | null | undefined): boolean {
  const names = strings(imbalance.metrics?.backends);
  const observed = numbers(imbalance.metrics?.observed);
  if (!names.length || names.length !== observed.length) return false;
  if (!names.some((n, i) => missing.has(n) && observed[i] === 0)) return false;
  const keep = names.map((n, i) => ({ n, o: observed[i], w: weights?.[n] ?? 1 })).filter((x) => !(missing.has(x.n) && x.o === 0));
  if (keep.length <= 1) return true; // every answer came from the one backend left: the missing ones are the whole story
  const obs = keep.map((x) => x.o);
  const w = keep.map((x) => x.w);
  const res = chiSquareGoodnessOfFit(obs, w);
  if (res.minExpected < MIN_EXPECTED) return false; // too few answers to show the rest is even: keep it apart
  if (!(res.pValue < ALPHA)) return true;
  const total = obs.reduce((a, b) => a + b, 0);
  const wsum = w.reduce((a, b) => a + b, 0);
  return Math.max(...obs.map((x, i) => Math.abs(x / ((total * w[i]) / wsum) - 1))) < MIN_DEVIATION;
}

/**
 * protocol-mismatch accounts for a mode's all-failing when every failure of the mode was a mismatch,
 * and for its connection-churn when there were at least as many mismatched requests as connections
 * (the server closed each connection on the request it could not read).
 */
function mismatchExplains(cause: Finding, effect: Finding): boolean {
  const modes = strings(cause.metrics?.modes);
  const counts = numbers(cause.metrics?.mismatched);
  const i = modes.indexOf(effect.mode ?? '');
  if (i < 0 || counts.length !== modes.length || counts[i] === 0) return false;
  const bound = Number(effect.id === 'connection-churn' ? effect.metrics?.connections : effect.metrics?.errors);
  return Number.isFinite(bound) && counts[i] >= bound;
}

/** The probe's cause → consequence rules; `weights` is the run's --weights (report.config.weights). */
export function probeCauseRules(weights?: Record<string, number> | null): CauseRule[] {
  return [
    {
      // --expect-backends a,b,c,d with d down: every mode's chi-square counts d's zero.
      cause: 'backend-missing',
      effect: 'imbalance',
      explains: (cause, effect) => {
        const expected = strings(cause.metrics?.expected);
        const seen = new Set(strings(cause.metrics?.seen));
        if (!cause.backend || !expected.length) return false;
        return imbalanceOnlyFromMissing(effect, new Set(expected.filter((n) => !seen.has(n))), weights);
      },
    },
    // Every failure of the mode was a TLS-level one: the pool is not the story, the certificate is.
    { cause: 'tls-error', effect: 'all-failing', explains: tlsExplains },
    // Every failure of the mode was the protocol mismatch (metrics: per mode, the mismatched requests).
    { cause: 'protocol-mismatch', effect: 'all-failing', explains: mismatchExplains },
    { cause: 'protocol-mismatch', effect: 'connection-churn', explains: mismatchExplains },
    { cause: 'tls-error', effect: 'intermittent-errors', explains: tlsExplains },
    // The failing handshakes showed a certificate no answering backend had: they reached another
    // server, which failed TLS: that is why only one backend answered.
    { cause: 'tls-error', effect: 'single-backend', explains: (cause) => cause.severity === 'error' && Number(cause.metrics?.otherServers) > 0 },
    {
      // In a pinned mode the shares are those of the few connections (the analysis says so too).
      cause: 'keepalive-pinning',
      effect: 'imbalance',
      explains: (cause, effect) => Boolean(cause.mode) && cause.mode === effect.mode,
    },
  ];
}
