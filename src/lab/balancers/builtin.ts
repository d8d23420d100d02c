/**
 * What the in-process balancers share: the round-robin choice over a backend list that can
 * change at runtime, listening, and the `Balancer` handle (backends, stats snapshot, idempotent stop).
 * They differ only in what they balance: connections (tcp-forwarder.ts), HTTP/1.1 requests
 * (http-proxy.ts) or HTTP/2 streams (h2-proxy.ts).
 */
import type net from 'node:net';
import { namedBackends, type BackendTarget, type Balancer, type Endpoint } from './types.js';

/** Round robin over the current list; `setBackends` takes effect for the next pick. */
export class RoundRobin {
  private list: Required<BackendTarget>[];
  private next = 0;

  constructor(backends: BackendTarget[]) {
    this.list = namedBackends(backends);
  }

  /** The next backend, counted in `perBackend`; undefined when the list is empty. */
  pick(perBackend: Record<string, number>): Required<BackendTarget> | undefined {
    if (this.list.length === 0) return undefined;
    const backend = this.list[this.next % this.list.length];
    this.next = (this.next + 1) % this.list.length;
    perBackend[backend.name] = (perBackend[backend.name] ?? 0) + 1;
    return backend;
  }

  current(): BackendTarget[] {
    return this.list.map((b) => ({ ...b }));
  }

  set(backends: BackendTarget[]): void {
    this.list = namedBackends(backends);
  }
}

/** Listens on `at` (port 0: the kernel picks) and resolves with the address clients use. */
export async function listenOn(server: net.Server, at: Endpoint): Promise<Endpoint> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: at.host, port: at.port }, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', () => {});
  return { host: at.host, port: (server.address() as net.AddressInfo).port };
}

/** The handle of an in-process balancer: `dropConnections` ends what `server.close` would wait for. */
export function builtinHandle<K extends 'builtin-l4' | 'builtin-l7' | 'builtin-h2', L extends 4 | 7, S extends { perBackend: Record<string, number> }>(o: {
  kind: K;
  layer: L;
  address: Endpoint;
  server: net.Server;
  roundRobin: RoundRobin;
  stats: S;
  dropConnections: () => void;
}): Balancer & { kind: K; layer: L; stats(): S } {
  let stopped: Promise<void> | undefined;
  return {
    kind: o.kind,
    layer: o.layer,
    address: o.address,
    pids: [],
    backends: () => o.roundRobin.current(),
    setBackends: async (list: BackendTarget[]) => o.roundRobin.set(list),
    stats: () => ({ ...o.stats, perBackend: { ...o.stats.perBackend } }),
    stop: () =>
      (stopped ??= new Promise<void>((resolve) => {
        o.server.close(() => resolve());
        o.dropConnections();
      })),
  };
}
