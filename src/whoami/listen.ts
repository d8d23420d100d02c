/**
 * Listening: one TCP (or, with --tls, TLS) listener per address, all handing their connections to
 * the whoami server, which sniffs each one (HTTP/2 preface or HTTP/1.x, see sniff.ts) or reads the
 * ALPN result and passes it to the shared node:http or node:http2 server; `::` made IPv6-only
 * beside an IPv4 address, a fallback to 0.0.0.0 on a machine without IPv6, and one-line usage
 * errors for the failures users meet (port taken, privileged port, unknown address).
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import net, { type Socket } from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { UsageError } from '../core/errors.js';
import type { ServerSettings } from './answers.js';
import { boundLocal } from './connections.js';
import { NODE_REQUEST_TIMEOUT_MS } from './settings.js';
import type { TlsMaterial } from './tls.js';

export type Address = { address: string; port: number };

/** What the listeners hand their events to (the whoami server, requests.ts). */
export interface Listening {
  readonly servers: net.Server[];
  readonly settings: ServerSettings;
  readonly tlsMaterial: TlsMaterial | null;
  /** `local` is the listener's own address when bound to one, null for a wildcard listener. */
  accept(socket: Socket, local: Address | null): void;
  /** A TLS handshake failed (counted; the socket is closed by node:tls). */
  tlsFailed(): void;
}

/** The node:http server every HTTP/1.x connection is handed to (it listens on nothing itself). */
export function createHttp1(s: ServerSettings, onRequest: (req: IncomingMessage, res: ServerResponse) => void, onClientError: (err: NodeJS.ErrnoException, socket: Duplex) => void): http.Server {
  const server = http.createServer(
    {
      requireHostHeader: false,
      headersTimeout: s.headersTimeoutMs,
      requestTimeout: Math.max(NODE_REQUEST_TIMEOUT_MS, s.headersTimeoutMs),
      connectionsCheckingInterval: Math.min(1000, Math.max(50, Math.floor(s.headersTimeoutMs / 4))),
    },
    onRequest,
  );
  server.keepAliveTimeout = s.idleTimeoutMs;
  server.on('clientError', onClientError);
  // node:http starts its connection tracking (headers timeout, closeIdleConnections) on
  // 'listening'; this server is handed connections instead of listening.
  server.emit('listening');
  return server;
}

function createListener(w: Listening, local: () => Address | null): net.Server {
  const m = w.tlsMaterial;
  if (!m) {
    const server = net.createServer({ noDelay: true });
    server.on('connection', (socket: Socket) => w.accept(socket, local()));
    return server;
  }
  const server = tls.createServer({ key: m.key, cert: m.cert, ALPNProtocols: ['h2', 'http/1.1'], noDelay: true } as tls.TlsOptions);
  server.on('secureConnection', (socket: tls.TLSSocket) => w.accept(socket, local()));
  server.on('tlsClientError', (_err: Error, socket: tls.TLSSocket) => {
    w.tlsFailed();
    socket.destroy();
  });
  return server;
}

export async function listenAll(w: Listening, hosts: string[], port: number, defaultHost: boolean): Promise<Address[]> {
  const v4 = hosts.some((h) => !h.includes(':'));
  const out: Address[] = [];
  try {
    for (const host of hosts) {
      // One listener per server (not per connection); `local` is known once listening.
      let local: Address | null = null;
      const server = createListener(w, () => local);
      w.servers.push(server);
      // With `::` next to an IPv4 address, `::` must be IPv6-only or the two would collide.
      const ipv6Only = host === '::' && v4;
      let addr: Address;
      try {
        addr = await listenOn(server, host, port, ipv6Only);
      } catch (e) {
        if (defaultHost && host === '::' && ['EAFNOSUPPORT', 'EADDRNOTAVAIL'].includes((e as NodeJS.ErrnoException).code ?? '')) {
          addr = await listenOn(server, '0.0.0.0', port, false); // no IPv6 on this machine
        } else throw e;
      }
      port = addr.port;
      const bound = boundLocal(addr.address);
      local = bound === null ? null : { address: bound, port: addr.port };
      out.push(addr);
    }
  } catch (e) {
    for (const srv of w.servers) srv.close();
    throw listenError(e, port);
  }
  return out;
}

function listenOn(server: net.Server, host: string, port: number, ipv6Only: boolean): Promise<Address> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error): void => reject(e);
    server.once('error', onError);
    server.listen({ host, port, ipv6Only }, () => {
      server.off('error', onError);
      const a = server.address();
      if (a && typeof a === 'object') resolve({ address: a.address, port: a.port });
      else reject(new Error(`no address for ${host}`));
    });
  });
}

function listenError(e: unknown, port: number): Error {
  const err = e as NodeJS.ErrnoException & { address?: string; hostname?: string };
  const where = err.address ? `${err.address.includes(':') ? `[${err.address}]` : err.address}:${port}` : `port ${port}`;
  switch (err.code) {
    case 'EADDRINUSE':
      return new UsageError(`cannot listen on ${where}: address already in use (another server has it; pick another --port)`);
    case 'EACCES':
      return new UsageError(`cannot listen on ${where}: permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)`);
    case 'EADDRNOTAVAIL':
      return new UsageError(`cannot listen on ${where}: no such address on this machine (check --host)`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return new UsageError(`cannot listen: --host "${err.hostname ?? ''}" does not resolve`);
    default:
      return new UsageError(`cannot listen on ${where}: ${err.message}`);
  }
}
