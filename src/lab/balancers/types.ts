/**
 * What every balancer the lab can start looks like, whatever runs it (this process, haproxy,
 * nginx): where it listens, whether it balances connections (layer 4) or requests (layer 7), which
 * processes it runs, and how to stop it.
 */
export interface Endpoint {
  host: string;
  port: number;
}

export interface BackendTarget extends Endpoint {
  /** A label for configs and messages; defaults to `b1`, `b2`, ... */
  name?: string;
}

export type BalancerKind =
  | 'builtin-l4'
  | 'builtin-l7'
  | 'builtin-h2'
  | 'haproxy-tcp'
  | 'haproxy-http'
  | 'haproxy-h2'
  | 'haproxy-stale'
  | 'nginx-http'
  | 'nginx-stream'
  | 'nginx-grpc';

export interface Balancer {
  kind: BalancerKind;
  layer: 4 | 7;
  /** Where clients connect. */
  address: Endpoint;
  /** The main external process (haproxy, nginx master); undefined for the builtin ones (in-process). */
  pid?: number;
  /** Every external process it runs (the stale-listener pair has two); empty for builtin ones. */
  pids: number[];
  /** The backends it balances across right now. */
  backends(): BackendTarget[];
  /**
   * Replaces the backend list at runtime. Builtin: takes effect for the next connection (L4) or
   * request (L7); existing L4 connections keep their backend, as with any L4 balancer.
   * haproxy: a reload (a new process with `-sf old`; the old one finishes its connections).
   * nginx: a reload (SIGHUP to the master).
   */
  setBackends(backends: BackendTarget[]): Promise<void>;
  /** Stops it and everything it started (processes by pid, temp dirs); idempotent. */
  stop(): Promise<void>;
}

export interface BalancerOptions {
  listen: Endpoint;
  backends: BackendTarget[];
}

/** Names the backends that have none: b1, b2, ... (in list order). */
export function namedBackends(backends: BackendTarget[]): Required<BackendTarget>[] {
  return backends.map((b, i) => ({ host: b.host, port: b.port, name: b.name ?? `b${i + 1}` }));
}

/** "host:port", with brackets for IPv6. */
export function formatEndpoint(e: Endpoint): string {
  return e.host.includes(':') ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`;
}
