/**
 * The builtin stand-in for "two balancer generations listening on one port" (an haproxy or nginx
 * reload whose old process never exited, both bound with SO_REUSEPORT). Node 20 cannot bind two
 * listeners to one port (`reusePort` arrived in Node 22.12), so a small front listener does the
 * kernel's part: it hashes each new connection's addresses and ports, with a random seed as the
 * kernel does, to one of the generations and pipes the bytes there. The new generation is the
 * builtin layer-7 proxy over the backends; the old one has no server left and answers every
 * request with a 503, as haproxy does for a backend without servers.
 */
import http from 'node:http';
import net from 'node:net';
import { randomInt } from 'node:crypto';
import { startHttpProxy, type BackendTarget, type Endpoint, type HttpProxy } from './balancers/index.js';
import { GENERATION_KEY } from '../wire/identity-headers.js';

export interface StaleGenerations {
  kind: 'builtin-stale';
  layer: 7;
  address: Endpoint;
  /** Where each generation really listens (behind the hashing front). */
  generations: { old: Endpoint; new: Endpoint };
  /** New connections hashed to each generation so far. */
  stats(): { old: number; new: number };
  stop(): Promise<void>;
}

const OLD_BODY = '<html><body><h1>503 Service Unavailable</h1>\nNo server is available to handle this request.\n</body></html>\n';

/** FNV-1a over the connection's 4-tuple and a seed: a stand-in for the kernel's reuseport hash. */
function tupleHash(seed: number, remote: string, remotePort: number, local: string, localPort: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  const s = `${remote}|${remotePort}|${local}|${localPort}`;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

function listen(server: net.Server, host: string, port: number): Promise<Endpoint> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve({ host, port: (server.address() as net.AddressInfo).port });
    });
  });
}

export async function startStaleGenerations(opts: { listen: Endpoint; backends: BackendTarget[] }): Promise<StaleGenerations> {
  const host = opts.listen.host;
  const oldServer = http.createServer((req, res) => {
    req.resume();
    res.writeHead(503, { 'content-type': 'text/html', 'cache-control': 'no-cache', 'content-length': Buffer.byteLength(OLD_BODY), [GENERATION_KEY]: 'old' });
    res.end(OLD_BODY);
  });
  oldServer.keepAliveTimeout = 60_000;
  oldServer.on('clientError', (_e, s) => s.destroy());
  const sockets = new Set<net.Socket>();
  const counts = { old: 0, new: 0 };
  let live: HttpProxy | undefined;
  const seed = randomInt(0, 2 ** 31);
  let gens: { old: Endpoint; new: Endpoint } | undefined;
  const front = net.createServer({ allowHalfOpen: true }, (client) => {
    if (!gens) return client.destroy();
    const h = tupleHash(seed, client.remoteAddress ?? '', client.remotePort ?? 0, client.localAddress ?? '', client.localPort ?? 0);
    const which = h % 2 === 0 ? 'old' : 'new';
    counts[which]++;
    const upstream = net.connect({ host: gens[which].host, port: gens[which].port, allowHalfOpen: true });
    sockets.add(client);
    sockets.add(upstream);
    client.once('close', () => {
      sockets.delete(client);
      upstream.destroy();
    });
    upstream.once('close', () => {
      sockets.delete(upstream);
      if (!client.writableEnded) client.end();
    });
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => {
      if (!client.destroyed) client.resetAndDestroy();
    });
    client.pipe(upstream);
    upstream.pipe(client);
  });
  const stopAll = async (): Promise<void> => {
    for (const s of sockets) s.destroy();
    await Promise.all([
      new Promise<void>((r) => (front.listening ? front.close(() => r()) : r())),
      new Promise<void>((r) => {
        if (!oldServer.listening) return r();
        oldServer.close(() => r());
        oldServer.closeAllConnections();
      }),
      live?.stop(),
    ]);
  };
  try {
    const oldAt = await listen(oldServer, host, 0);
    live = await startHttpProxy({ listen: { host, port: 0 }, backends: opts.backends });
    gens = { old: oldAt, new: { ...live.address } };
    const address = await listen(front, host, opts.listen.port);
    let stopped: Promise<void> | undefined;
    const g = gens;
    return {
      kind: 'builtin-stale',
      layer: 7,
      address,
      generations: g,
      stats: () => ({ ...counts }),
      stop: () => (stopped ??= stopAll()),
    };
  } catch (e) {
    await stopAll();
    throw e;
  }
}
