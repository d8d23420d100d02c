/**
 * `probe --workers`: the worker threads' tallies of one mode, added into the main thread's tally.
 *
 * Exact wherever one thread's tally is: counts add, latency histograms add bucket by bucket (as
 * `lbdiag merge` adds runs: Histogram.merge), per-connection rows keep their run-wide connection
 * numbers and dispatch orders (the workers draw both from shared counters), timelines share their
 * origin and are re-bucketed to the widest bucket any worker reached (widths double from the same
 * start, so the coarser grid is exact). Two facts depend on one thread seeing every request in turn
 * and are combined conservatively: the completion-order gaps between failures (`errorGaps`, only
 * used when no dispatch order is known) add per worker; an instance's fresh answers before a newer
 * instance appeared (`freshBefore`, stale-instance) count a worker that never saw the newer one as
 * "before" (less evidence of a stale instance, never more).
 *
 * Every field of ModeTally has a rule here; test/probe-workers-merge.test.ts fails when a field is
 * added without one (the generic rule for unknown fields adds numbers, maps and histograms and
 * unites sets, which is right for counters but must be checked for anything else).
 */
import { Histogram } from '../core/histogram.js';
import { MAX_CONN_DETAIL, MAX_FAIL_ORDERS, type AddressTally, type BackendTally, type ConnTally, type InstanceTally, type ModeTally } from './tally.js';
import { TlsTally } from './tls-tally.js';
import type { TimelineBucket } from './timeline.js';

type Any = Record<string, unknown>;

const SUMS = ['requests', 'ok', 'errors', 'fresh', 'reused', 'failedFresh', 'failedReused', 'unidentified', 'connsSeen', 'connsDropped', 'failedIdentified', 'seqChecked', 'seqMismatch', 'forwardedChecked', 'connectionsOpened'] as const;
const COUNT_MAPS = ['statuses', 'errorGaps', 'forwarded'] as const;
const HISTOGRAMS = ['connect', 'tlsHandshake', 'ttfb', 'total', 'totalFresh', 'failedTotal', 'okTotal', 'idleAll', 'idleFailed'] as const;
/** Fields with their own rule below, or set by the runner after the merge (durationMs, lanes), or fixed (mode). */
const SPECIAL = ['mode', 'tls', 'errorKinds', 'backends', 'conns', 'addresses', 'sources', 'sourceConns', 'timeline', 'failOrders', 'startT', 'endT', 'lastErrorIndex', 'durationMs', 'lanes'] as const;

/** The ModeTally fields this module knows how to merge (the test compares them with a fresh ModeTally's). */
export const MERGE_RULES: readonly string[] = [...SUMS, ...COUNT_MAPS, ...HISTOGRAMS, ...SPECIAL];

function addCounts<K>(into: Map<K, number>, from: Map<K, number>): void {
  for (const [k, n] of from) into.set(k, (into.get(k) ?? 0) + n);
}

const isHistogram = (x: unknown): boolean => typeof x === 'object' && x !== null && (x as Any).counts instanceof Uint32Array && typeof (x as Any).count === 'number';

/** A histogram that came through postMessage (its fields, not its prototype). */
function addHistogram(into: Histogram, from: unknown): void {
  into.merge(from as Histogram);
}

function addAddress(into: Map<string, AddressTally>, from: Map<string, AddressTally>): void {
  for (const [k, a] of from) {
    let t = into.get(k);
    if (!t) into.set(k, (t = { requests: 0, ok: 0, errors: 0, backends: new Map() }));
    t.requests += a.requests;
    t.ok += a.ok;
    t.errors += a.errors;
    addCounts(t.backends, a.backends);
  }
}

function addBackends(into: Map<string, BackendTally>, froms: Map<string, BackendTally>[]): void {
  for (const from of froms) {
    for (const [name, b] of from) {
      let t = into.get(name);
      if (!t) into.set(name, (t = { name, responses: 0, ok: 0, errors: 0, onReused: 0, onFresh: 0, firstT: b.firstT, lastT: b.lastT, total: new Histogram(), instances: new Map(), addresses: new Map() }));
      t.responses += b.responses;
      t.ok += b.ok;
      t.errors += b.errors;
      t.onReused += b.onReused;
      t.onFresh += b.onFresh;
      t.firstT = Math.min(t.firstT, b.firstT);
      t.lastT = Math.max(t.lastT, b.lastT);
      addHistogram(t.total, b.total);
      addCounts(t.addresses, b.addresses);
    }
  }
  for (const [name, t] of into) addInstances(t, froms.map((f) => f.get(name)?.instances).filter((m): m is Map<string, InstanceTally> => m !== undefined));
}

function addInstances(b: BackendTally, froms: Map<string, InstanceTally>[]): void {
  if (froms.length === 0) return;
  const merged = new Map<string, InstanceTally>(b.instances);
  for (const from of froms) {
    for (const [key, i] of from) {
      let t = merged.get(key);
      if (!t) merged.set(key, (t = { instance: key, pid: i.pid, pids: new Set(), started: i.started, count: 0, firstT: i.firstT, lastT: i.lastT, fresh: 0, freshBefore: new Map() }));
      t.count += i.count;
      t.fresh += i.fresh;
      for (const p of i.pids) if (t.pids.size < 64) t.pids.add(p);
      t.started ??= i.started;
      t.pid ??= i.pid;
      t.firstT = Math.min(t.firstT, i.firstT);
      t.lastT = Math.max(t.lastT, i.lastT);
    }
  }
  // In order of first appearance over the whole run (one thread's map order), capped as one thread caps it.
  const ordered = [...merged.values()].sort((x, y) => x.firstT - y.firstT).slice(0, 64);
  for (const o of ordered) {
    for (const n of ordered) {
      if (n === o || n.firstT < o.firstT) continue;
      if (b.instances.get(o.instance)?.freshBefore.has(n.instance)) continue;
      let before = 0;
      for (const from of froms) {
        const wo = from.get(o.instance);
        if (!wo) continue;
        const snap = wo.freshBefore.get(n.instance);
        // Seen here after o: its snapshot. Seen here before o: none of o's fresh answers came before it.
        // Never seen here: all of them counted as before (no evidence of a stale instance from this worker).
        before += snap !== undefined ? snap : from.has(n.instance) ? 0 : wo.fresh;
      }
      o.freshBefore.set(n.instance, before);
    }
  }
  b.instances = new Map(ordered.map((i) => [i.instance, i]));
}

function addConns(into: ModeTally, froms: Map<number, ConnTally>[]): void {
  const all = [...into.conns.values()];
  for (const f of froms) for (const c of f.values()) all.push(c);
  // One thread keeps the first MAX_CONN_DETAIL connections it saw: the lowest numbers.
  all.sort((a, b) => a.id - b.id);
  const kept = all.slice(0, MAX_CONN_DETAIL);
  into.connsDropped += all.length - kept.length;
  // Listed in the order their first answer came (one thread's map order, to the start time of that answer).
  kept.sort((a, b) => a.firstT - b.firstT || a.id - b.id);
  into.conns = new Map(kept.map((c) => [c.id, c]));
}

function addTimelines(into: ModeTally, froms: ModeTally['timeline'][]): void {
  const width = Math.max(into.timeline.bucketMs, ...froms.map((t) => t.bucketMs));
  const buckets: TimelineBucket[] = [];
  for (const tl of [into.timeline, ...froms]) {
    for (const b of tl.buckets) {
      const i = Math.floor(b.t / width);
      while (buckets.length <= i) buckets.push({ t: buckets.length * width, requests: 0, errors: 0, backends: new Map() });
      buckets[i].requests += b.requests;
      buckets[i].errors += b.errors;
      addCounts(buckets[i].backends, b.backends);
    }
  }
  into.timeline.bucketMs = width;
  into.timeline.buckets = buckets;
}

/** Numbers add, maps merge by key, sets unite, histograms add: the rule for fields added after this module. */
function addGeneric(into: unknown, from: unknown): unknown {
  if (typeof from === 'number' && typeof into === 'number') return into + from;
  if (isHistogram(into) && isHistogram(from)) {
    addHistogram(into as Histogram, from);
    return into;
  }
  if (from instanceof Map && into instanceof Map) {
    for (const [k, v] of from) into.set(k, into.has(k) ? addGeneric(into.get(k), v) : v);
    return into;
  }
  if (from instanceof Set && into instanceof Set) {
    for (const v of from) into.add(v);
    return into;
  }
  if (Array.isArray(from) && Array.isArray(into)) return [...into, ...from];
  return into ?? from;
}

/** Adds the workers' tallies of one mode (as received from postMessage) into `into`. */
export function mergeTallies(into: ModeTally, froms: ModeTally[]): void {
  if (froms.length === 0) return;
  const target = into as unknown as Any;
  for (const f of froms) {
    for (const k of SUMS) into[k] += f[k];
    for (const k of COUNT_MAPS) addCounts(into[k] as Map<unknown, number>, f[k] as Map<unknown, number>);
    for (const k of HISTOGRAMS) addHistogram(into[k], f[k]);
    for (const [kind, e] of f.errorKinds) {
      const t = into.errorKinds.get(kind) ?? { count: 0, fresh: 0, reused: 0, connectPhase: 0, tlsPhase: 0 };
      t.count += e.count;
      t.fresh += e.fresh;
      t.reused += e.reused;
      t.connectPhase += e.connectPhase;
      t.tlsPhase += e.tlsPhase;
      into.errorKinds.set(kind, t);
    }
    // TLS per backend and certificate: a worker's TlsTally arrives as plain fields (structured
    // clone); its JSON form adds exactly as lbdiag merge adds runs.
    into.tls.addReport(TlsTally.prototype.toJSON.call(f.tls));
    addAddress(into.addresses, f.addresses);
    addAddress(into.sources, f.sources);
    for (const [src, m] of f.sourceConns) {
      let t = into.sourceConns.get(src);
      if (!t) into.sourceConns.set(src, (t = new Map()));
      addCounts(t, m);
    }
    into.startT = Math.min(into.startT, f.startT);
    into.endT = Math.max(into.endT, f.endT);
    for (const k of Object.keys(f)) {
      if (MERGE_RULES.includes(k)) continue;
      target[k] = addGeneric(target[k], (f as unknown as Any)[k]);
    }
  }
  addBackends(into.backends, froms.map((f) => f.backends));
  addConns(into, froms.map((f) => f.conns));
  addTimelines(into, froms.map((f) => f.timeline));
  into.failOrders = [...into.failOrders, ...froms.flatMap((f) => f.failOrders)].sort((a, b) => a - b).slice(0, MAX_FAIL_ORDERS);
}
