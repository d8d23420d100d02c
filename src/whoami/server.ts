/**
 * lbdiag whoami's programmatic API, used by the CLI, the lab and the tests: `startWhoami` checks
 * the options, makes the identity and starts listening; the handle reports, drains and closes.
 * The server itself: requests.ts (connections and requests), malformed.ts, listen.ts, drain.ts.
 */
import { createRequire } from 'node:module';
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { UsageError } from '../core/errors.js';
import type { Identity, ServerSettings } from './answers.js';
import { defaultName, isValidName, kubernetesFromEnv, newGeneration, type Generation } from './identity.js';
import type { LogFormat } from './log.js';
import type { MetricsSnapshot } from './metrics.js';
import { WhoamiServer } from './requests.js';
import { loadTls, selfSignedTls, type TlsMaterial } from './tls.js';
import { checkDuration, DEFAULT_DRAIN_DELAY_MS, DEFAULT_MAX_CONN_AGE_GRACE_MS, NODE_HEADERS_TIMEOUT_MS, NODE_KEEP_ALIVE_TIMEOUT_MS } from './settings.js';

const require = createRequire(import.meta.url);
const { version: VERSION } = require('../../../package.json') as { version: string };

export interface WhoamiOptions {
  /** Addresses to listen on; default `::` (IPv4 and IPv6 on a dual-stack kernel, else 0.0.0.0). */
  host?: string | string[];
  /** 0 picks a free port (shared by every host). */
  port: number;
  name?: string;
  /** server.keepAliveTimeout; 0 keeps idle connections open forever. Default: Node's 5 s. */
  idleTimeoutMs?: number;
  /** Close after the n-th response on a connection; 0/undefined = unlimited. Also HTTP/2 streams unless maxStreamsPerConn is set. */
  maxRequestsPerConn?: number;
  /** HTTP/2: GOAWAY after the n-th stream on a connection; undefined = maxRequestsPerConn; 0 = unlimited. */
  maxStreamsPerConn?: number;
  /** GOAWAY (HTTP/2) / Connection: close (HTTP/1.1) once a connection is this old; 0/undefined = never. */
  maxConnAgeMs?: number;
  /** HTTP/2: streams in flight after the age GOAWAY get this long before the session is destroyed. */
  maxConnAgeGraceMs?: number;
  /** Serve HTTP/1.1 and h2 by ALPN over TLS: certificate from certFile/keyFile, or self-signed (or tlsMaterial, made by the --workers primary). */
  tls?: boolean;
  certFile?: string;
  keyFile?: string;
  tlsMaterial?: TlsMaterial;
  /** server.headersTimeout (408 when request headers take longer). Default: Node's 60 s. */
  headersTimeoutMs?: number;
  /** How long drain() keeps answering (health 503, Connection: close) before it stops listening. */
  drainDelayMs?: number;
  log?: boolean | LogFormat;
  /** Where log lines go (default stdout). */
  logStream?: NodeJS.WritableStream;
  /** Put pid= in text log lines (set for --workers). */
  logPid?: boolean;
  /** Echo Authorization, Cookie and other credential headers verbatim (default: redacted, see secrets.ts). */
  echoSecrets?: boolean;
  /** The generation this process belongs to (--workers: made by the primary); default a new one. */
  generation?: Generation;
}

export interface WhoamiStats extends MetricsSnapshot {
  state: 'serving' | 'draining' | 'closed';
  healthStatus: number;
}

export interface WhoamiHandle {
  readonly name: string;
  readonly instance: string;
  readonly pid: number;
  readonly addresses: { address: string; port: number }[];
  readonly settings: ServerSettings;
  readonly identity: Identity;
  /** The certificate served with --tls (null without). */
  readonly tls: TlsMaterial | null;
  stats(): WhoamiStats;
  /** Graceful: health 503 and Connection: close at once, idle connections closed; after drainDelayMs stop listening, let in-flight requests finish. */
  drain(): Promise<void>;
  /** Immediate: stop listening and destroy every connection. */
  close(): Promise<void>;
}

export async function startWhoami(opts: WhoamiOptions): Promise<WhoamiHandle> {
  const hostList = opts.host === undefined ? [] : Array.isArray(opts.host) ? opts.host : [opts.host];
  const defaultHost = hostList.length === 0;
  const hosts = defaultHost ? ['::'] : [...new Set(hostList.map((h) => h.replace(/^\[(.*)\]$/, '$1')))];
  if (!Number.isInteger(opts.port) || opts.port < 0 || opts.port > 65535) throw new UsageError(`invalid port ${opts.port} (expected 0 to 65535)`);
  const name = opts.name ?? defaultName();
  if (!isValidName(name)) throw new UsageError(`invalid --name "${name}" (printable ASCII, it goes into a response header)`);
  const max = opts.maxRequestsPerConn ?? 0;
  if (!Number.isInteger(max) || max < 0) throw new UsageError(`invalid max requests per connection ${max}`);
  const idleTimeoutMs = checkDuration(opts.idleTimeoutMs, 'idle timeout', NODE_KEEP_ALIVE_TIMEOUT_MS);
  const headersTimeoutMs = checkDuration(opts.headersTimeoutMs, 'headers timeout', NODE_HEADERS_TIMEOUT_MS);
  if (headersTimeoutMs === 0) throw new UsageError('invalid headers timeout 0 (must be above zero)');
  const maxStreams = opts.maxStreamsPerConn ?? max;
  if (!Number.isInteger(maxStreams) || maxStreams < 0) throw new UsageError(`invalid max streams per connection ${maxStreams}`);
  const maxAge = checkDuration(opts.maxConnAgeMs, 'max connection age', 0);
  if ((opts.certFile === undefined) !== (opts.keyFile === undefined)) throw new UsageError('--cert and --key go together (or neither: --tls makes a self-signed certificate)');
  const tlsMaterial = opts.tlsMaterial ?? (opts.tls || opts.certFile !== undefined ? (opts.certFile !== undefined ? loadTls(opts.certFile, opts.keyFile!) : await selfSignedTls(hosts)) : null);
  const settings: ServerSettings = {
    idleTimeoutMs,
    idleTimeoutIsDefault: opts.idleTimeoutMs === undefined,
    maxRequestsPerConn: max > 0 ? max : null,
    headersTimeoutMs,
    headersTimeoutIsDefault: opts.headersTimeoutMs === undefined,
    drainDelayMs: checkDuration(opts.drainDelayMs, 'drain delay', DEFAULT_DRAIN_DELAY_MS),
    maxStreamsPerConn: maxStreams > 0 ? maxStreams : null,
    maxConnAgeMs: maxAge > 0 ? maxAge : null,
    maxConnAgeGraceMs: checkDuration(opts.maxConnAgeGraceMs, 'max connection age grace', DEFAULT_MAX_CONN_AGE_GRACE_MS),
    tls: tlsMaterial !== null,
  };
  const generation = opts.generation ?? newGeneration();
  const identity: Identity = {
    name,
    hostname: os.hostname(),
    pid: process.pid,
    instance: generation.instance,
    started: generation.startedMs,
    version: VERSION,
    startedAt: new Date().toISOString(),
    startedMono: performance.now(),
    kubernetes: kubernetesFromEnv(),
  };
  const log: LogFormat | null = opts.log === true ? 'text' : opts.log ? opts.log : null;
  const w = new WhoamiServer(identity, settings, log, opts.logPid ?? false, opts.logStream ?? process.stdout, opts.echoSecrets ?? false, generation, tlsMaterial);
  const addresses = await w.listen(hosts, opts.port, defaultHost);
  return {
    name,
    instance: identity.instance,
    pid: identity.pid,
    addresses,
    settings,
    identity,
    tls: tlsMaterial,
    stats: () => ({ ...w.metrics.snapshot(), state: w.state, healthStatus: w.healthStatus }),
    drain: () => w.lifecycle.drain(),
    close: () => w.lifecycle.close(),
  };
}
