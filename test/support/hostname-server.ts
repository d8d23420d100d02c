/**
 * A fast backend that is NOT lbdiag whoami: it answers traefik/whoami-style bodies
 * (`Hostname: <name>` then a few lines) and sends no X-Lbdiag-* header, so the probe has no
 * server-side view of the connection and must tell L4 from L7 by its client side alone.
 * Optional `lbdiag` identity headers (instance/started/pid) make it stand in for a whoami
 * generation in the stale-instance tests. Runnable as a script:
 * `node hostname-server.js <host> <port> <name> [instance started]` prints "listening" once ready.
 */
import http from 'node:http';
import { BACKEND_KEY, INSTANCE_KEY, PID_KEY, STARTED_KEY } from '../../src/wire/identity-headers.js';
import type net from 'node:net';
import { fileURLToPath } from 'node:url';

export interface HostnameServer {
  host: string;
  port: number;
  stop(): Promise<void>;
}

export interface HostnameServerOptions {
  host: string;
  port?: number;
  name: string;
  /** Send lbdiag whoami identity headers for this generation (X-Lbdiag-Backend/Instance/Started/Pid). */
  generation?: { instance: string; started: number };
}

export async function startHostnameServer(o: HostnameServerOptions): Promise<HostnameServer> {
  const server = http.createServer((req, res) => {
    req.resume();
    const body = `Hostname: ${o.name}\nIP: ${o.host}\nRemoteAddr: ${req.socket.remoteAddress}:${req.socket.remotePort}\nGET ${req.url} HTTP/1.1\n`;
    const headers: http.OutgoingHttpHeaders = { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(body) };
    if (o.generation) {
      headers[BACKEND_KEY] = o.name;
      headers[INSTANCE_KEY] = o.generation.instance;
      headers[STARTED_KEY] = String(o.generation.started);
      headers[PID_KEY] = String(process.pid);
    }
    res.writeHead(200, headers);
    res.end(body);
  });
  server.keepAliveTimeout = 65_000;
  server.on('clientError', (_e, s) => s.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: o.port ?? 0, host: o.host, exclusive: false }, () => resolve());
  });
  return {
    host: o.host,
    port: (server.address() as net.AddressInfo).port,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export const HOSTNAME_SERVER_SCRIPT = fileURLToPath(import.meta.url);

if (process.argv[1] === HOSTNAME_SERVER_SCRIPT) {
  const [host = '127.0.0.1', port = '0', name = 'backend', instance, started] = process.argv.slice(2);
  const generation = instance ? { instance, started: Number(started) } : undefined;
  startHostnameServer({ host, port: Number(port), name, generation }).then(
    (s) => {
      process.stdout.write(`listening ${s.host}:${s.port}\n`);
      const quit = (): void => void s.stop().then(() => process.exit(0));
      process.on('SIGTERM', quit);
      process.on('SIGINT', quit);
    },
    (e: Error) => {
      process.stderr.write(`hostname-server: ${e.message}\n`);
      process.exit(1);
    },
  );
}
