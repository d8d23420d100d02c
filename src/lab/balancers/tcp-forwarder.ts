/**
 * The builtin layer-4 balancer: a round-robin TCP forwarder. It picks a backend per accepted
 * connection and pipes bytes both ways, so every request on a keep-alive connection lands on the
 * same backend (the field's "L4 pinning"). Half-close is forwarded (allowHalfOpen); an error on
 * either side destroys both, never the process.
 */
import net from 'node:net';
import type { BackendTarget, Balancer, BalancerOptions } from './types.js';
import { RoundRobin, builtinHandle, listenOn } from './builtin.js';

export interface TcpForwarderOptions extends BalancerOptions {
  /** Give up connecting to a backend after this long (default 5000 ms); the client is reset. */
  connectTimeoutMs?: number;
  /**
   * `source`: pick the backend from a hash of the client address (haproxy `balance source`, IPVS
   * `sh`): every connection from one address reaches the same backend. Default: round robin.
   */
  pick?: 'roundrobin' | 'source';
}

/** FNV-1a of the client address: stable, spread over the backends. */
function sourceHash(addr: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < addr.length; i++) h = Math.imul(h ^ addr.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

export interface TcpForwarderStats {
  /** Connections accepted so far. */
  accepted: number;
  /** Connections open now. */
  open: number;
  /** Connections sent to each backend name. */
  perBackend: Record<string, number>;
  /** Connections that failed to reach their backend. */
  backendErrors: number;
}

export interface TcpForwarder extends Balancer {
  kind: 'builtin-l4';
  layer: 4;
  stats(): TcpForwarderStats;
}

export async function startTcpForwarder(opts: TcpForwarderOptions): Promise<TcpForwarder> {
  const roundRobin = new RoundRobin(opts.backends);
  const connectTimeoutMs = opts.connectTimeoutMs ?? 5000;
  const sockets = new Set<net.Socket>();
  const stats: TcpForwarderStats = { accepted: 0, open: 0, perBackend: {}, backendErrors: 0 };

  const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: false }, (client) => {
    stats.accepted++;
    let backend: BackendTarget | undefined;
    if (opts.pick === 'source') {
      const list = roundRobin.current(); // named, and follows setBackends
      backend = list.length ? list[sourceHash(client.remoteAddress ?? '') % list.length] : undefined;
      if (backend) stats.perBackend[backend.name!] = (stats.perBackend[backend.name!] ?? 0) + 1;
    } else backend = roundRobin.pick(stats.perBackend);
    if (!backend) {
      client.on('error', () => {});
      client.resetAndDestroy();
      return;
    }
    stats.open++;
    const upstream = net.connect({ host: backend.host, port: backend.port, allowHalfOpen: true });
    sockets.add(client);
    sockets.add(upstream);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    upstream.setTimeout(connectTimeoutMs, () => upstream.destroy(Object.assign(new Error('connect timeout'), { code: 'ETIMEDOUT' })));
    upstream.once('connect', () => upstream.setTimeout(0));
    let connected = false;
    upstream.once('connect', () => (connected = true));
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => {
      if (!connected) stats.backendErrors++;
      // Like a real L4 balancer whose backend refused or died: the client sees a reset.
      if (!client.destroyed) client.resetAndDestroy();
    });
    let closed = 0;
    const onClose = (s: net.Socket) => () => {
      sockets.delete(s);
      if (++closed === 2) stats.open--;
    };
    client.once('close', onClose(client));
    upstream.once('close', onClose(upstream));
    client.once('close', () => upstream.destroy());
    upstream.once('close', () => {
      // Upstream fully closed; if the client still has unsent data to us, let it end naturally.
      if (!client.writableEnded) client.end();
    });
    // pipe() forwards end() as a half-close, both ways.
    client.pipe(upstream);
    upstream.pipe(client);
  });
  const address = await listenOn(server, opts.listen);
  return builtinHandle({
    kind: 'builtin-l4',
    layer: 4,
    address,
    server,
    roundRobin,
    stats,
    dropConnections: () => {
      for (const s of sockets) s.destroy();
    },
  });
}
