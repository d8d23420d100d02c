/**
 * A tiny HTTP backend that answers its name (body `<name>\n`, header X-Lbdiag-Backend), used where
 * the real `lbdiag whoami` is not needed: the balancer tests and the default backend inside the
 * stall namespace. Runnable as a script: `node name-server.js <host> <port> <name>` prints
 * "listening" on stdout once it listens.
 */
import http from 'node:http';
import type net from 'node:net';
import { fileURLToPath } from 'node:url';
import { BACKEND_KEY, CONN_KEY } from '../wire/identity-headers.js';

export interface NameServer {
  name: string;
  host: string;
  port: number;
  /** Requests answered so far. */
  requests(): number;
  stop(): Promise<void>;
}

export async function startNameServer(opts: { host: string; port?: number; name: string }): Promise<NameServer> {
  let count = 0;
  const server = http.createServer((req, res) => {
    count++;
    const xff = req.headers['x-forwarded-for'];
    const body = `${opts.name}\n`;
    res.writeHead(200, {
      'content-type': 'text/plain',
      'content-length': Buffer.byteLength(body),
      [BACKEND_KEY]: opts.name,
      // The connection id alone (its client's address:port), without `;seq=`: the probe's parseConn accepts it.
      [CONN_KEY]: `${req.socket.remoteAddress}:${req.socket.remotePort}`,
      ...(xff ? { 'x-seen-forwarded-for': Array.isArray(xff) ? xff.join(', ') : xff } : {}),
      ...(req.headers.via ? { 'x-seen-via': req.headers.via } : {}),
    });
    res.end(body);
  });
  server.keepAliveTimeout = 65_000;
  server.on('clientError', (_e, s) => s.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host, () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    name: opts.name,
    host: opts.host,
    port,
    requests: () => count,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Path of this file's compiled script, to run it as a child (inside a namespace). */
export const NAME_SERVER_SCRIPT = fileURLToPath(import.meta.url);

if (process.argv[1] === NAME_SERVER_SCRIPT) {
  const [host = '127.0.0.1', port = '0', name = 'backend'] = process.argv.slice(2);
  startNameServer({ host, port: Number(port), name }).then(
    (s) => {
      process.stdout.write(`listening ${s.host}:${s.port}\n`);
      const quit = (): void => void s.stop().then(() => process.exit(0));
      process.on('SIGTERM', quit);
      process.on('SIGINT', quit);
    },
    (e: Error) => {
      process.stderr.write(`name-server: ${e.message}\n`);
      process.exit(1);
    },
  );
}
