/**
 * `lbdiag merge`: adds the `--json` documents of several probe runs (machines, zones, times) into
 * one set of tallies, one document at a time (bounded memory: each input is parsed, added and
 * dropped; what is kept per input is a few numbers per mode and its timeline buckets).
 *
 * Exact: counts add; latency histograms add bucket by bucket (`histograms` in the probe JSON);
 * timelines are placed on wall-clock time (startedAt + the mode's start) before they are added.
 * The detectors then run again on the merged tallies. Evidence that needs each request in order
 * (the 1-in-N error pattern, idle times before failures, whoami's per-request L7 signals,
 * generations) is not in the JSON: those findings are listed per client from each run's own report.
 */
import { SCHEMA_ID, envelope } from '../core/envelope.js';
import { UsageError } from '../core/errors.js';
import type { Finding } from '../core/finding.js';
import { analyse } from '../probe/analyse.js';
import { MODES, type ProbeMode } from '../probe/record.js';
import { summarizeMode, type ModeReport, type ProbeReport } from '../probe/summary.js';
import { MAX_CONN_DETAIL, ModeTally, type BackendTally } from '../probe/tally.js';
import { clientComparison, type ClientSummary } from './clients.js';
import { mixedTargets, type TargetRun } from './targets.js';

interface StoredTimeline {
  mode: ProbeMode;
  /** Epoch ms of the mode's timeline origin. */
  origin: number;
  buckets: ModeReport['timeline']['buckets'];
}

export interface MergeReport extends Omit<ProbeReport, 'command' | 'client'> {
  command: 'merge';
  inputs: number;
  clients: ClientSummary[];
}

const isObj = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

export class ProbeMerger {
  private tallies = new Map<ProbeMode, ModeTally>();
  private timelines: StoredTimeline[] = [];
  readonly clients: ClientSummary[] = [];
  private first: ProbeReport | undefined;
  private earliest = Infinity;
  private latest = -Infinity;
  private lanes = 0;
  private connId = 1;
  private targets = new Set<string>();
  private targetRuns: TargetRun[] = [];
  /** client@startedAt of every input: the same run given twice would count twice. */
  private runs = new Map<string, string>();

  /** Adds one parsed document; `name` (the file) is used in error messages. Throws UsageError on another schema or command. */
  add(doc: unknown, name: string): void {
    if (!isObj(doc)) throw new UsageError(`${name}: not a JSON object (expected the output of lbdiag probe --json)`);
    if (doc.schema !== SCHEMA_ID) throw new UsageError(`${name}: schema ${JSON.stringify(doc.schema ?? null)} is not ${SCHEMA_ID} (made by another lbdiag version?)`);
    if (doc.command !== 'probe') throw new UsageError(`${name}: a document of lbdiag ${String(doc.command)}, not of lbdiag probe`);
    if (!isObj(doc.modes) || typeof doc.startedAt !== 'string' || !Number.isFinite(Date.parse(doc.startedAt))) throw new UsageError(`${name}: no modes or startedAt: not a complete lbdiag probe --json document`);
    const r = doc as unknown as ProbeReport;
    const started = Date.parse(r.startedAt);
    const client = typeof r.client === 'string' && r.client ? r.client : name;
    const key = `${client}@${r.startedAt}`;
    const dup = this.runs.get(key);
    if (dup !== undefined) throw new UsageError(`${name}: the same run as ${dup} (client ${client}, started ${r.startedAt}): given twice?`);
    this.runs.set(key, name);
    this.first ??= r;
    this.targets.add(r.target?.url ?? '?');
    this.targetRuns.push({ client, target: r.target?.url ?? '?' });
    this.lanes += Number(r.config?.concurrency) || 1;
    const summary: ClientSummary = { client, file: name, startedAt: r.startedAt, modes: {}, findings: (r.findings ?? []).map((f) => f.id) };
    // Backends this client reached in its whole run: its connections are pinning evidence only when
    // it could reach several (see ConnTally.clientBackends).
    const reached = new Set<string>();
    for (const mode of MODES) for (const b of (isObj(r.modes[mode]) && Array.isArray(r.modes[mode]!.backends) ? r.modes[mode]!.backends : [])) if (b.count > 0) reached.add(b.name);
    for (const mode of MODES) {
      const m = r.modes[mode];
      if (!m) continue;
      if (!isObj(m.histograms)) throw new UsageError(`${name}: mode ${mode} has no histograms (made by an lbdiag probe too old to merge exactly)`);
      const origin = started + (m.startMs ?? 0);
      this.earliest = Math.min(this.earliest, origin);
      this.latest = Math.max(this.latest, origin + (m.durationMs ?? 0));
      try {
        this.addMode(mode, m, origin, client, reached.size);
      } catch (e) {
        if (e instanceof UsageError) throw e;
        throw new UsageError(`${name}: mode ${mode}: ${(e as Error).message}`);
      }
      this.timelines.push({ mode, origin: origin, buckets: (m.timeline?.buckets ?? []).map((b) => ({ t: b.t, requests: b.requests, errors: b.errors, backends: b.backends })) });
      const conns = m.perConnection ?? [];
      const withOk = conns.filter((c) => Object.keys(c.backends).length > 0);
      summary.modes[mode] = {
        requests: m.requests,
        ok: m.ok,
        errors: m.errors,
        connections: m.connections,
        backends: Object.fromEntries(m.backends.map((b) => [b.name, b.count])),
        connectionsOneBackend: withOk.filter((c) => Object.keys(c.backends).length === 1).length,
        connectionsWithAnswers: withOk.length,
      };
    }
    this.clients.push(summary);
  }

  private tally(mode: ProbeMode): ModeTally {
    let t = this.tallies.get(mode);
    if (!t) {
      t = new ModeTally(mode);
      t.startT = 0;
      this.tallies.set(mode, t);
    }
    return t;
  }

  private addMode(mode: ProbeMode, m: ModeReport, origin: number, client: string, clientBackends: number): void {
    const t = this.tally(mode);
    t.requests += m.requests;
    t.ok += m.ok;
    t.errors += m.errors;
    t.unidentified += m.unidentified;
    t.fresh += m.requestsOnNewConnections;
    t.reused += m.requestsOnReusedConnections;
    t.failedFresh += m.errorsOnNewConnections;
    t.failedReused += m.errorsOnReusedConnections;
    t.connectionsOpened += m.connections;
    for (const [s, n] of Object.entries(m.statuses)) t.statuses.set(Number(s), (t.statuses.get(Number(s)) ?? 0) + n);
    for (const [k, v] of Object.entries(m.errorKinds)) {
      const e = t.errorKinds.get(k) ?? { count: 0, fresh: 0, reused: 0, connectPhase: 0, tlsPhase: 0 };
      e.count += v.count;
      e.fresh += v.onNew;
      e.reused += v.onReused;
      e.connectPhase += v.inConnect;
      e.tlsPhase += v.inTls ?? 0;
      t.errorKinds.set(k, e);
    }
    for (const b of m.backends) {
      let bt = t.backends.get(b.name);
      if (!bt) t.backends.set(b.name, (bt = { name: b.name, responses: 0, ok: 0, errors: 0, onReused: 0, onFresh: 0, firstT: Infinity, lastT: -Infinity, total: new ModeTally(mode).total, instances: new Map(), addresses: new Map() } as BackendTally));
      bt.responses += b.count + b.errors;
      bt.ok += b.count;
      bt.errors += b.errors;
      bt.onFresh += b.onNewConnections;
      bt.onReused += b.onReusedConnections;
      // Wall-clock ms; rebased on the earliest run in finish().
      bt.firstT = Math.min(bt.firstT, origin + b.firstSeenMs - m.startMs);
      bt.lastT = Math.max(bt.lastT, origin + b.lastSeenMs - m.startMs);
      for (const [a, n] of Object.entries(b.addresses ?? {})) bt.addresses.set(a, (bt.addresses.get(a) ?? 0) + n);
    }
    for (const c of m.perConnection ?? []) {
      t.connsSeen++;
      if (t.conns.size >= MAX_CONN_DETAIL) {
        t.connsDropped++;
        continue;
      }
      const id = this.connId++;
      const serverConns = new Set<string>();
      for (let i = 0; i < c.serverConnections; i++) serverConns.add(`${client}/${c.id}/${i}`);
      t.conns.set(id, {
        id,
        port: c.localPort,
        addr: c.address,
        ...(c.source !== undefined ? { src: c.source } : {}),
        firstT: origin + c.firstMs - m.startMs,
        lastT: origin + c.lastMs - m.startMs,
        requests: c.requests,
        ok: c.requests - c.errors,
        errors: c.errors,
        backends: new Map(Object.entries(c.backends)),
        serverConns,
        orderFirst: c.orderGcd !== undefined ? 0 : -1,
        orderGcd: c.orderGcd ?? 0,
        clientBackends,
      });
    }
    t.connsDropped += m.perConnectionOmitted ?? 0;
    t.connsSeen += m.perConnectionOmitted ?? 0;
    for (const a of m.addresses ?? []) {
      const at = t.addresses.get(a.address) ?? { requests: 0, ok: 0, errors: 0, backends: new Map<string, number>() };
      at.requests += a.requests;
      at.ok += a.ok;
      at.errors += a.errors;
      for (const [k, n] of Object.entries(a.backends)) at.backends.set(k, (at.backends.get(k) ?? 0) + n);
      t.addresses.set(a.address, at);
    }
    // Sources: the run's --source addresses; a run without them is one source, its client label
    // (short mode only, where every request is its own connection): the source x backend test then
    // compares the client machines themselves.
    const rows = m.sources?.length ? m.sources.map((s) => ({ key: s.source, s })) : mode === 'short' ? [{ key: `client:${client}`, s: { requests: m.requests, ok: m.ok, errors: m.errors, backends: Object.fromEntries(m.backends.map((b) => [b.name, b.count])), connectionBackends: Object.fromEntries(m.backends.map((b) => [b.name, b.count])) } }] : [];
    for (const { key, s } of rows) {
      const st = t.sources.get(key) ?? { requests: 0, ok: 0, errors: 0, backends: new Map<string, number>() };
      st.requests += s.requests;
      st.ok += s.ok;
      st.errors += s.errors;
      for (const [k, n] of Object.entries(s.backends)) st.backends.set(k, (st.backends.get(k) ?? 0) + n);
      t.sources.set(key, st);
      const sc = t.sourceConns.get(key) ?? new Map<string, number>();
      for (const [k, n] of Object.entries(s.connectionBackends)) sc.set(k, (sc.get(k) ?? 0) + n);
      t.sourceConns.set(key, sc);
    }
    const h = m.histograms!;
    t.connect.mergeJson(h.connect);
    t.ttfb.mergeJson(h.server);
    t.total.mergeJson(h.total);
    t.okTotal.mergeJson(h.ok);
    t.failedTotal.mergeJson(h.failed);
    t.totalFresh.mergeJson(h.fresh);
    if (h.tls) t.tlsHandshake.mergeJson(h.tls);
    if (m.tls) t.tls.addReport(m.tls);
  }

  finish(): MergeReport {
    if (!this.first) throw new UsageError('merge: no input documents');
    const origin = this.earliest;
    const span = Math.max(0, this.latest - origin);
    const modes: MergeReport['modes'] = {};
    const tallies: ModeTally[] = [];
    for (const mode of MODES) {
      const t = this.tallies.get(mode);
      if (!t) continue;
      t.lanes = this.lanes;
      t.endT = span;
      t.durationMs = span;
      for (const b of t.backends.values()) {
        b.firstT -= origin;
        b.lastT -= origin;
      }
      for (const c of t.conns.values()) {
        c.firstT -= origin;
        c.lastT -= origin;
      }
      // Timelines on wall-clock time: a bucket width that keeps the whole span in ~40 columns.
      const steps = [10, 20, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000, 86400000];
      const width = steps.find((s) => s * 40 >= span) ?? 86400000;
      t.timeline.bucketMs = width;
      t.timeline.buckets = [];
      for (const tl of this.timelines) {
        if (tl.mode !== mode) continue;
        for (const b of tl.buckets) {
          const i = Math.floor(Math.max(0, tl.origin + b.t - origin) / width);
          while (t.timeline.buckets.length <= i) t.timeline.buckets.push({ t: t.timeline.buckets.length * width, requests: 0, errors: 0, backends: new Map() });
          const mb = t.timeline.buckets[i];
          mb.requests += b.requests;
          mb.errors += b.errors;
          for (const [k, n] of Object.entries(b.backends)) mb.backends.set(k, (mb.backends.get(k) ?? 0) + n);
        }
      }
      tallies.push(t);
      modes[mode] = summarizeMode(t);
    }
    const findings: Finding[] = [...analyse(tallies, {}), ...clientComparison(this.clients), ...mixedTargets(this.targetRuns)];
    const f = this.first;
    return envelope(
      'merge',
      { startedAt: new Date(origin), interrupted: false, config: { ...f.config, concurrency: this.lanes, clients: this.clients.length }, findings },
      {
        inputs: this.clients.length,
        target: this.targets.size === 1 ? f.target : { ...f.target, url: [...this.targets].join(' + ') },
        durationMs: span,
        modes,
        clients: this.clients,
      },
    );
  }
}
