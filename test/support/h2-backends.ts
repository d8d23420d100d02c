/**
 * Small real HTTP/2 backends for the probe's HTTP/2 and gRPC tests (until whoami speaks h2c):
 * node:http2 servers, h2c by prior knowledge (no HTTP/1.1 on the port: an h2-only server), that
 * answer every stream with lbdiag whoami's identity headers (x-lbdiag-conn: <session>;seq=<stream
 * count on the session>) and answer gRPC's Health/Check and lbdiag.v1.WhoAmI/Get through the wire
 * contract (src/wire/grpc.ts), identity in the metadata too. `maxConnAgeMs` closes each session
 * with GOAWAY once it is that old (gRPC's MAX_CONNECTION_AGE).
 */
import http2 from 'node:http2';
import { randomUUID } from 'node:crypto';
import { BACKEND_KEY, CONN_KEY, INSTANCE_KEY, PID_KEY, STARTED_KEY, formatConn } from '../../src/wire/identity-headers.js';
import {
  GRPC_CONTENT_TYPE,
  HEALTH_CHECK_PATH,
  SERVING_STATUS,
  WHOAMI_GET_PATH,
  encodeGetResponse,
  encodeHealthCheckResponse,
  frameMessage,
} from '../../src/wire/grpc.js';

export interface H2Backend {
  name: string;
  host: string;
  port: number;
  /** Streams answered. */
  streams(): number;
  /** Sessions accepted. */
  sessions(): number;
  close(): Promise<void>;
}

export interface H2BackendOptions {
  name: string;
  host: string;
  port?: number;
  /** Send GOAWAY (graceful close) once a session is this old. */
  maxConnAgeMs?: number;
  /** Delay each answer by this many ms. */
  delayMs?: number;
}

export async function startH2Backend(o: H2BackendOptions): Promise<H2Backend> {
  const server = http2.createServer({ settings: { maxConcurrentStreams: 1000 } });
  const instance = randomUUID().slice(0, 8);
  const started = Date.now();
  let nextSession = 0;
  let streams = 0;
  const sessionIds = new WeakMap<http2.ServerHttp2Session, { id: number; seq: number }>();
  const all = new Set<http2.ServerHttp2Session>();
  server.on('session', (session) => {
    sessionIds.set(session, { id: ++nextSession, seq: 0 });
    all.add(session);
    session.on('close', () => all.delete(session));
    session.on('error', () => undefined);
    if (o.maxConnAgeMs !== undefined) {
      const t = setTimeout(() => {
        if (!session.closed && !session.destroyed) session.close();
      }, o.maxConnAgeMs);
      t.unref();
      session.on('close', () => clearTimeout(t));
    }
  });
  server.on('stream', (stream, headers) => {
    stream.on('error', () => undefined);
    const s = sessionIds.get(stream.session as http2.ServerHttp2Session)!;
    s.seq++;
    streams++;
    const identity = {
      [BACKEND_KEY]: o.name,
      [INSTANCE_KEY]: instance,
      [PID_KEY]: String(process.pid),
      [STARTED_KEY]: String(started),
      [CONN_KEY]: formatConn(s.id, s.seq),
    };
    const seq = s.seq;
    const answer = (): void => {
      if (stream.destroyed) return;
      const path = String(headers[':path']);
      if (String(headers['content-type'] ?? '').startsWith(GRPC_CONTENT_TYPE)) {
        let message: Uint8Array | null = null;
        if (path === HEALTH_CHECK_PATH) message = encodeHealthCheckResponse(SERVING_STATUS.SERVING);
        else if (path === WHOAMI_GET_PATH)
          message = encodeGetResponse({ backend: o.name, instance, pid: process.pid, conn: String(s.id), seq, stream: stream.id ?? 0, protocol: 'h2c', started, remote_address: stream.session?.socket?.remoteAddress ?? '', remote_port: stream.session?.socket?.remotePort ?? 0 });
        stream.resume();
        if (!message) {
          stream.respond({ ':status': 200, 'content-type': GRPC_CONTENT_TYPE, 'grpc-status': '12', 'grpc-message': 'unknown method' }, { endStream: true });
          return;
        }
        stream.respond({ ':status': 200, 'content-type': GRPC_CONTENT_TYPE, ...identity }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0' }));
        stream.end(frameMessage(message));
        return;
      }
      stream.resume();
      stream.respond({ ':status': 200, 'content-type': 'text/plain', ...identity });
      stream.end(`${o.name}\n`);
    };
    if (o.delayMs) setTimeout(answer, o.delayMs);
    else answer();
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(o.port ?? 0, o.host, () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  return {
    name: o.name,
    host: o.host,
    port,
    streams: () => streams,
    sessions: () => nextSession,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of all) s.destroy();
        server.close(() => resolve());
      }),
  };
}
