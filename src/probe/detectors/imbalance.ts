/**
 * `imbalance`: backend shares that depart from equal (or `--weights`) further than chance allows
 * (chi-square goodness of fit) and by at least 20 %. Info, not warn, when keep-alive pinning
 * explains the shares. Too few answers per backend is undecided (see insufficient-data).
 */
import type { Finding } from '../../core/finding.js';
import { chiSquareGoodnessOfFit } from '../chi-square.js';
import { gcd, type ModeTally } from '../tally.js';
import type { ModeDetector, ProbeContext } from './context.js';
import { keepalivePinning } from './keepalive-pinning.js';
import { okBackends, pooled, sourceBackends } from './shares.js';
import { sourceAffinity } from './source-affinity.js';
import { type Assessment, decided } from './undecided.js';
import { findUpstreamPool, poolEvidence, POOL_MEANING, POOL_REMEDY, sentence } from './upstream-pool.js';

/** Chi-square is trusted only when every backend's expected count reaches this. */
const MIN_EXPECTED = 5;

export function assessImbalance(m: ModeTally, ctx: ProbeContext): Assessment {
  const o = ctx.options;
  const names = new Set<string>(okBackends(m).map((b) => b.name));
  for (const n of o.weights?.keys() ?? []) names.add(n);
  for (const n of o.expectBackends ?? []) names.add(n);
  if (names.size < 2) return null;
  const list = [...names].sort();
  const observed = list.map((n) => m.backends.get(n)?.ok ?? 0);
  const weights = list.map((n) => o.weights?.get(n) ?? 1);
  const total = observed.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const res = chiSquareGoodnessOfFit(observed, weights);
  if (res.minExpected < MIN_EXPECTED) {
    // The chi-square approximation holds only with >= 5 expected per backend: say what that takes.
    const wsum = weights.reduce((a, b) => a + b, 0);
    const needed = Math.ceil((MIN_EXPECTED * wsum) / Math.min(...weights));
    return { undecided: { test: 'imbalance', mode: m.mode, needed, have: total, why: `${list.length} backends: the chi-square test needs at least ${MIN_EXPECTED} expected answers from each (${total} answers give ${res.minExpected.toFixed(1)} for the smallest share)` } };
  }
  const alpha = o.alpha ?? 0.001;
  if (!(res.pValue < alpha)) return null;
  const wsum = weights.reduce((a, b) => a + b, 0);
  const ratios = observed.map((x, i) => x / ((total * weights[i]) / wsum));
  const maxDev = Math.max(...ratios.map((r) => Math.abs(r - 1)));
  if (maxDev < 0.2) return null; // significant but small: not what anyone means by "does not balance"
  const hi = ratios.indexOf(Math.max(...ratios));
  const lo = ratios.indexOf(Math.min(...ratios));
  const maxMin = ratios[lo] > 0 ? ratios[hi] / ratios[lo] : Infinity;
  const expected = o.weights ? `weights ${list.map((n, i) => `${n}=${weights[i]}`).join(',')}` : 'equal shares';
  const evidence = [
    `${m.mode}: ${list.map((n, i) => `${n} ${observed[i]} (expected ${((total * weights[i]) / wsum).toFixed(1)})`).join(', ')}`,
    `chi-square ${res.statistic.toFixed(1)} on ${res.df} degrees of freedom, p = ${res.pValue < 1e-12 ? '< 1e-12' : res.pValue.toExponential(2)} (threshold ${alpha}); most/least loaded ratio ${Number.isFinite(maxMin) ? maxMin.toFixed(2) : '∞'} (${list[hi]} vs ${list[lo]}, relative to ${expected})`,
  ];
  // In keep-alive mode the shares are those of the pinned connections: said, and only info.
  const explainedByPinning = keepalivePinning(m, ctx) !== null;
  let explanation = `The tally departs from ${expected} further than chance allows with ${total} requests.`;
  // With --source, when the backend follows the client address (source-affinity proved) and this
  // mode's answers came from addresses each held to one backend: the shares are how these few
  // addresses hashed, not the balancer's spread over clients (nor configured weights).
  const bySource = explainedByPinning ? null : heldSources(m, ctx);
  // Through a proxy that pools its upstream connections (proved by the run's short mode): the shares are those of the pooled connections.
  const pool = explainedByPinning || bySource !== null ? null : findUpstreamPool(ctx.modes);
  if (explainedByPinning) explanation += ` In keep-alive mode requests follow connections: the shares are those of the few connections, see keepalive-pinning.`;
  else if (bySource !== null) {
    evidence.push(`the ${bySource.sources} source addresses each reached one backend (see source-affinity): ${list.map((n) => `${n} ← ${bySource.perBackend.get(n) ?? 0}`).join(', ')} source${bySource.sources === 1 ? '' : 's'}`);
    explanation += ` The backend follows the client address here (see source-affinity), and each of these ${bySource.sources} source addresses stayed on one backend: the shares are those of how these few addresses mapped to the backends, not of the balancer's spread over many clients, nor a sign of weights.`;
  } else if (pool !== null) {
    evidence.push(poolEvidence(pool));
    explanation += ` ${sentence(POOL_MEANING)}`;
  } else if (pooled(m)) explanation += ` On pooled connections the shares follow how many connections each backend holds and how fast it answers (a slow backend's connection carries fewer requests in a timed run).`;
  else explanation += ` With a new connection per request this is the balancer's own choice: weights, least-connections with uneven speed, source-IP hashing / persistence (all requests from one client to one backend), or backends failing health checks part of the time.`;
  // Unequal shares that fit small integer weights (3:1:1) are most often configured weights: said, with the --weights to confirm.
  const fit = o.weights || explainedByPinning || bySource !== null || pool !== null ? null : integerWeights(observed);
  if (fit !== null) evidence.push(`the shares fit weights ${list.map((n, i) => `${n}=${fit.weights[i]}`).join(',')} (chi-square p = ${fit.pValue.toPrecision(2)}): if the pool has these weights, this is what they do; --weights ${list.map((n, i) => `${n}=${fit.weights[i]}`).join(',')} checks it`);
  const finding: Finding = {
    id: 'imbalance',
    severity: explainedByPinning || bySource !== null ? 'info' : 'warn',
    mode: m.mode,
    title: `${m.mode}: backend shares depart from ${expected} (p ${res.pValue < 1e-12 ? '< 1e-12' : `= ${res.pValue.toExponential(1)}`}, max/min ${Number.isFinite(maxMin) ? maxMin.toFixed(2) : '∞'})`,
    evidence,
    explanation,
    remedy: explainedByPinning
      ? 'Fix the pinning (see keepalive-pinning); compare with --mode short.'
      : bySource !== null
        ? 'See source-affinity. To see how the balancer spreads many clients, probe from many more source addresses (--source over a range) or from several machines and `lbdiag merge`.'
        : pool !== null
        ? `${sentence(POOL_REMEDY)} Check the weights too; pass --weights when unequal shares are intended.`
        : 'Check the pool\'s algorithm, weights and persistence (source-address affinity, cookie persistence), and health-check flapping; pass --weights when unequal shares are intended.',
    metrics: { statistic: res.statistic, df: res.df, pValue: res.pValue, maxMinRatio: Number.isFinite(maxMin) ? maxMin : null, backends: list, observed, requests: total },
  };
  return { finding };
}

/**
 * When source-affinity is proved in the run and at least 90 % of this mode's answers came from
 * --source addresses that reached one backend in the whole run: how many such addresses, and how
 * many map to each backend. Null otherwise.
 */
function heldSources(m: ModeTally, ctx: ProbeContext): { sources: number; perBackend: Map<string, number> } | null {
  if (m.sources.size < 2 || !ctx.modes.some((x) => sourceAffinity(x, ctx.modes).finding !== undefined)) return null;
  const reached = sourceBackends(ctx.modes);
  const perBackend = new Map<string, number>();
  let ok = 0;
  let held = 0;
  let sources = 0;
  for (const [src, t] of m.sources) {
    ok += t.ok;
    if (reached.get(src) !== 1) continue;
    const [backend] = [...t.backends].find(([, n]) => n > 0) ?? [];
    if (backend === undefined) continue;
    held += t.ok;
    sources++;
    perBackend.set(backend, (perBackend.get(backend) ?? 0) + 1);
  }
  return ok > 0 && held >= 0.9 * ok ? { sources, perBackend } : null;
}

/** Largest weight tried, and most backends tried (MAX_WEIGHT^backends vectors). */
const MAX_WEIGHT = 4;
const MAX_FIT_BACKENDS = 6;

/**
 * The small integer weights (1..MAX_WEIGHT, not all equal, lowest terms) the observed counts fit
 * best, when they fit (chi-square p >= 0.05), else null.
 */
export function integerWeights(observed: readonly number[]): { weights: number[]; pValue: number } | null {
  const k = observed.length;
  if (k < 2 || k > MAX_FIT_BACKENDS) return null;
  let best: { weights: number[]; pValue: number } | null = null;
  const w = new Array<number>(k).fill(1);
  for (;;) {
    if (w.some((x) => x !== w[0]) && w.reduce(gcd) === 1) {
      const r = chiSquareGoodnessOfFit(observed, w);
      if (r.minExpected >= MIN_EXPECTED && r.pValue >= 0.05 && (best === null || r.pValue > best.pValue)) best = { weights: [...w], pValue: r.pValue };
    }
    let i = 0;
    while (i < k && w[i] === MAX_WEIGHT) w[i++] = 1;
    if (i === k) break;
    w[i]++;
  }
  return best;
}

export const imbalance: ModeDetector = (m, ctx) => decided(assessImbalance(m, ctx));
