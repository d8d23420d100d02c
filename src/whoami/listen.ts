/**
 * Listening: one node:http server per address (all sharing the request handler), `::` made
 * IPv6-only beside an IPv4 address, a fallback to 0.0.0.0 on a machine without IPv6, and one-line
 * usage errors for the failures users meet (port taken, privileged port, unknown address).
 */
import http, { type IncomingMessage, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { UsageError } from '../core/errors.js';
import type { ServerSettings } from './answers.js';
import { boundLocal } from './connections.js';
import { NODE_REQUEST_TIMEOUT_MS } from './settings.js';

export type Address = { address: string; port: number };

/** What the listeners hand their events to (the whoami server, requests.ts). */
export interface Listening {
  readonly servers: http.Server[];
  readonly settings: ServerSettings;
  readonly onRequest: (req: IncomingMessage, res: ServerResponse) => void;
  readonly onClientError: (err: NodeJS.ErrnoException, socket: Duplex) => void;
  /** `local` is the listener's own address when bound to one, null for a wildcard listener. */
  accept(socket: Socket, local: Address | null): void;
}

export async function listenAll(w: Listening, hosts: string[], port: number, defaultHost: boolean): Promise<Address[]> {
  const s = w.settings;
  const v4 = hosts.some((h) => !h.includes(':'));
  const out: Address[] = [];
  try {
    for (const host of hosts) {
      const server = http.createServer(
        {
          requireHostHeader: false,
          headersTimeout: s.headersTimeoutMs,
          requestTimeout: Math.max(NODE_REQUEST_TIMEOUT_MS, s.headersTimeoutMs),
          connectionsCheckingInterval: Math.min(1000, Math.max(50, Math.floor(s.headersTimeoutMs / 4))),
        },
        w.onRequest,
      );
      server.keepAliveTimeout = s.idleTimeoutMs;
      // One listener per server (not per connection); `local` is known once listening.
      let local: Address | null = null;
      server.on('connection', (socket: Socket) => w.accept(socket, local));
      server.on('clientError', w.onClientError);
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

function listenOn(server: http.Server, host: string, port: number, ipv6Only: boolean): Promise<Address> {
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
