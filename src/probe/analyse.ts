/**
 * The probe's diagnosis: tallies in, findings out. Pure (no I/O, no clock), so every finding is
 * unit-tested on hand-made tallies. Finding ids are a stable contract (see the README).
 */
import type { Finding } from '../core/finding.js';
import { formatDuration, formatPercent } from '../core/units.js';
import { chiSquareGoodnessOfFit } from './chi-square.js';
import { localPortExhaustion, withoutLocalPortErrors } from './detectors/local-port-exhaustion.js';
import { sourceAffinity } from './detectors/source-affinity.js';
import type { LocalPortFacts } from './local-ports.js';
import type { ProbeMode } from './record.js';
import type { BackendTally, ModeTally } from './tally.js';

export interface AnalyseOptions {
  /** `--expect N`: how many backends should answer. */
  expect?: number;
  /** `--expect-backends a,b,c`. */
  expectBackends?: string[];
  /** `--weights a=3,b=1`: expected shares (backends not named weigh 1). */
  weights?: Map<string, number>;
  /** Significance level for `imbalance` (default 0.001). */
  alpha?: number;
  /** The probe machine's port range, tcp_tw_reuse and TIME_WAIT count (for local-port-exhaustion). */
  localPorts?: LocalPortFacts;
}

const L4_FIELD =
  'A layer-4 balancer (BIG-IP standard TCP virtual server, LVS/IPVS, a Kubernetes Service via kube-proxy, haproxy `mode tcp`, nginx `stream`) picks a backend once per TCP connection; every request a keep-alive client sends on that connection goes to the same backend. A layer-7 proxy (nginx `proxy_pass`, haproxy `mode http`, Envoy, an HTTP-aware BIG-IP virtual server) picks per request.';

const POOL_FIELD =
  'Connection pools opened before a scale-up keep their connections, and an L4 balancer never moves an established connection, so new backends only get the connections opened after they joined. Clients fix this with a maximum connection age or request count: fasthttp `MaxConnDuration`, gRPC `MAX_CONNECTION_AGE` (server side), Envoy `max_requests_per_connection` / `max_connection_duration`, or an L7 balancer.';

const pct = (x: number): string => formatPercent(x, 1);

function okBackends(t: ModeTally): BackendTally[] {
  return [...t.backends.values()].filter((b) => b.ok > 0).sort((a, b) => b.ok - a.ok || a.name.localeCompare(b.name));
}

function shareList(t: ModeTally, limit = 6): string {
  const bs = okBackends(t);
  const total = bs.reduce((s, b) => s + b.ok, 0);
  const shown = bs.slice(0, limit).map((b) => `${b.name} ${pct(b.ok / total)}`);
  if (bs.length > limit) shown.push(`… ${bs.length - limit} more`);
  return shown.join(', ');
}

function pooled(t: ModeTally): boolean {
  return t.mode === 'keepalive' || t.mode === 'rotate';
}

/** Connections (with detail kept) that carried at least `min` successful, identified requests. */
function connsWithOk(t: ModeTally, min: number) {
  return [...t.conns.values()].filter((c) => [...c.backends.values()].reduce((a, b) => a + b, 0) >= min);
}

function allBackendNames(modes: readonly ModeTally[]): Set<string> {
  const names = new Set<string>();
  for (const m of modes) for (const b of m.backends.values()) if (b.ok > 0) names.add(b.name);
  return names;
}

export function analyse(modes: readonly ModeTally[], options: AnalyseOptions = {}): Finding[] {
  const findings: Finding[] = [];
  const seen = allBackendNames(modes);
  const pinned = new Set<ProbeMode>();
  const undecided: Undecided[] = [];
  for (const m of modes) {
    const f = keepalivePinning(m, modes, seen, undecided);
    if (f) {
      findings.push(f);
      pinned.add(m.mode);
    }
  }
  for (const m of modes) {
    const f = imbalance(m, options, pinned.has(m.mode), undecided);
    if (f) findings.push(f);
  }
  findings.push(...singleBackend(modes, seen, options, undecided));
  findings.push(...backendMissing(modes, seen, options));
  findings.push(...lateBackendStarved(modes));
  findings.push(...staleInstance(modes));
  findings.push(...localPortExhaustion(modes, options.localPorts));
  for (const m of modes) findings.push(...errorsFindings(withoutLocalPortErrors(m)));
  for (const m of modes) {
    const f = stall(m);
    if (f) findings.push(f);
  }
  const l7 = l7Proxy(modes);
  if (l7) findings.push(l7);
  for (const m of modes) {
    const f = connectionChurn(m);
    if (f) findings.push(f);
  }
  for (const m of modes) {
    const sa = sourceAffinity(m);
    if (sa.finding) findings.push(sa.finding);
    if (sa.undecided) undecided.push(sa.undecided);
  }
  const noId = noIdentity(modes);
  if (noId) findings.push(noId);
  const few = insufficientData(undecided);
  if (few) findings.push(few);
  return findings;
}

// keepalive-pinning -------------------------------------------------------------------------

/** Evidence threshold shared by the pinning and single-backend tests: chance under the alternative. */
const CHANCE_THRESHOLD = 1e-3;

/** A test the sample was too small to decide: what it would need. Gathered into `insufficient-data`. */
interface Undecided {
  test: string;
  mode?: ProbeMode;
  /** Requests (in the mode) the test needs at least. */
  needed: number;
  have: number;
  why: string;
}

function keepalivePinning(m: ModeTally, modes: readonly ModeTally[], seen: Set<string>, undecided: Undecided[]): Finding | null {
  if (m.mode !== 'keepalive') return null;
  const k = seen.size;
  if (k < 2) return null; // one backend in the whole run: nothing to pin away from (single-backend says so)
  // Connections that carried two requests or more; if the other side closes every connection after
  // one request (connection-churn), keep-alive never happened and more requests would not help.
  let conns = connsWithOk(m, 2);
  if (conns.length === 0) {
    if (m.connectionsOpened > 2 * Math.max(1, m.lanes)) return null;
    conns = connsWithOk(m, 1);
    if (conns.length === 0) return null;
  }
  const single = conns.filter((c) => c.backends.size === 1);
  if (single.length / conns.length < 0.9) return null; // connections reach several backends: per-request
  // The alternative, explicitly: a per-request balancer. With the probe's random spread of requests
  // over its connections, a connection carrying n requests stays on one of k backends by chance with
  // probability about k^(1-n) (uniform or random choice per request). Strict round robin is
  // deterministic: it keeps a connection on one backend exactly when all its requests fall in the
  // same round-robin slot (k divides the gcd of their dispatch-order differences). Those
  // connections prove nothing, so only the others count as evidence.
  const okOf = (c: (typeof conns)[number]) => [...c.backends.values()].reduce((a, b) => a + b, 0);
  const multiReq = single.filter((c) => okOf(c) >= 2);
  const rrWouldPin = multiReq.filter((c) => c.orderGcd % k === 0);
  const informative = multiReq.filter((c) => c.orderGcd % k !== 0);
  let logChance = 0;
  for (const c of informative) logChance += (1 - okOf(c)) * Math.log(k);
  const reqs = conns.reduce((s, c) => s + okOf(c), 0);
  const chance = Math.exp(logChance);
  if (logChance > Math.log(CHANCE_THRESHOLD)) {
    // Looks pinned, but per-request balancing could give this sample: say so, with what it needs.
    const needed = Math.max(conns.length, m.lanes) + Math.ceil(Math.log(1 / CHANCE_THRESHOLD) / Math.log(k)) + rrWouldPin.reduce((s, c) => s + okOf(c) - 1, 0);
    const why =
      rrWouldPin.length > 0
        ? `${single.length} of ${conns.length} keep-alive connections stayed on one backend, but ${rrWouldPin.length} of them carried requests that strict round robin over ${k} backends would also have sent to one backend (their place in the send order repeats every ${k}), and per-request balancing could give the rest by chance (p ≈ ${fmtP(chance)}, needs < ${CHANCE_THRESHOLD})`
        : `${single.length} of ${conns.length} keep-alive connections stayed on one backend over ${reqs} requests, which per-request balancing over ${k} backends also gives by chance (p ≈ ${fmtP(chance)}, needs < ${CHANCE_THRESHOLD})`;
    undecided.push({ test: 'keepalive-pinning', mode: 'keepalive', needed: Math.max(needed, m.requests + 1), have: m.requests, why });
    return null;
  }
  const reached = new Set<string>();
  for (const c of conns) for (const b of c.backends.keys()) reached.add(b);
  const evidence = [
    `keepalive: ${single.length} of ${conns.length} connections (${reqs} requests) each reached exactly one backend; ${reached.size} of ${k} backends reached in this mode (${shareList(m)})`,
    `per-request balancing ruled out: requests went to the connections in a random order, so a per-request balancer would have spread each connection over several backends; ${informative.length} connections carrying ${informative.reduce((s, c) => s + okOf(c), 0)} requests stayed on one backend each, which it does by chance with probability ${fmtP(chance)} (threshold ${CHANCE_THRESHOLD})${rrWouldPin.length ? `; ${rrWouldPin.length} more connection(s) not counted (round robin would have kept them on one backend too)` : ''}`,
  ];
  const others = modes.filter((o) => o.mode !== 'keepalive' && okBackends(o).length > 1);
  for (const o of others) {
    const note = o.mode === 'short' ? 'one new connection per request' : 'connections retired and reopened';
    evidence.push(`${o.mode} (${note}): ${okBackends(o).length} backends answered ${o.ok} requests (${shareList(o)})`);
  }
  if (others.length === 0 && reached.size < 2) evidence.push(`other modes or runs saw ${[...seen].filter((s) => !reached.has(s)).join(', ')}`);
  return {
    id: 'keepalive-pinning',
    severity: 'warn',
    mode: 'keepalive',
    title: `keep-alive connections stick to one backend each (${single.length}/${conns.length} connections) while ${k} backends exist`,
    evidence,
    explanation: `${L4_FIELD} So a client with a few long-lived connections loads a few backends, while \`curl\` in a loop (a new connection each time) looks perfectly balanced. One backend per connection, when requests reach the connections in an irregular order, is the layer-4 signature.`,
    remedy:
      'Balance per request: an HTTP-aware (L7) virtual server or proxy (BIG-IP HTTP profile / OneConnect, haproxy `mode http`, nginx `proxy_pass`, Envoy), or make clients rotate connections (maximum connection age or requests per connection; `lbdiag probe --mode rotate --max-conn-requests 20` shows the effect), or open more connections than there are backends.',
    metrics: { connections: conns.length, pinnedConnections: single.length, backendsReached: reached.size, backendsSeen: k, requests: reqs, chance, informativeConnections: informative.length, roundRobinAlike: rrWouldPin.length },
  };
}

function fmtP(p: number): string {
  return p < 1e-12 ? '< 1e-12' : p >= 0.01 ? p.toFixed(2) : p.toExponential(1);
}

// insufficient-data ---------------------------------------------------------------------------

function insufficientData(undecided: readonly Undecided[]): Finding | null {
  if (undecided.length === 0) return null;
  const needed = Math.max(...undecided.map((u) => u.needed));
  const tests = [...new Set(undecided.map((u) => u.test))];
  return {
    id: 'insufficient-data',
    severity: 'info',
    title: `too few requests to decide ${tests.join(', ')}: run at least -n ${needed}`,
    evidence: undecided.map((u) => `${u.test}${u.mode ? ` (${u.mode})` : ''}: ${u.have} requests, needs at least ${u.needed}: ${u.why}`),
    explanation:
      'No finding is not the same as no problem: with this sample the test cannot tell the fault from chance, so lbdiag draws no conclusion either way. Each number needed is the smallest count at which the test could reach its own threshold, had every request gone the worst way.',
    remedy: `Run again with -n ${needed} or more (or a --duration long enough), keeping -c as it is.`,
    metrics: { tests, needed: undecided.map((u) => u.needed), have: undecided.map((u) => u.have), requestsNeeded: needed },
  };
}

// imbalance ---------------------------------------------------------------------------------

/** Chi-square is trusted only when every backend's expected count reaches this. */
const MIN_EXPECTED = 5;

function imbalance(m: ModeTally, o: AnalyseOptions, explainedByPinning: boolean, undecided: Undecided[]): Finding | null {
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
    undecided.push({ test: 'imbalance', mode: m.mode, needed, have: total, why: `${list.length} backends: the chi-square test needs at least ${MIN_EXPECTED} expected answers from each (${total} answers give ${res.minExpected.toFixed(1)} for the smallest share)` });
    return null;
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
  let explanation = `The tally departs from ${expected} further than chance allows with ${total} requests.`;
  if (explainedByPinning) explanation += ` In keep-alive mode requests follow connections: the shares are those of the few connections, see keepalive-pinning.`;
  else if (pooled(m)) explanation += ` On pooled connections the shares follow how many connections each backend holds and how fast it answers (a slow backend's connection carries fewer requests in a timed run).`;
  else explanation += ` With a new connection per request this is the balancer's own choice: weights, least-connections with uneven speed, source-IP hashing / persistence (all requests from one client to one backend), or backends failing health checks part of the time.`;
  return {
    id: 'imbalance',
    severity: explainedByPinning ? 'info' : 'warn',
    mode: m.mode,
    title: `${m.mode}: backend shares depart from ${expected} (p ${res.pValue < 1e-12 ? '< 1e-12' : `= ${res.pValue.toExponential(1)}`}, max/min ${Number.isFinite(maxMin) ? maxMin.toFixed(2) : '∞'})`,
    evidence,
    explanation,
    remedy: explainedByPinning
      ? 'Fix the pinning (see keepalive-pinning); compare with --mode short.'
      : 'Check the pool\'s algorithm, weights and persistence (source-address affinity, cookie persistence), and health-check flapping; pass --weights when unequal shares are intended.',
    metrics: { statistic: res.statistic, df: res.df, pValue: res.pValue, maxMinRatio: Number.isFinite(maxMin) ? maxMin : null, backends: list, observed, requests: total },
  };
}

// single-backend / backend-missing ------------------------------------------------------------

function singleBackend(modes: readonly ModeTally[], seen: Set<string>, o: AnalyseOptions, undecided: Undecided[]): Finding[] {
  if (seen.size !== 1) return [];
  if (o.expect === 1 || o.expectBackends?.length === 1) return [];
  const ok = modes.reduce((s, m) => s + (okBackends(m)[0]?.ok ?? 0), 0);
  const name = [...seen][0];
  // With two or more backends sharing the load, n answers all come from one with probability at
  // most 2^(1-n): the test needs that below the threshold.
  const needed = 1 + Math.ceil(Math.log2(1 / CHANCE_THRESHOLD));
  if (ok < needed) {
    undecided.push({ test: 'single-backend', needed, have: ok, why: `all ${ok} answers came from ${name}; a balancer spreading over 2 or more backends does that by chance with probability up to ${fmtP(2 ** (1 - ok))}` });
    return [];
  }
  return [
    {
      id: 'single-backend',
      severity: 'warn',
      backend: name,
      title: `one backend (${name}) answered all ${ok} identified requests`,
      evidence: modes.filter((m) => m.requests > 0).map((m) => `${m.mode}: ${m.ok} ok of ${m.requests} requests over ${m.connectionsOpened} connections, all from ${name}`),
      explanation:
        'Either only one backend is in service (others failing health checks, drained, or not in the pool), or every connection and request is sent to the same one: source-address affinity (the balancer hashes the client address - haproxy `balance source`, nginx `ip_hash`, IPVS `sh`, Kubernetes `sessionAffinity: ClientIP` - and all probe connections came from one address), a hash on something constant, or a single keep-alive connection through a layer-4 balancer.',
      remedy:
        'Check the pool members\' health and state on the balancer; try --mode short with -c larger than the backend count; to tell source affinity from a single healthy backend, probe from several client addresses: `lbdiag probe VIP --mode short -n 300 --source 127.0.0.20-127.0.0.29` on loopback, or `--source` over addresses of this host (source-affinity then proves it). Pass --expect N to make a missing backend an error.',
      metrics: { backend: name, requests: ok },
    },
  ];
}

function backendMissing(modes: readonly ModeTally[], seen: Set<string>, o: AnalyseOptions): Finding[] {
  const out: Finding[] = [];
  const perMode = modes.filter((m) => m.requests > 0).map((m) => `${m.mode}: ${okBackends(m).length} backends (${shareList(m) || 'none'})`);
  if (o.expectBackends?.length) {
    const missing = o.expectBackends.filter((n) => !seen.has(n));
    for (const n of missing) {
      out.push({
        id: 'backend-missing',
        severity: 'error',
        backend: n,
        title: `expected backend ${n} never answered`,
        evidence: [`expected ${o.expectBackends.join(', ')}; seen ${[...seen].sort().join(', ') || 'none'}`, ...perMode],
        explanation: `No request in any mode reached ${n}: it is out of the pool, failing the balancer's health checks, or its identity is reported differently (check --backend-from).`,
        remedy: `Check ${n}'s state on the balancer (pool member enabled, health monitor up) and that it answers directly; if it only misses in keepalive mode, see keepalive-pinning.`,
        metrics: { expected: o.expectBackends, seen: [...seen].sort() },
      });
    }
  } else if (o.expect !== undefined && seen.size < o.expect) {
    out.push({
      id: 'backend-missing',
      severity: 'error',
      title: `${seen.size} of ${o.expect} expected backends answered`,
      evidence: [`seen ${[...seen].sort().join(', ') || 'none'}`, ...perMode],
      explanation: `Fewer backends answered than --expect ${o.expect}: some are out of the pool, failing health checks, or not reachable by this client's connections.`,
      remedy: 'Check pool members and health monitors on the balancer; run with --mode short -n a few hundred so every member gets a chance.',
      metrics: { expected: o.expect, seen: [...seen].sort() },
    });
  }
  return out;
}

// late-backend-starved ------------------------------------------------------------------------

function lateBackendStarved(modes: readonly ModeTally[]): Finding[] {
  const out: Finding[] = [];
  const reported = new Set<string>();
  for (const m of modes) {
    if (!pooled(m) || m.ok === 0) continue;
    const dur = Math.max(1, m.endT - m.startT);
    const bs = okBackends(m);
    const earliest = Math.min(...bs.map((b) => b.firstT));
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
      out.push(starved(m, b.name, [
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
        out.push(starved(m, b.name, [
          `${b.name} got none of the ${m.ok} requests on ${m.connectionsOpened} ${m.mode} connections opened from ${formatDuration(m.startT)}, which reached only ${[...poolReached].sort().join(', ')}`,
          `${later.mode} from ${formatDuration(later.startT)}: ${b.name} answered ${b.ok} of ${later.ok} requests (${pct(share)}), first at ${formatDuration(b.firstT)}`,
          `${m.connectionsOpened} connections spread round-robin would have reached it had it been in the pool when they were opened (or the balancer hashes connections unevenly)`,
        ], { firstSeenMs: b.firstT, share: 0, fairShare: 1 / k }));
      }
    }
  }
  return out;
}

function bucketsFrom(m: ModeTally, t: number) {
  const rel = t - m.startT;
  return m.timeline.buckets.filter((bk) => bk.t + m.timeline.bucketMs > rel);
}

function starved(m: ModeTally, name: string, evidence: string[], metrics: Record<string, number>): Finding {
  return {
    id: 'late-backend-starved',
    severity: 'warn',
    mode: m.mode,
    backend: name,
    title: `${name} appeared late and gets almost nothing on ${m.mode} connections`,
    evidence,
    explanation: POOL_FIELD,
    remedy:
      'Give client connections a maximum age or request count (`lbdiag probe --mode rotate --max-conn-age 2s` shows the spread it restores), use an L7 balancer, or restart/recycle the client pools after scaling.',
    metrics,
  };
}

// stale-instance ------------------------------------------------------------------------------

interface Generation {
  instance: string;
  started?: number;
  pids: Set<number>;
  count: number;
  fresh: number;
  firstT: number;
  lastT: number;
}

/**
 * For one backend name: its generations (lbdiag whoami's X-Lbdiag-Instance is one value per start,
 * shared by its --workers processes), and for each ordered pair how many new connections the
 * first accepted after the second first answered.
 */
function generationsOf(modes: readonly ModeTally[]): Map<string, { gens: Map<string, Generation>; freshAfter: (older: string, newer: string) => number }> {
  const out = new Map<string, { gens: Map<string, Generation>; freshAfter: (o: string, n: string) => number }>();
  const ordered = [...modes].sort((a, b) => a.startT - b.startT);
  const names = new Set<string>();
  for (const m of ordered) for (const b of m.backends.values()) if (b.instances.size) names.add(b.name);
  for (const name of names) {
    const gens = new Map<string, Generation>();
    for (const m of ordered) {
      const b = m.backends.get(name);
      for (const i of b?.instances.values() ?? []) {
        const g = gens.get(i.instance);
        if (!g) gens.set(i.instance, { instance: i.instance, started: i.started, pids: new Set(i.pids), count: i.count, fresh: i.fresh, firstT: i.firstT, lastT: i.lastT });
        else {
          g.count += i.count;
          g.fresh += i.fresh;
          g.firstT = Math.min(g.firstT, i.firstT);
          g.lastT = Math.max(g.lastT, i.lastT);
          g.started ??= i.started;
          for (const p of i.pids) g.pids.add(p);
        }
      }
    }
    const freshAfter = (older: string, newer: string): number => {
      let n = 0;
      let newerSeen = false;
      for (const m of ordered) {
        const b = m.backends.get(name);
        const o = b?.instances.get(older);
        const appearsHere = b?.instances.has(newer) ?? false;
        if (o) {
          if (newerSeen) n += o.fresh; // the newer one answered in an earlier mode already
          else if (appearsHere) n += o.fresh - (o.freshBefore.get(newer) ?? 0);
        }
        if (appearsHere) newerSeen = true;
      }
      return n;
    };
    out.set(name, { gens, freshAfter });
  }
  return out;
}

function staleInstance(modes: readonly ModeTally[]): Finding[] {
  const out: Finding[] = [];
  for (const [name, { gens, freshAfter }] of generationsOf(modes)) {
    if (gens.size < 2) continue;
    const list = [...gens.values()];
    const byStart = list.every((g) => g.started !== undefined);
    // Oldest first: by the start time the server reports, else by when the probe first saw it.
    list.sort((a, b) => (byStart ? a.started! - b.started! : 0) || a.firstT - b.firstT);
    const describe = (g: Generation): string =>
      `instance ${g.instance}${g.started !== undefined ? ` started ${new Date(g.started).toISOString()}` : ''}${g.pids.size ? ` (pid${g.pids.size > 1 ? 's' : ''} ${[...g.pids].slice(0, 4).join(', ')}${g.pids.size > 4 ? ', …' : ''})` : ''}: ${g.count} responses (${g.fresh} on new connections), ${formatDuration(g.firstT)}–${formatDuration(g.lastT)}`;
    // An older generation still accepting new connections after a newer one answered: stale.
    // (Answers it gives on connections it already held are a normal drain, and one straggler
    // accepted while a reload swaps listeners is a race, not a surviving process.)
    const pairs: { older: Generation; newer: Generation; after: number }[] = [];
    for (let i = 0; i < list.length; i++)
      for (let j = i + 1; j < list.length; j++) {
        const older = list[i];
        const newer = list[j];
        if (byStart && older.started === newer.started) continue;
        const after = freshAfter(older.instance, newer.instance);
        if (after >= 2 && newer.count >= 2) pairs.push({ older, newer, after });
      }
    const evidence = list.slice(0, 6).map(describe);
    if (list.length > 6) evidence.push(`… ${list.length - 6} more instances`);
    if (pairs.length === 0) {
      out.push({
        id: 'backend-restarted',
        severity: 'info',
        backend: name,
        title: `${name} was restarted during the probe (${gens.size} generations, one after the other)`,
        evidence,
        explanation: 'A new process generation took over from the old one; the old one stopped accepting new connections when the new one appeared (a clean handover). Connections to the old one may have been cut.',
        remedy: 'Expected after a deploy; if not, check why the backend restarts (crash loop, OOM kill, liveness probe).',
        metrics: { instances: list.map((g) => g.instance), counts: list.map((g) => g.count), started: list.map((g) => g.started ?? 0) },
      });
      continue;
    }
    const worst = pairs.sort((a, b) => b.after - a.after)[0];
    evidence.push(
      `${worst.older.instance} (${byStart ? 'started earlier' : 'seen first'}) accepted ${worst.after} new connection${worst.after === 1 ? '' : 's'} after ${worst.newer.instance} (${byStart ? 'started later' : 'seen later'}) first answered: both generations take new connections side by side`,
    );
    if (!byStart)
      evidence.push(`no X-Lbdiag-Started header: the generations are ordered by when the probe first saw them, which cannot tell a stale process from sibling worker processes that each report their own instance (lbdiag whoami before X-Lbdiag-Started gave each --workers process its own instance)`);
    out.push({
      id: 'stale-instance',
      severity: byStart ? 'warn' : 'info',
      backend: name,
      title: byStart
        ? `${name}: an older generation (${worst.older.instance}, started ${formatDuration(worst.newer.started! - worst.older.started!)} earlier) still takes new connections beside ${worst.newer.instance}`
        : `${name} answered from ${gens.size} instances taking new connections side by side (a stale process, or worker processes that each report an instance)`,
      evidence,
      explanation: byStart
        ? 'Two process generations with the same backend name accept new connections side by side, and one of them started earlier: an old process survived a reload or restart (it still listens, e.g. SO_REUSEPORT, or a stuck old process never exits), or an old deployment still serves under the same name. It may run old code or config. Several pids under ONE instance are the --workers processes of one start, never counted here.'
        : 'Either an old process survived a reload or restart and still accepts connections next to the new one, or these are worker processes of one server that each label themselves with their own instance id. Without a start time the two look the same.',
      remedy: byStart
        ? 'Find the old process (`ss -ltnp` shows every listener on the port, with pids; compare their start times with `ps -o pid,lstart`) and stop it; make reloads finish old workers (haproxy `hard-stop-after`, nginx `worker_shutdown_timeout`).'
        : 'Check the listeners and their start times on the backend host (`ss -ltnp`, `ps -o pid,ppid,lstart`): siblings of one parent started together are workers (upgrade lbdiag whoami so it sends X-Lbdiag-Started); an older lone process is stale: stop it.',
      metrics: { instances: list.map((g) => g.instance), counts: list.map((g) => g.count), started: list.map((g) => g.started ?? 0), staleInstance: worst.older.instance, newerInstance: worst.newer.instance, freshAfterNewer: worst.after, orderedBy: byStart ? 'started' : 'first-seen', overlap: true },
    });
  }
  return out;
}

// intermittent-errors, all-failing, idle-timeout-reset ------------------------------------------

function kindsOf(m: ModeTally): { kind: string; count: number; fresh: number; reused: number }[] {
  const out: { kind: string; count: number; fresh: number; reused: number }[] = [];
  for (const [k, v] of m.errorKinds) out.push({ kind: k, count: v.count, fresh: v.fresh, reused: v.reused });
  for (const [status, count] of m.statuses) if (status >= 500) out.push({ kind: String(status), count, fresh: NaN, reused: NaN });
  return out.sort((a, b) => b.count - a.count);
}

function errorsFindings(m: ModeTally): Finding[] {
  if (m.errors === 0 || m.requests === 0) return [];
  const kinds = kindsOf(m);
  const kindText = kinds.map((k) => `${k.kind} ${k.count}`).join(', ');
  const out: Finding[] = [];
  if (m.ok === 0) {
    out.push({
      id: 'all-failing',
      severity: 'error',
      mode: m.mode,
      title: `${m.mode}: every one of ${m.requests} requests failed (${kindText})`,
      evidence: [`${m.mode}: ${kindText}`],
      explanation: 'Nothing succeeded in this mode: the balancer has no healthy backend (503 from the balancer), the backends reject the request (check -X, -H, the path), or connections are refused or reset.',
      remedy: 'Check the balancer\'s pool state and a direct request to a backend with the same path and headers.',
      metrics: { requests: m.requests, errors: m.errors },
    });
    return out;
  }
  const rate = m.errors / m.requests;
  const freshRate = m.fresh ? m.failedFresh / m.fresh : 0;
  const reusedRate = m.reused ? m.failedReused / m.reused : 0;
  const evidence = [`${m.mode}: ${m.errors} of ${m.requests} requests failed (${pct(rate)}): ${kindText}`];
  if (m.fresh && m.reused) evidence.push(`on new connections ${m.failedFresh}/${m.fresh} (${pct(freshRate)}), on reused connections ${m.failedReused}/${m.reused} (${pct(reusedRate)})`);
  // Which backends the failing responses named (5xx with identity).
  const failingBackends = [...m.backends.values()].filter((b) => b.errors > 0).sort((a, b) => b.errors - a.errors);
  if (failingBackends.length) evidence.push(`5xx by backend: ${failingBackends.map((b) => `${b.name} ${b.errors}/${b.responses}`).join(', ')}`);
  const pattern = failurePattern(m, rate);
  if (pattern.text) evidence.push(pattern.text);
  const oneInN = pattern.oneInN;
  const causes = rankCauses(m, pattern);
  evidence.push(...causes.signals);
  const concentratedFresh = m.fresh > 0 && m.reused > 0 && freshRate > 2 * reusedRate;
  const concentratedReused = m.fresh > 0 && m.reused > 0 && reusedRate > 2 * freshRate;
  let explanation = 'Some requests fail while the rest succeed: one backend or one listener is bad while the others are fine, or a middlebox drops some connections.';
  if (causes.ranked.length) explanation += ` What the failures show, most likely cause first: ${causes.ranked.map((c, i) => `(${i + 1}) ${c}`).join(' ')}`;
  else if (m.mode === 'short' || concentratedFresh)
    explanation += ' The failures hit new connections: the choice is made per connection — a bad pool member the health check does not catch, or several processes listening on the same port with SO_REUSEPORT (old haproxy/nginx processes left over by reloads: the kernel hashes new connections over all listeners, so about 1 in N fail when one of N is stale).';
  if (concentratedReused) explanation += ' The failures hit reused connections: an idle timeout on the server or a middlebox shorter than the client\'s (see idle-timeout-reset), or a backend that restarts under established connections.';
  out.push({
    id: 'intermittent-errors',
    severity: rate >= 0.01 ? 'error' : 'warn',
    mode: m.mode,
    title: `${m.mode}: ${pct(rate)} of requests fail${oneInN ? ` (${pattern.periodic ? `every ${ordinal(oneInN)}` : `about 1 in ${oneInN}`})` : ''}: ${kinds.slice(0, 3).map((k) => k.kind).join(', ')}${causes.lead ? ` — ${causes.lead}` : ''}`,
    evidence,
    explanation,
    remedy: causes.checks.length
      ? causes.checks.join(' ')
      : 'Find the failing backend (the per-backend table, or `--records` lines with an error) and take it out of the pool; make the health check exercise the same path; for resets on reused connections align idle timeouts.',
    metrics: {
      requests: m.requests,
      errors: m.errors,
      rate,
      freshRate,
      reusedRate,
      oneInN: oneInN ?? null,
      periodic: pattern.periodic,
      failedP50Ms: m.failedTotal.quantile(0.5),
      okP50Ms: m.okTotal.quantile(0.5),
      failedIdentified: m.failedIdentified,
      likelyCause: causes.leadId ?? null,
      kinds: kinds.map((k) => k.kind),
      kindCounts: kinds.map((k) => k.count),
    },
  });
  const idle = idleTimeoutReset(m);
  if (idle) out.push(idle);
  return out;
}

// The failure pattern and the causes it points to ---------------------------------------------

interface FailurePattern {
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
function failurePattern(m: ModeTally, rate: number): FailurePattern {
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

function ordinal(n: number): string {
  const t = n % 100;
  return `${n}${t >= 11 && t <= 13 ? 'th' : n % 10 === 1 ? 'st' : n % 10 === 2 ? 'nd' : n % 10 === 3 ? 'rd' : 'th'}`;
}

interface Causes {
  signals: string[];
  ranked: string[];
  checks: string[];
  lead?: string;
  leadId?: string;
}

/**
 * Ranks the usual causes of "some requests fail" on what the probe saw: how long failures took
 * (a balancer retrying a dead server takes seconds — haproxy waits 1 s between its 3 connect
 * retries — a stale listener answers at once), how they failed (refused by the VIP, closed/reset
 * after the balancer accepted, a 5xx from the balancer itself or from a named backend), and the
 * rotation pattern.
 */
function rankCauses(m: ModeTally, p: FailurePattern): Causes {
  const signals: string[] = [];
  // Listener and pool-member causes act on new connections; failures on reused ones have their own
  // causes (idle timeouts: idle-timeout-reset), so only rank when new connections carry them.
  const onFresh = m.errors > 0 && m.failedFresh / m.errors >= 0.8;
  const failedP50 = m.failedTotal.quantile(0.5);
  const okP50 = m.okTotal.quantile(0.5);
  const slowFailures = m.failedTotal.countBetween(900, 1e12);
  const slow = m.errors > 0 && slowFailures / m.errors >= 0.6 && failedP50 > Math.max(900, 5 * okP50);
  const fast = m.errors > 0 && failedP50 < Math.max(300, 3 * okP50);
  let refusedAtVip = 0;
  let droppedAfterAccept = 0;
  for (const [k, v] of m.errorKinds) {
    if (k === 'refused') refusedAtVip += v.connectPhase;
    if (k === 'closed' || k === 'reset') droppedAfterAccept += v.count - v.connectPhase;
  }
  let balancer5xx = 0;
  for (const [st, n] of m.statuses) if (st >= 500) balancer5xx += n;
  balancer5xx -= m.failedIdentified;
  const named = m.failedIdentified;
  signals.push(
    `failed requests took ${formatDuration(failedP50)} (median; ${slowFailures} of ${m.errors} over 0.9 s), successful ones ${formatDuration(okP50)}${slow ? ': something waited before giving up' : fast ? ': the failures came back at once' : ''}`,
  );
  const how: string[] = [];
  if (refusedAtVip) how.push(`${refusedAtVip} refused by the VIP itself`);
  if (droppedAfterAccept) how.push(`${droppedAfterAccept} accepted, then closed or reset with no answer`);
  if (balancer5xx > 0) how.push(`${balancer5xx} 5xx answers without backend identity (the balancer's own error page)`);
  if (named) how.push(`${named} 5xx answers that named their backend`);
  if (how.length) signals.push(`how they failed: ${how.join('; ')}`);

  type C = { id: string; score: number; text: string; check: string; lead: string };
  const cands: C[] = [];
  if (!onFresh) return { signals, ranked: [], checks: [] };
  const dead: C = {
    id: 'dead-member',
    score: 0,
    lead: 'most likely a dead pool member',
    text: `a pool member that is down or refuses connections, still in rotation because no health check removes it: the balancer accepts the client and fails to reach that server${slow ? ' (haproxy retries it 3 times, 1 s apart, then closes the connection in mode tcp or answers 503 in mode http: failures after about 3 s)' : ''}, so its share of new connections fails.`,
    check: 'Check the pool members as the balancer sees them (haproxy stats page or `show stat`: a server with connection errors/retries; nginx error log `connect() failed ... while connecting to upstream`) and connect to each backend directly; enable health checks (`check` on haproxy servers, `max_fails` / active checks on nginx) so a dead member leaves the rotation.',
  };
  const stale: C = {
    id: 'stale-listener',
    score: 0,
    lead: 'most likely a stale listener on the VIP port',
    text: 'several processes listening on the VIP port with SO_REUSEPORT, one of them stale (an haproxy/nginx generation left over by a reload): the kernel hashes each new connection to one listener at random, and the stale one answers at once with its own error (or refuses/resets).',
    check: "List every listener on the VIP port on the balancer host: `ss -ltnp 'sport = :PORT'`: more processes than expected means stale generations from reloads; stop them (haproxy `hard-stop-after`, master-worker reloads).",
  };
  const badBackend: C = {
    id: 'failing-backend',
    score: 0,
    lead: 'a backend answers errors itself',
    text: 'a backend that answers 5xx itself (the failing answers carry its identity).',
    check: 'Look at that backend (its logs and a direct request with the same path and headers) and take it out of the pool until fixed; make the health check exercise the same path.',
  };
  cands.push(dead, stale, badBackend);
  if (named > 0) badBackend.score += 3 * (named / m.errors) + 1;
  if (slow) dead.score += 3;
  if (fast && balancer5xx > 0) stale.score += 2;
  if (fast && (refusedAtVip || droppedAfterAccept)) {
    stale.score += 1;
    dead.score += 1;
  }
  if (droppedAfterAccept && slow) dead.score += 1;
  if (p.oneInN !== undefined && p.periodic) dead.score += 2;
  if (p.oneInN !== undefined && !p.periodic) stale.score += 1;
  if (p.oneInN !== undefined && !p.periodic && m.mode === 'short') dead.score += 0.5; // random/leastconn balancing with a dead member also fits
  const ranked = cands.filter((c) => c.score > 0).sort((a, b) => b.score - a.score);
  if (ranked.length === 0) return { signals, ranked: [], checks: [] };
  const lead = ranked.length === 1 || ranked[0].score >= ranked[1].score + 1 ? ranked[0] : undefined;
  const checks = ranked.map((c, i) => `(${i + 1}) ${c.check}`);
  // The usual suspects the evidence speaks against: say why, so the reader does not chase them.
  const unlikely: string[] = [];
  if (stale.score === 0 && slow) unlikely.push('a stale listener on the VIP port (SO_REUSEPORT) answers or fails at once, not after seconds');
  if (dead.score === 0 && fast && balancer5xx > 0) unlikely.push('a dead pool member makes the balancer retry before its 503 (seconds), these came at once');
  if (unlikely.length) signals.push(`less likely: ${unlikely.join('; ')}`);
  if (ranked.length === 1 && ranked[0].id === 'dead-member') checks.push("To rule out a stale listener for good: `ss -ltnp 'sport = :PORT'` on the balancer host shows one process per expected listener.");
  if (ranked.length === 1 && ranked[0].id === 'stale-listener') checks.push('To rule out a dead pool member: the balancer\'s per-server state and error counters show every member up, and a dead member would make the balancer retry (seconds) before failing.');
  if (ranked.length > 1) checks.push(`The check that tells ${ranked[0].id} from ${ranked[1].id}: ${ranked[0].id === 'stale-listener' || ranked[1].id === 'stale-listener' ? "`ss -ltnp 'sport = :PORT'` on the balancer (one listener: not stale) against the pool's member states" : 'the balancer\'s per-server error counters'}.`);
  return { signals, ranked: ranked.map((c) => c.text), checks, lead: lead?.lead, leadId: lead?.id };
}

function idleTimeoutReset(m: ModeTally): Finding | null {
  if (!pooled(m) || m.idleFailed.count === 0) return null;
  let n = 0;
  for (const k of ['reset', 'closed']) n += m.errorKinds.get(k)?.reused ?? 0;
  if (n === 0) return null;
  const reusedRate = m.failedReused / Math.max(1, m.reused);
  const freshRate = m.failedFresh / Math.max(1, m.fresh);
  if (m.fresh > 0 && reusedRate <= freshRate) return null;
  const idleFailedP50 = m.idleFailed.quantile(0.5);
  const idleAllP50 = m.idleAll.quantile(0.5);
  return {
    id: 'idle-timeout-reset',
    severity: 'warn',
    mode: m.mode,
    title: `${m.mode}: ${n} requests on reused connections were reset or closed after sitting idle (median idle ${formatDuration(idleFailedP50)})`,
    evidence: [
      `${n} of ${m.reused} requests on reused connections failed with reset/closed; ${m.failedFresh} of ${m.fresh} on new connections failed`,
      `idle before the failed ones: median ${formatDuration(idleFailedP50)}, max ${formatDuration(m.idleFailed.max)}; before all reused requests: median ${formatDuration(idleAllP50)}`,
    ],
    explanation:
      'The server (or the balancer, or a NAT/firewall) closed the idle keep-alive connection just as the client sent on it: the client\'s idle timeout is longer than the other side\'s. Node.js servers close idle connections after 5 s by default (`server.keepAliveTimeout`); nginx `keepalive_timeout` 75 s; AWS ALB 60 s; many firewalls drop idle flows silently.',
    remedy:
      'Make the client\'s pool idle timeout shorter than every hop\'s idle timeout (or the server\'s longer), and retry idempotent requests once when a reused connection fails before any response byte.',
    metrics: { failures: n, reused: m.reused, idleFailedP50Ms: idleFailedP50, idleAllP50Ms: idleAllP50 },
  };
}

// stall-1s --------------------------------------------------------------------------------------

function stall(m: ModeTally): Finding | null {
  const c = m.connect;
  if (c.count === 0) return null;
  const near1 = c.countBetween(850, 1600);
  const near3 = c.countBetween(2800, 3800);
  const near7 = c.countBetween(6800, 7800);
  const stalled = near1 + near3 + near7;
  if (stalled === 0) return null;
  const slow = c.countBetween(500, 1e9);
  const fast = c.countBetween(0, 300);
  const t = m.ttfb;
  // A cluster at the retransmission times, not a spread of slow connects; and the path itself is
  // fast (the request/response round trip takes well under the stall), so it is not a long RTT.
  if (stalled / Math.max(1, slow) < 0.6) return null;
  if (t.count > 0 && !(t.quantile(0.5) < 300)) return null;
  const serverNear1 = t.countBetween(850, 1600) + t.countBetween(2800, 3800);
  const parts = [`${near1} near 1 s`];
  if (near3) parts.push(`${near3} near 3 s`);
  if (near7) parts.push(`${near7} near 7 s`);
  return {
    id: 'stall-1s',
    severity: 'warn',
    mode: m.mode,
    title: `${m.mode}: ${stalled} of ${c.count} connects took ~1 s${near3 ? ' or ~3 s' : ''} (SYN retransmission)`,
    evidence: [
      `connect times: ${parts.join(', ')}; ${fast} under 300 ms (median ${formatDuration(c.quantile(0.5))})`,
      `server time (first byte after the request) near 1 s or 3 s: ${serverNear1} of ${t.count}: the delay is in the TCP handshake, not the application`,
    ],
    explanation:
      'A connect that takes almost exactly 1 s (Linux initial RTO; 3 s on older stacks, then 7 s) means the first SYN got no answer and was retransmitted. Something dropped it: a SYN flood protection or full accept queue, a conntrack/NAT entry for a reused source port still in TIME_WAIT, or IPVS with `net.ipv4.vs.conn_reuse_mode=1` dropping the first SYN of a reused port (kube-proxy IPVS mode), or an overloaded middlebox.',
    remedy:
      'Capture on the client and run `lbdiag pcap` on it to see the retransmitted SYN and which hop dropped it. On LVS/kube-proxy IPVS nodes check `net.ipv4.vs.conn_reuse_mode` and `net.ipv4.vs.expire_nodest_conn`; on NAT boxes `nf_conntrack_tcp_timeout_time_wait` and conntrack table usage (`conntrack -S`, insert_failed/drop); on servers the listen backlog (`ss -ltn` Recv-Q, `nstat TcpExtListenOverflows`).',
    metrics: { connects: c.count, near1s: near1, near3s: near3, near7s: near7, serverStalls: serverNear1 },
  };
}

// l7-proxy --------------------------------------------------------------------------------------

function l7Proxy(modes: readonly ModeTally[]): Finding | null {
  const evidence: string[] = [];
  const metrics: Record<string, number | string[]> = {};
  for (const m of modes) {
    if (!pooled(m)) continue;
    const conns = connsWithOk(m, 2);
    const changed = conns.filter((c) => c.serverConns.size > 1).length;
    const withIds = conns.filter((c) => c.serverConns.size > 0).length;
    if (changed > 0) {
      evidence.push(`${m.mode}: on ${changed} of ${withIds} client connections the backend saw a different connection across the requests (the client kept one: local port unchanged)`);
      metrics[`${m.mode}ConnsChanged`] = changed;
    }
    const multi = conns.filter((c) => c.backends.size > 1).length;
    if (multi > 0) {
      evidence.push(`${m.mode}: ${multi} of ${conns.length} client connections reached more than one backend`);
      metrics[`${m.mode}ConnsMultiBackend`] = multi;
    }
  }
  for (const m of modes) {
    if (m.seqChecked > 0 && m.seqMismatch > 0) {
      evidence.push(`${m.mode}: on ${m.seqMismatch} of ${m.seqChecked} requests the backend's request count on its connection differed from the client's (the proxy pools or splits connections)`);
      metrics[`${m.mode}SeqMismatch`] = m.seqMismatch;
    }
  }
  const fwd = new Map<string, number>();
  let checked = 0;
  for (const m of modes) {
    checked += m.forwardedChecked;
    for (const [k, v] of m.forwarded) fwd.set(k, (fwd.get(k) ?? 0) + v);
  }
  if (fwd.size) {
    evidence.push(`forwarding headers seen by the backend: ${[...fwd.entries()].map(([k, v]) => `${k} (${v}/${checked})`).join(', ')}`);
    metrics.forwardingHeaders = [...fwd.keys()];
  }
  if (evidence.length === 0) return null;
  return {
    id: 'l7-proxy',
    severity: 'info',
    title: 'a layer-7 (HTTP) proxy is in the path: requests are balanced one by one',
    evidence,
    explanation: `${L4_FIELD} Here the backend's view of the connection does not match the client's, or forwarding headers were added: an HTTP proxy terminates the client connection and opens (or pools) its own. Keep-alive pinning cannot happen through it; client addresses reach the backend only through X-Forwarded-For / Forwarded.`,
    remedy: 'Nothing to fix. If you expected a layer-4 path (client IP preserved, TLS passthrough), check the virtual server / Service type.',
    metrics,
  };
}

// connection-churn, no-backend-identity ------------------------------------------------------

function connectionChurn(m: ModeTally): Finding | null {
  if (m.mode !== 'keepalive' || m.requests === 0) return null;
  const lanes = Math.max(1, m.lanes);
  if (m.connectionsOpened <= 2 * lanes) return null;
  const perConn = m.requests / Math.max(1, m.connectionsOpened);
  return {
    id: 'connection-churn',
    severity: 'info',
    mode: m.mode,
    title: `keepalive: ${m.connectionsOpened} connections opened for ${lanes} concurrent (${perConn.toFixed(1)} requests per connection): the other side ends keep-alive connections`,
    evidence: [`${m.requests} requests over ${m.connectionsOpened} connections; ${m.fresh} on new connections, ${m.reused} on reused ones`],
    explanation:
      'The server or balancer ends keep-alive connections (a `Connection: close` answer after a request limit — nginx `keepalive_requests` 1000, Envoy `max_requests_per_connection` — an idle timeout, or resets). This is a built-in connection rotation: it hides pinning over time, and costs a handshake per reconnect.',
    remedy: "Usually fine. If latency matters, raise the server's keep-alive request limit and idle timeout; if balancing matters, this rotation is what spreads the load.",
    metrics: { connections: m.connectionsOpened, requestsPerConnection: perConn },
  };
}

function noIdentity(modes: readonly ModeTally[]): Finding | null {
  let responses = 0;
  for (const m of modes) for (const n of m.statuses.values()) responses += n;
  const unidentified = modes.reduce((s, m) => s + m.unidentified, 0);
  if (responses === 0 || unidentified < responses * 0.5) return null;
  return {
    id: 'no-backend-identity',
    severity: 'info',
    title: `${unidentified} of ${responses} responses did not say which backend answered`,
    evidence: [`no X-Lbdiag-Backend header, lbdiag JSON, \`Hostname:\` line or short plain body in ${unidentified} responses`],
    explanation: 'Without knowing which backend answered, the probe can count errors and latency but not balancing.',
    remedy: 'Run `lbdiag whoami` on the backends, or point the probe at something backend-specific: --backend-from header:X-Served-By, json:path.to.name, regex:\'server=(\\w+)\' or body.',
    metrics: { responses, unidentified },
  };
}
