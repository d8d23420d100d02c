/**
 * How a mode's failures are spread: their kinds (error kinds and 5xx statuses, most frequent
 * first) and the 1-in-N pattern in the order requests were sent.
 */
import type { ModeTally } from '../tally.js';
import { pct } from './shares.js';

/** Error kinds and 5xx statuses of a mode, most frequent first. */
export function kindsOf(m: ModeTally): { kind: string; count: number; fresh: number; reused: number }[] {
  const out: { kind: string; count: number; fresh: number; reused: number }[] = [];
  for (const [k, v] of m.errorKinds) out.push({ kind: k, count: v.count, fresh: v.fresh, reused: v.reused });
  for (const [status, count] of m.statuses) if (status >= 500) out.push({ kind: String(status), count, fresh: NaN, reused: NaN });
  return out.sort((a, b) => b.count - a.count);
}

export interface FailurePattern {
  text?: string;
  oneInN?: number;
  periodic: boolean;
}

/**
 * 1-in-N: in the order requests were SENT (the order the balancer met them; completion order mixes
 * slow failures in later), strictly periodic gaps mean a rotation (round robin over N with one bad
 * member); a rate near 1/N with irregular gaps means a random spread (kernel SO_REUSEPORT hashing,
 * source hashing, random or least-connections balancing).
 */
export function failurePattern(m: ModeTally, rate: number): FailurePattern {
  // A place (pool member, listener) that fails would fail new connections' requests as often as the
  // others. When the new ones fail far less than chance allows at the reused ones' rate (an idle timeout:
  // every connection's first request works, a later one fails), the 1 in N comes from the connections'
  // shape, not from N places: no pattern is claimed. (Per-request balancing over a bad member fails new
  // and reused alike; with few new connections their clean record proves nothing and the pattern stays.)
  const reusedRate = m.reused ? m.failedReused / m.reused : 0;
  if (m.fresh > 0 && reusedRate > 0 && binomialTail(m.fresh, m.fresh - m.failedFresh, 1 - reusedRate) < 1e-3) return { periodic: false };
  const gaps = new Map<number, number>();
  if (m.failOrders.length >= 2) {
    const sorted = [...m.failOrders].sort((a, b) => a - b);
    for (let i = 1; i < sorted.length; i++) gaps.set(sorted[i] - sorted[i - 1], (gaps.get(sorted[i] - sorted[i - 1]) ?? 0) + 1);
  } else for (const [g, c] of m.errorGaps) gaps.set(g, c);
  const top = [...gaps.entries()].sort((a, b) => b[1] - a[1]);
  const gapTotal = top.reduce((s, [, c]) => s + c, 0);
  const order = m.failOrders.length >= 2 ? 'sent' : 'completed';
  if (gapTotal >= 4 && top[0][0] > 1 && top[0][1] / gapTotal >= 0.8) {
    const n = top[0][0];
    return { oneInN: n, periodic: true, text: `strictly periodic: ${top[0][1]} of ${gapTotal} gaps between failures (in the order requests were ${order}) are exactly ${n} requests: every ${ordinal(n)} request fails, a rotation over ${n} places with one bad (round robin over ${n} pool members, one of them failing)` };
  }
  if (m.errors >= 5) {
    const n = Math.round(1 / rate);
    if (n >= 2 && n <= 10 && Math.abs(rate * n - 1) <= 0.25) {
      // With several requests in flight the balancer may meet them slightly out of send order, which
      // blurs a rotation's gaps but not its slot: most failures still share one send position mod n.
      if (m.failOrders.length >= 8) {
        const slots = new Map<number, number>();
        for (const o of m.failOrders) slots.set(o % n, (slots.get(o % n) ?? 0) + 1);
        const top = Math.max(...slots.values());
        // Under a random spread each failure lands in a given slot with probability 1/n.
        const pRandom = binomialTail(m.failOrders.length, top, 1 / n) * n;
        if (pRandom < 1e-3)
          return { oneInN: n, periodic: true, text: `a rotation over ${n}: ${top} of ${m.failOrders.length} failures sat at the same position (mod ${n}) in the order requests were sent (a random spread puts them there with probability ${pRandom < 1e-12 ? '< 1e-12' : pRandom.toExponential(1)}): round robin over ${n} pool members, one of them failing` };
      }
      return { oneInN: n, periodic: false, text: `about 1 in ${n} (${pct(rate)}), not periodic in the order requests were ${order}: one of ${n} places fails (${n} SO_REUSEPORT listeners with one stale, or ${n} pool members with one bad under source-hash / random / least-connections balancing)` };
    }
  }
  return { periodic: false };
}

/** P(X >= k) for X ~ Binomial(n, p). */
function binomialTail(n: number, k: number, p: number): number {
  let sum = 0;
  for (let i = k; i <= n; i++) sum += Math.exp(lnChoose(n, i) + i * Math.log(p) + (n - i) * Math.log(1 - p));
  return Math.min(1, sum);
}

function lnChoose(n: number, k: number): number {
  let r = 0;
  for (let i = 1; i <= k; i++) r += Math.log((n - k + i) / i);
  return r;
}

/** 1st, 2nd, 3rd, 4th, 11th, 21st. */
export function ordinal(n: number): string {
  const t = n % 100;
  return `${n}${t >= 11 && t <= 13 ? 'th' : n % 10 === 1 ? 'st' : n % 10 === 2 ? 'nd' : n % 10 === 3 ? 'rd' : 'th'}`;
}
