/**
 * `late-backend-starved`: a backend that joined part-way through gets almost nothing on pooled
 * (keep-alive, rotate) connections: (a) it first answered late and then got far below a fair
 * share of the pool's requests, or (b) it never answered on a large pool yet took a fair share of
 * fresh connections opened later.
 */
import type { Finding } from '../../core/finding.js';
import { formatDuration } from '../../core/units.js';
import type { ModeTally } from '../tally.js';
import type { RunDetector } from './context.js';
import { H2_FIELD, H2_REMEDY, POOL_FIELD } from './field-knowledge.js';
import { POOL_MEANING, POOL_REMEDY, proxyPoolEvidence, sentence } from './upstream-pool.js';
import { okBackends, pct, pooled } from './shares.js';

export const lateBackendStarved: RunDetector = (modes, ctx): Finding[] => {
  const h2 = ctx.options.protocol === 'h2' || ctx.options.protocol === 'grpc';
  const out: Finding[] = [];
  const reported = new Set<string>();
  for (const m of modes) {
    if (!pooled(m) || m.ok === 0) continue;
    const dur = Math.max(1, m.endT - m.startT);
    const bs = okBackends(m);
    const earliest = Math.min(...bs.map((b) => b.firstT));
    // Through an HTTP proxy that pools its upstream connections, the pool that starves it is the proxy's.
    const viaPool = proxyPoolEvidence(m, modes);
    // (a) first answered part-way through the pooled phase, then starved on pooled connections.
    for (const b of bs) {
      if (b.firstT - earliest < Math.max(500, 0.2 * dur)) continue;
      const after = bucketsFrom(m, b.firstT);
      const kAfter = new Set<string>();
      for (const bk of after) for (const n of bk.backends.keys()) kAfter.add(n);
      const total = after.reduce((s, bk) => s + [...bk.backends.values()].reduce((a, c) => a + c, 0), 0);
      const mine = after.reduce((s, bk) => s + (bk.backends.get(b.name) ?? 0), 0);
      const fair = 1 / Math.max(2, kAfter.size);
      if (total < 20 || mine / total >= 0.25 * fair) continue;
      reported.add(b.name);
      out.push(starved(m, h2, viaPool, b.name, [
        `${b.name} first answered at ${formatDuration(b.firstT)} (${formatDuration(b.firstT - m.startT)} into ${m.mode}), the others from ${formatDuration(earliest)}`,
        `after it appeared: ${mine} of ${total} requests on pooled connections (${pct(mine / total)}; a fair share is ${pct(fair)})`,
      ], { firstSeenMs: b.firstT, share: mine / total, fairShare: fair }));
    }
    // (b) never on the pool, healthy on fresh connections opened later.
    const poolReached = new Set(bs.map((b) => b.name));
    if (m.connectionsOpened < 2 * (poolReached.size + 1)) continue; // a round-robin balancer would have reached it
    for (const later of modes) {
      if (later === m || later.startT < m.startT) continue;
      const fresh = okBackends(later);
      const k = fresh.length;
      for (const b of fresh) {
        if (poolReached.has(b.name) || reported.has(b.name)) continue;
        const share = b.ok / later.ok;
        if (share < 0.5 / k || later.ok < 10) continue;
        reported.add(b.name);
        out.push(starved(m, h2, viaPool, b.name, [
          `${b.name} got none of the ${m.ok} requests on ${m.connectionsOpened} ${m.mode} connections opened from ${formatDuration(m.startT)}, which reached only ${[...poolReached].sort().join(', ')}`,
          `${later.mode} from ${formatDuration(later.startT)}: ${b.name} answered ${b.ok} of ${later.ok} requests (${pct(share)}), first at ${formatDuration(b.firstT)}`,
          viaPool ?? `${m.connectionsOpened} connections spread round-robin would have reached it had it been in the pool when they were opened (or the balancer hashes connections unevenly)`,
        ], { firstSeenMs: b.firstT, share: 0, fairShare: 1 / k }));
      }
    }
  }
  return out;
};

function bucketsFrom(m: ModeTally, t: number) {
  const rel = t - m.startT;
  return m.timeline.buckets.filter((bk) => bk.t + m.timeline.bucketMs > rel);
}

/** `viaPool`: the evidence that an HTTP proxy's pooled upstream connections, not the client's, are what starve it (null: none). */
function starved(m: ModeTally, h2: boolean, viaPool: string | null, name: string, evidence: string[], metrics: Record<string, number>): Finding {
  if (viaPool !== null && !evidence.includes(viaPool)) evidence.push(viaPool);
  return {
    id: 'late-backend-starved',
    severity: 'warn',
    mode: m.mode,
    backend: name,
    title: `${name} appeared late and gets almost nothing on ${m.mode} ${h2 ? 'HTTP/2 ' : ''}connections`,
    evidence,
    explanation: viaPool !== null ? `${POOL_FIELD} Here the pool is an HTTP proxy's (see l7-proxy): ${POOL_MEANING}` : h2 ? `${H2_FIELD} ${POOL_FIELD}` : POOL_FIELD,
    remedy:
      viaPool !== null
        ? sentence(POOL_REMEDY)
        : h2
          ? H2_REMEDY
          : 'Give client connections a maximum age or request count (`lbdiag probe --mode rotate --max-conn-age 2s` shows the spread it restores), use an L7 balancer, or restart/recycle the client pools after scaling.',
    metrics,
  };
}
