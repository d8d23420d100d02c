/**
 * Chi-square goodness of fit, with its p-value from the regularized upper incomplete gamma
 * function Q(k/2, x/2) (series below a+1, Lentz continued fraction above; Numerical Recipes 6.2).
 */

/** ln Γ(x) for x > 0 (Lanczos, g=7, n=9: ~15 significant digits). */
export function lnGamma(x: number): number {
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - lnGamma(1 - x);
  x -= 1;
  let a = c[0];
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** Regularized upper incomplete gamma Q(a, x) = Γ(a, x) / Γ(a). */
export function gammaQ(a: number, x: number): number {
  if (!(a > 0) || x < 0 || Number.isNaN(x)) return NaN;
  if (x === 0) return 1;
  if (!Number.isFinite(x)) return 0;
  const gln = lnGamma(a);
  if (x < a + 1) {
    // Series for P(a, x); Q = 1 - P.
    let ap = a;
    let sum = 1 / a;
    let del = sum;
    for (let n = 0; n < 1000; n++) {
      ap += 1;
      del *= x / ap;
      sum += del;
      if (Math.abs(del) < Math.abs(sum) * 1e-15) break;
    }
    return Math.max(0, 1 - sum * Math.exp(-x + a * Math.log(x) - gln));
  }
  // Continued fraction for Q(a, x) (modified Lentz).
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 1000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-15) break;
  }
  return Math.min(1, Math.exp(-x + a * Math.log(x) - gln) * h);
}

export interface ChiSquareResult {
  statistic: number;
  df: number;
  pValue: number;
  /** Smallest expected count over the cells: the test is only trusted when it is >= 5. */
  minExpected: number;
}

/** Goodness of fit of `observed` counts to `expectedShares` (any positive weights, normalised here). */
export function chiSquareGoodnessOfFit(observed: readonly number[], expectedShares: readonly number[]): ChiSquareResult {
  const n = observed.reduce((a, b) => a + b, 0);
  const wsum = expectedShares.reduce((a, b) => a + b, 0);
  let statistic = 0;
  let minExpected = Infinity;
  for (let i = 0; i < observed.length; i++) {
    const e = (n * expectedShares[i]) / wsum;
    minExpected = Math.min(minExpected, e);
    if (e > 0) statistic += (observed[i] - e) ** 2 / e;
    else if (observed[i] > 0) statistic = Infinity;
  }
  const df = observed.length - 1;
  const pValue = df > 0 ? gammaQ(df / 2, statistic / 2) : 1;
  return { statistic, df, pValue, minExpected: Number.isFinite(minExpected) ? minExpected : 0 };
}
