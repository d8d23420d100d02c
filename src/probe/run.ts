/**
 * `runProbe`: resolve the target, run each mode's traffic, stream records, tally, analyse.
 * Used by the `probe` command and by `lab`. Throws UsageError when the target is unreachable
 * (nothing listening, DNS failure) before any connection succeeded.
 */
import fs from 'node:fs';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { UsageError } from '../core/errors.js';
import { VERSION as version, envelope } from '../core/envelope.js';
import { analyse } from './analyse.js';
import { readLocalPortFacts, type LocalPortFacts } from './local-ports.js';
import { checkWeights } from './weights-check.js';
import { checkLocal, sourcesFor } from './sources.js';
import type { Exchange } from './connection.js';
import { runEngine, type EngineResult, type TrafficPlan } from './engine.js';
import type { H2EngineResult } from './h2-engine.js';
import { parseGrpcMethod } from './h2-options.js';
import type { H2Exchange } from './h2-session.js';
import { readPrefaceReply } from './h2-wire.js';
import type { WireCheck } from './detectors/context.js';
import { identify, parseBackendFrom, type BackendFrom } from './identity.js';
import type { ProbeMode, ProbeRecord } from './record.js';
import { buildRequest } from './request.js';
import { summarizeMode, type ProbeReport } from './summary.js';
import { ModeTally } from './tally.js';
import { parseTarget, resolveTarget } from './target.js';
import { tlsSettings } from './tls-options.js';
import type { WorkerSide, WorkersModeRun } from './workers-types.js';

export type ProbeModeOption = 'both' | ProbeMode;

export interface ProbeOptions {
  /** `host:port` or URL. */
  target: string;
  mode?: ProbeModeOption;
  /** Requests per mode (default 200 unless durationMs is set). */
  requests?: number;
  /** Duration per mode. */
  durationMs?: number;
  /** Concurrent connections (default 4). */
  concurrency?: number;
  intervalMs?: number;
  /** Requests per second, whole mode. */
  rate?: number;
  /** `--workers` (set per worker by workers.ts): see TrafficPlan.pacePhase. */
  pacePhase?: number;
  /** Per request (default 5 s). */
  timeoutMs?: number;
  method?: string;
  headers?: [string, string][];
  data?: string;
  backendFrom?: BackendFrom | string;
  /** `all`: spread connections over every address the host resolves to. */
  resolve?: 'first' | 'all';
  maxConnRequests?: number;
  maxConnAgeMs?: number;
  expect?: number;
  expectBackends?: string[];
  weights?: Map<string, number>;
  /** NDJSON file, one line per request; `-` is stdout. */
  records?: string;
  /** Short mode: who closes first (default `server`: the request says Connection: close). */
  close?: 'server' | 'client';
  /** https: a certificate problem does not fail the request (it is still reported). */
  insecure?: boolean;
  /** https: the SNI to send (default: the URL host when it is a name; none for an IP address). */
  sni?: string;
  /** https: a PEM bundle of CAs to trust instead of the system's. */
  cacert?: string;
  /** `--source`: local addresses (already parsed) to bind outgoing connections to, round robin. */
  sources?: string[];
  /** `--label`: this run's client name in `lbdiag merge` (default: the host name). */
  label?: string;
  /** `--http2`: HTTP/2 (h2c by prior knowledge on http://, ALPN h2 on https://). */
  http2?: boolean;
  /** `--grpc`: unary gRPC calls over HTTP/2 (implies http2). */
  grpc?: boolean;
  /** `--grpc-method`: Service/Method (default grpc.health.v1.Health/Check). */
  grpcMethod?: string;
  /** `--streams`: concurrent streams per HTTP/2 connection (default 1). */
  streams?: number;
}

/** The protocol a run spoke: `http1`, `h2` (--http2) or `grpc` (--grpc, over HTTP/2). */
export type ProbeProtocol = 'http1' | 'h2' | 'grpc';

export interface ProbeProgress {
  mode: ProbeMode;
  done: number;
  /** Planned requests in this mode (undefined when running for a duration). */
  total?: number;
  elapsedMs: number;
  durationMs?: number;
  rate: number;
  errors: number;
  backends: number;
}

export interface ProbeHooks {
  onProgress?: (p: ProbeProgress) => void;
  signal?: AbortSignal;
  /** `--workers`, in the main thread: each mode runs in the worker threads (src/probe/workers.ts) instead of here. */
  runMode?: WorkersModeRun;
  /** `--workers`, inside a worker thread (src/probe/workers-thread.ts): the shared clock, counters and outlets. */
  inWorker?: WorkerSide;
}

export const DEFAULT_REQUESTS = 200;
export const DEFAULT_CONCURRENCY = 4;
export const DEFAULT_TIMEOUT_MS = 5000;
export const DEFAULT_ROTATE_REQUESTS = 10;

const UNREACHABLE = new Set(['refused', 'unreachable', 'dns', 'timeout', 'no-local-port']);
/** Connects, then nothing (not one byte) before the deadline: a black hole, when it is all the target ever does. */
const SILENT = 'timeout';

function describeKind(kind: string): string {
  switch (kind) {
    case 'refused':
      return 'connection refused (nothing listening?)';
    case 'timeout':
      return 'connect timed out (filtered, or no route?)';
    case 'silent':
      return 'connections are accepted but not one byte of an answer came back within --timeout (a black hole: a balancer with no backend answering, or a filter after the handshake)';
    case 'unreachable':
      return 'host or network unreachable';
    default:
      return kind;
  }
}

export async function runProbe(options: ProbeOptions, hooks: ProbeHooks = {}): Promise<ProbeReport> {
  const target = parseTarget(options.target);
  const tls = tlsSettings(target, { sni: options.sni, insecure: options.insecure, cacert: options.cacert });
  const all = hooks.inWorker?.resolved ?? (await resolveTarget(target));
  const addresses = options.resolve === 'all' ? all : [all[0]];
  let sources: string[] | undefined;
  if (options.sources?.length) {
    checkLocal(options.sources);
    sources = sourcesFor(options.sources, addresses);
  }
  const modeOpt = options.mode ?? 'both';
  const modes: ProbeMode[] = modeOpt === 'both' ? ['keepalive', 'short'] : [modeOpt];
  const concurrency = options.concurrency ?? DEFAULT_CONCURRENCY;
  const requests = options.durationMs === undefined ? (options.requests ?? DEFAULT_REQUESTS) : options.requests;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const backendFrom = typeof options.backendFrom === 'string' ? parseBackendFrom(options.backendFrom) : (options.backendFrom ?? { kind: 'auto' as const });
  let maxConnRequests = options.maxConnRequests;
  if (modes.includes('rotate') && maxConnRequests === undefined && options.maxConnAgeMs === undefined) maxConnRequests = DEFAULT_ROTATE_REQUESTS;
  const method = (options.method ?? 'GET').toUpperCase();
  const spec = { method, headers: options.headers ?? [], data: options.data, userAgent: `lbdiag-probe/${version}` };
  const close = options.close ?? 'server';
  const payload = buildRequest(target, spec, false);
  // `--close client`: short-lived requests do not ask the server to close; the client closes after the answer.
  const payloadClose = buildRequest(target, spec, close === 'server');
  const protocol: ProbeProtocol = options.grpc ? 'grpc' : options.http2 ? 'h2' : 'http1';
  const streams = options.streams ?? 1;
  const grpcPath = options.grpc ? parseGrpcMethod(options.grpcMethod) : undefined;
  // The HTTP/2 engine and the gRPC codec load only for runs that speak them (protobufjs costs start-up time).
  const h2 = protocol === 'http1' ? undefined : { ...(await import('./h2-engine.js')), ...(await import('./h2-request.js')) };
  const h2Request = h2 === undefined ? undefined : grpcPath ? h2.buildGrpcRequest(target, spec, grpcPath) : h2.buildH2HttpRequest(target, spec);

  const config = {
    mode: modeOpt,
    requests: requests ?? null,
    durationMs: options.durationMs ?? null,
    concurrency,
    intervalMs: options.intervalMs ?? null,
    rate: options.rate ?? null,
    timeoutMs,
    method,
    headers: spec.headers.map(([n, v]) => `${n}: ${v}`),
    backendFrom: typeof options.backendFrom === 'string' ? options.backendFrom : backendFrom.kind,
    resolve: options.resolve ?? 'first',
    maxConnRequests: maxConnRequests ?? null,
    maxConnAgeMs: options.maxConnAgeMs ?? null,
    expect: options.expect ?? null,
    expectBackends: options.expectBackends ?? null,
    weights: options.weights ? Object.fromEntries(options.weights) : null,
    close,
    sources: sources ?? null,
    protocol,
    streams: protocol === 'http1' ? null : streams,
    grpcMethod: grpcPath ?? null,
    ...(tls ? { tls: { sni: tls.servername ?? null, insecure: tls.insecure, cacert: tls.caFile ?? null } } : {}),
  };

  let out: NodeJS.WritableStream | undefined;
  let pendingOut = '';
  const toStdout = options.records === '-';
  if (toStdout) out = process.stdout;
  else if (options.records) {
    try {
      fs.writeFileSync(options.records, '');
    } catch (e) {
      throw new UsageError(`cannot write --records ${options.records}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    out = fs.createWriteStream(options.records, { flags: 'a' });
    out.on('error', () => undefined);
  }
  const flush = (): void => {
    if (pendingOut && (out || hooks.inWorker?.records)) {
      if (out) out.write(pendingOut);
      else hooks.inWorker!.records!(pendingOut);
      pendingOut = '';
    }
  };

  const startedAt = new Date();
  const t0 = hooks.inWorker?.t0 ?? performance.now();
  const tallies: ModeTally[] = [];
  let connectedOnce = false;
  let connectFailures = 0;
  let unreachableKind: string | undefined;
  let silentFailures = 0;
  let localPorts: LocalPortFacts | undefined;
  const inFlightAborted = new Map<ProbeMode, number>();
  const internal = new AbortController();
  const onOuterAbort = (): void => internal.abort();
  hooks.signal?.addEventListener('abort', onOuterAbort);
  let nextConnId = 1;
  const deepSeen = new Set<number>();
  const h2Facts = new Map<ProbeMode, { goaways: number; retried: number }>();
  const wire: WireCheck = {};

  try {
    for (const mode of modes) {
      if (internal.signal.aborted) break;
      const tally = new ModeTally(mode, hooks.inWorker?.timelineBucketMs ?? timelineBucket(options, requests, concurrency));
      tally.lanes = concurrency;
      tally.startT = hooks.inWorker?.startT ?? performance.now() - t0;
      tallies.push(tally);
      let lastProgress = 0;
      const onExchange = (ex: Exchange & Partial<Pick<H2Exchange, 'stream'>>, conn: { id: number; localPort: number; endpoint: { address: string; localAddress?: string } }, started: number, order: number): void => {
        // Two literals rather than a conditional spread (this runs per request): the same fields in the same order.
        const src = conn.endpoint.localAddress;
        const rec: ProbeRecord =
          src === undefined
            ? { mode, t: round(started - t0), conn: conn.id, port: conn.localPort, addr: conn.endpoint.address, reused: ex.reused, seq: ex.seq, order, totalMs: round(ex.totalMs) }
            : { mode, t: round(started - t0), conn: conn.id, port: conn.localPort, addr: conn.endpoint.address, src, reused: ex.reused, seq: ex.seq, order, totalMs: round(ex.totalMs) };
        if (ex.idleMs !== undefined) rec.idleMs = round(ex.idleMs);
        if (ex.connectMs !== undefined) rec.connectMs = round(ex.connectMs);
        if (ex.tlsMs !== undefined) rec.tlsMs = round(ex.tlsMs);
        if (ex.tls) rec.tls = ex.tls;
        if (ex.tlsError !== undefined) rec.tlsError = ex.tlsError;
        if (ex.ttfbMs !== undefined) rec.ttfbMs = round(ex.ttfbMs);
        if (ex.stream !== undefined) rec.stream = ex.stream;
        if (ex.response && ex.error !== undefined) {
          // gRPC: an answer (with its backend) that is an error all the same (grpc-status, not serving).
          rec.error = ex.error;
          rec.phase = 'response';
        }
        if (ex.response) {
          connectedOnce = true;
          rec.status = ex.response.status;
          const deep = !deepSeen.has(conn.id);
          if (deep && mode !== 'short') deepSeen.add(conn.id);
          const id = identify(ex.response, backendFrom, deep);
          if (id.backend !== undefined) rec.backend = id.backend;
          if (id.instance !== undefined) rec.instance = id.instance;
          if (id.pid !== undefined) rec.pid = id.pid;
          if (id.started !== undefined) rec.started = id.started;
          if (id.serverConn !== undefined) rec.serverConn = id.serverConn;
          if (id.serverSeq !== undefined) rec.serverSeq = id.serverSeq;
          if (id.forwarded) rec.forwarded = id.forwarded;
        } else {
          rec.error = ex.error ?? 'error';
          rec.phase = ex.phase;
          if (ex.phase !== 'connect' && rec.error === SILENT && !connectedOnce) {
            // Connected, then not one byte before the deadline: counts towards "unreachable"
            // (a black hole would otherwise cost requests / concurrency x timeout).
            if (++silentFailures >= Math.min(concurrency, 3)) {
              unreachableKind = 'silent';
              internal.abort();
            }
          } else if (ex.phase !== 'connect') connectedOnce = true;
          else if (!connectedOnce && UNREACHABLE.has(rec.error)) {
            connectFailures++;
            unreachableKind = rec.error;
            if (connectFailures >= Math.min(concurrency, 3)) internal.abort();
          }
        }
        tally.add(rec);
        if (out || hooks.inWorker?.records) {
          pendingOut += `${JSON.stringify(rec)}\n`;
          if (pendingOut.length > 65536) flush();
        }
        if (hooks.onProgress) {
          const now = performance.now();
          if (now - lastProgress > 100) {
            lastProgress = now;
            const elapsed = now - t0 - tally.startT;
            hooks.onProgress({ mode, done: tally.requests, total: requests, elapsedMs: elapsed, durationMs: options.durationMs, rate: elapsed > 0 ? (tally.requests * 1000) / elapsed : 0, errors: tally.errors, backends: tally.backends.size });
          }
        }
      };
      const endpoint = {
        port: target.port,
        timeoutMs,
        close: mode === 'short' ? close : undefined,
        headRequest: method === 'HEAD',
        tls,
      };
      const engine: TrafficPlan = {
        mode,
        addresses,
        sources,
        endpoint,
        concurrency,
        requests,
        durationMs: options.durationMs,
        intervalMs: options.intervalMs,
        rate: options.rate,
        pacePhase: options.pacePhase,
        maxConnRequests: mode === 'rotate' ? maxConnRequests : undefined,
        maxConnAgeMs: mode === 'rotate' ? options.maxConnAgeMs : undefined,
        signal: internal.signal,
        firstConnId: nextConnId,
      };
      // --workers: the main thread hands the mode to the workers (hooks.runMode) and merges their
      // tallies; each worker runs the HTTP/1.1 engine with the shared id counters (HTTP/2 runs in
      // one thread: command.ts refuses --workers with --http2/--grpc).
      const res: { connected?: boolean; unreachable?: string } & EngineResult & Partial<H2EngineResult> = hooks.runMode
        ? await hooks.runMode(mode, tally, {
            recording: out !== undefined,
            write: (ndjson) => {
              if (!out) return;
              pendingOut += ndjson;
              if (pendingOut.length > 65536) flush();
            },
            t0,
            resolved: all,
          })
        : h2 && h2Request
          ? await h2.runH2Engine({ ...engine, onExchange, request: h2Request, streams })
          : await runEngine({ ...engine, onExchange, payload, payloadClose, ids: hooks.inWorker?.ids });
      if (res.connected !== undefined) {
        connectedOnce ||= res.connected;
        unreachableKind ??= res.unreachable;
      }
      nextConnId = res.nextConnId;
      if (h2Request) h2Facts.set(mode, { goaways: res.goaways ?? 0, retried: res.retried ?? 0 });
      if (res.alpnMismatch && !wire.alpnAgreed) wire.alpnAgreed = res.alpnMismatch.agreed;
      // HTTP/2 sessions failed before the server's SETTINGS, or (plain HTTP/1.1) not one answer and
      // connections closed without a byte: look at what the server says to the HTTP/2 preface (once).
      const closedOnly = !h2Request && target.scheme === 'http' && tally.ok === 0 && (tally.errorKinds.get('closed')?.count ?? 0) * 2 > tally.requests;
      if ((res.protocolFailures || closedOnly) && !wire.prefaceReply && !internal.signal.aborted)
        wire.prefaceReply = await readPrefaceReply(addresses[0], target.port, timeoutMs, endpoint.tls);
      if (res.inFlightAborted) inFlightAborted.set(mode, res.inFlightAborted);
      if (!localPorts && tally.errorKinds.has('no-local-port')) localPorts = readLocalPortFacts(addresses[0], target.port, close);
      tally.connectionsOpened = res.connections;
      tally.durationMs = res.endedAt - res.startedAt;
      hooks.inWorker?.onMode(tally, { startT: res.startedAt - t0, endT: res.endedAt - t0, connections: res.connections, inFlightAborted: res.inFlightAborted, connected: connectedOnce, unreachable: unreachableKind });
      if (!connectedOnce && unreachableKind) {
        throw new UsageError(`cannot reach ${target.hostHeader}${addresses.length > 1 || addresses[0] !== target.host ? ` (${addresses.join(', ')})` : ''}: ${describeKind(unreachableKind)}`);
      }
    }
  } finally {
    hooks.signal?.removeEventListener('abort', onOuterAbort);
    flush();
    if (out && !toStdout) await new Promise<void>((r) => out!.end(r));
  }

  const seen = new Set<string>();
  for (const t of tallies) for (const b of t.backends.values()) if (b.ok > 0) seen.add(b.name);
  const weightsCheck = checkWeights(options.weights, seen, options.expectBackends);
  const analysed = [
    ...analyse(tallies, { protocol, wire, ...(h2Facts.size ? { goaways: Object.fromEntries([...h2Facts].map(([mode, f]) => [mode, f.goaways])) } : {}), expect: options.expect, expectBackends: options.expectBackends, weights: weightsCheck.weights, localPorts }),
    ...weightsCheck.findings,
  ];
  const report: ProbeReport = envelope(
    'probe',
    { startedAt, interrupted: Boolean(hooks.signal?.aborted), config, findings: analysed },
    {
      client: options.label ?? os.hostname(),
      target: { url: target.url, host: target.host, port: target.port, path: target.path, addresses },
      durationMs: round(performance.now() - t0),
      modes: {} as ProbeReport['modes'],
    },
  );
  for (const t of tallies) {
    const m = summarizeMode(t);
    const cut = inFlightAborted.get(t.mode);
    if (cut) m.inFlightAborted = cut;
    const h2 = h2Facts.get(t.mode);
    if (h2) m.http2 = { streamsPerConnection: streams, goaways: h2.goaways, retried: h2.retried };
    report.modes[t.mode] = m;
  }
  if (weightsCheck.usageErrors.length) report.inputErrors = weightsCheck.usageErrors;
  return report;
}

function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}

/** Timeline bucket: aim at ~30 buckets over the planned mode length. */
function timelineBucket(o: ProbeOptions, requests: number | undefined, c: number): number {
  let planned = o.durationMs;
  if (planned === undefined && requests !== undefined) {
    if (o.rate) planned = (requests * 1000) / o.rate;
    else if (o.intervalMs) planned = (requests / c) * o.intervalMs;
  }
  if (!planned) return 10; // the timeline doubles its buckets as the run goes on
  const raw = planned / 30;
  const steps = [10, 20, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000, 30000, 60000];
  return steps.find((s) => s >= raw) ?? 60000;
}
