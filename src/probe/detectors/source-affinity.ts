/**
 * `source-affinity`: with `--source` over several local addresses, the backend a connection
 * reaches depends on its source address: connections from one address keep reaching the same
 * backend while different addresses reach different backends. Proved by a chi-square test of
 * independence on the source x backend contingency table, one observation per connection (the
 * backend of its first answer: requests on one kept-alive connection are not independent, and a
 * source-hashing balancer decides per connection).
 *
 * Rule (never raised on too little data): at least 3 sources and 2 backends in the table, at least
 * 5 connections per source, Cochran's conditions on the expected counts (none below 1, at most a
 * fifth below 5), and p below 1e-3. Below that, the test is reported as undecided.
 */
import type { Finding } from '../../core/finding.js';
import { gammaQ } from '../chi-square.js';
import { compareAddresses } from '../sources.js';
import type { ModeTally } from '../tally.js';
import { connsWithOk, sourceBackends } from './shares.js';

export const MIN_SOURCES = 3;
export const MIN_CONNS_PER_SOURCE = 5;
const THRESHOLD = 1e-3;

export interface IndependenceResult {
  statistic: number;
  df: number;
  pValue: number;
  n: number;
  minExpected: number;
  /** Share of cells whose expected count is below 5. */
  lowExpectedShare: number;
  /** Cramér's V in [0, 1]: 1 when each source maps to one backend. */
  cramersV: number;
}

/** Chi-square test of independence of rows and columns of a contingency table (counts). */
export function independenceTest(table: readonly (readonly number[])[]): IndependenceResult {
  const rows = table.map((r) => r.reduce((a, b) => a + b, 0));
  const cols = table[0]?.map((_, j) => table.reduce((a, r) => a + r[j], 0)) ?? [];
  const n = rows.reduce((a, b) => a + b, 0);
  const r = rows.filter((x) => x > 0).length;
  const c = cols.filter((x) => x > 0).length;
  let statistic = 0;
  let minExpected = Infinity;
  let low = 0;
  let cells = 0;
  for (let i = 0; i < table.length; i++) {
    if (rows[i] === 0) continue;
    for (let j = 0; j < cols.length; j++) {
      if (cols[j] === 0) continue;
      const e = (rows[i] * cols[j]) / n;
      cells++;
      minExpected = Math.min(minExpected, e);
      if (e < 5) low++;
      statistic += (table[i][j] - e) ** 2 / e;
    }
  }
  const df = (r - 1) * (c - 1);
  const pValue = df > 0 ? gammaQ(df / 2, statistic / 2) : 1;
  const k = Math.min(r, c) - 1;
  return { statistic, df, pValue, n, minExpected: Number.isFinite(minExpected) ? minExpected : 0, lowExpectedShare: cells ? low / cells : 1, cramersV: k > 0 && n > 0 ? Math.sqrt(statistic / (n * k)) : 0 };
}

/** Keep-alive connections (two answers or more) bound to a --source address that reached only one backend in the whole run. */
function heldKeepaliveConns(modes: readonly ModeTally[]): number {
  const ka = modes.find((x) => x.mode === 'keepalive');
  if (!ka) return 0;
  const bySource = sourceBackends(modes);
  return connsWithOk(ka, 2).filter((c) => c.src !== undefined && bySource.get(c.src) === 1).length;
}

const fmtP = (p: number): string => (p < 1e-300 ? '< 1e-300' : p < 1e-4 ? p.toExponential(1) : p.toPrecision(2));

export interface SourceAffinityUndecided {
  test: 'source-affinity';
  mode: ModeTally['mode'];
  /** Connections (one request each in short mode) the table needs at least: 5 expected per cell when spread evenly. */
  needed: number;
  have: number;
  why: string;
}

/** The finding for one mode, or why it could not be decided (undefined when --source was not used over several addresses). */
export function sourceAffinity(m: ModeTally, modes: readonly ModeTally[] = [m]): { finding?: Finding; undecided?: SourceAffinityUndecided } {
  const sources = [...m.sourceConns.entries()].filter(([, b]) => [...b.values()].some((x) => x > 0)).sort((x, y) => compareAddresses(x[0], y[0]));
  if (m.sources.size < 2) return {};
  const backends = [...new Set(sources.flatMap(([, b]) => [...b.keys()]))].sort();
  // Fewer than 3 sources or one backend: no test (more requests would not help; say nothing).
  if (sources.length < MIN_SOURCES || backends.length < 2) return {};
  const thin = sources.filter(([, b]) => [...b.values()].reduce((a, x) => a + x, 0) < MIN_CONNS_PER_SOURCE);
  const table = sources.map(([, b]) => backends.map((n) => b.get(n) ?? 0));
  const t = independenceTest(table);
  if (thin.length > 0 || t.minExpected < 1 || t.lowExpectedShare > 0.2) {
    // Keep-alive: connections do not grow with -n (they are -c), so "run more requests" would be wrong advice.
    if (m.mode === 'keepalive') return {};
    const needed = Math.max(MIN_CONNS_PER_SOURCE, 5 * backends.length) * sources.length;
    return { undecided: { test: 'source-affinity', mode: m.mode, needed, have: t.n, why: `the source x backend table is too thin for a chi-square test (${t.n} connections over ${sources.length} sources and ${backends.length} backends; needs >= ${MIN_CONNS_PER_SOURCE} connections per source, expected counts >= 1 and at most a fifth below 5); count connections: use --mode short` } };
  }
  if (!(t.pValue < THRESHOLD)) return {};
  // Which sources are held to one backend: the backend of most of their connections, and its share.
  const rows = sources.map(([src, b]) => {
    const total = [...b.values()].reduce((a, x) => a + x, 0);
    const [top, n] = [...b.entries()].sort((x, y) => y[1] - x[1])[0];
    return { src, total, top, n };
  });
  const pinned = rows.filter((r) => r.n === r.total);
  const distinctTops = new Set(rows.map((r) => r.top)).size;
  const evidence = [
    `${m.mode}: ${t.n} connections from ${sources.length} source addresses to ${backends.length} backends; chi-square test of independence of source and backend: X² = ${t.statistic.toFixed(1)}, df = ${t.df}, p = ${fmtP(t.pValue)} (Cramér's V = ${t.cramersV.toFixed(2)}; 1 = each source always reaches one backend)`,
    `${pinned.length} of ${sources.length} sources reached one backend only; their preferred backends cover ${distinctTops} of ${backends.length} backends`,
    ...rows.slice(0, 12).map((r) => `  ${r.src} → ${r.top} on ${r.n} of ${r.total} connections`),
    ...(rows.length > 12 ? [`  (${rows.length - 12} more sources in --json modes.${m.mode}.sources)`] : []),
  ];
  if (sources.some(([s]) => !s.startsWith('client:'))) evidence.push('--source addresses were dealt to the connections evenly, in one shuffled order, so a balancer\'s own sequence (round robin) cannot line up with them');
  else evidence.push('each source here is one client run of lbdiag merge (its short-mode requests, one connection each)');
  // Keep-alive connections whose address reached one backend in the whole run: keepalive-pinning
  // leaves them out (a balancer hashing the address per request keeps them on one backend too).
  const held = heldKeepaliveConns(modes);
  return {
    finding: {
      id: 'source-affinity',
      severity: 'warn',
      mode: m.mode,
      title: `the backend depends on the client address: ${pinned.length} of ${sources.length} source addresses always reached the same backend (p = ${fmtP(t.pValue)})`,
      evidence,
      explanation:
        'The balancer chooses the backend from the client address: haproxy `balance source` (or `hash-type` on src), nginx `ip_hash` or `hash $remote_addr`, IPVS `-s sh`, Kubernetes `sessionAffinity: ClientIP`, cloud layer-4 balancers in 2- or 3-tuple (source IP) hash mode, or source-IP persistence/stickiness on an appliance. One client then always lands on one backend, so a few clients - or many clients behind a handful of NAT gateways or proxies - load the backends unevenly even though every backend is healthy.' +
        (held > 0
          ? ` The ${held} keep-alive connection${held === 1 ? '' : 's'} whose address reached one backend in the whole run stayed on it too, as they would whether the balancer picks once per connection (layer 4) or per request (layer 7, e.g. nginx \`hash $remote_addr\` behind \`proxy_pass\`): from these addresses the probe cannot tell the two apart, so they are not taken as keep-alive pinning (l7-proxy, when shown, says a proxy is in the path).`
          : ''),
      remedy:
        'If affinity is not wanted: haproxy `balance roundrobin` or `leastconn`; nginx drop `ip_hash` / `hash $remote_addr` (or hash on something with more values, e.g. `hash $request_id`); IPVS `-s rr`/`wlc`; Kubernetes `sessionAffinity: None`; cloud L4 5-tuple hashing; if it is wanted (sessions), move session state out of the backends or use a cookie so NAT-ed clients still spread. To see how real clients hash, probe from more addresses (`lbdiag probe VIP --mode short --source 10.0.0.5-10.0.0.20`; nginx `ip_hash` keys on the first three octets, so addresses in one /24 count as one client there) or from several machines (`--json --label NAME` each, then `lbdiag merge`).',
      metrics: { statistic: Math.round(t.statistic * 1000) / 1000, df: t.df, pValue: t.pValue, cramersV: Math.round(t.cramersV * 1000) / 1000, sources: sources.length, backends: backends.length, connections: t.n, pinnedSources: pinned.length },
    },
  };
}
