/**
 * Small real HTTP/2 backends for the probe's HTTP/2 and gRPC tests (until whoami speaks h2c):
 * node:http2 servers, h2c by prior knowledge (no HTTP/1.1 on the port: an h2-only server), that
 * answer every stream with lbdiag whoami's identity headers (x-lbdiag-conn: <session>;seq=<stream
 * count on the session>) and answer gRPC's Health/Check and lbdiag.v1.WhoAmI/Get through the wire
 * contract (src/wire/grpc.ts), identity in the metadata too; WhoAmI/Get reads and checks its
 * request (INVALID_ARGUMENT for bad framing), any other gRPC path is a trailers-only UNIMPLEMENTED.
 * `maxConnAgeMs` closes each session with GOAWAY once it is that old (gRPC's MAX_CONNECTION_AGE);
 * `refuseFirst` resets the first streams with REFUSED_STREAM unread. Plain answers echo the TE, Via
 * and X-Forwarded-For they got (`x-seen-*`), for the balancer tests (test/support/h2c-backends.ts).
 */
import http2 from 'node:http2';
import { randomUUID } from 'node:crypto';
import { BACKEND_KEY, CONN_KEY, INSTANCE_KEY, PID_KEY, STARTED_KEY, formatConn } from '../../src/wire/identity-headers.js';
import {
  GRPC_CONTENT_TYPE,
  GRPC_STATUS,
  HEALTH_CHECK_PATH,
  SERVING_STATUS,
  WHOAMI_GET_PATH,
  encodeGetResponse,
  encodeHealthCheckResponse,
  frameMessage,
  unframeMessage,
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
  /** Reset this many first streams with REFUSED_STREAM, unread (RFC 9113 8.7: the client may retry them). */
  refuseFirst?: number;
}

export async function startH2Backend(o: H2BackendOptions): Promise<H2Backend> {
  const server = http2.createServer({ settings: { maxConcurrentStreams: 1000 } });
  const instance = randomUUID().slice(0, 8);
  const started = Date.now();
  let nextSession = 0;
  let streams = 0;
  let toRefuse = o.refuseFirst ?? 0;
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
    if (toRefuse > 0) {
      toRefuse--;
      stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
      return;
    }
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
        const reply = (message: Uint8Array): void => {
          stream.respond({ ':status': 200, 'content-type': GRPC_CONTENT_TYPE, ...identity }, { waitForTrailers: true });
          stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': String(GRPC_STATUS.OK) }));
          stream.end(frameMessage(message));
        };
        if (path === HEALTH_CHECK_PATH) {
          stream.resume();
          reply(encodeHealthCheckResponse(SERVING_STATUS.SERVING));
        } else if (path === WHOAMI_GET_PATH) {
          const chunks: Buffer[] = [];
          stream.on('data', (c: Buffer) => chunks.push(c));
          stream.on('end', () => {
            const req = unframeMessage(Buffer.concat(chunks));
            if (!req.ok) {
              stream.respond({ ':status': 200, 'content-type': GRPC_CONTENT_TYPE, 'grpc-status': String(GRPC_STATUS.INVALID_ARGUMENT), 'grpc-message': req.reason }, { endStream: true });
              return;
            }
            reply(encodeGetResponse({ backend: o.name, instance, pid: process.pid, conn: String(s.id), seq, stream: stream.id ?? 0, protocol: 'h2c', started, remote_address: stream.session?.socket?.remoteAddress ?? '', remote_port: stream.session?.socket?.remotePort ?? 0 }));
          });
        } else {
          stream.resume();
          stream.respond({ ':status': 200, 'content-type': GRPC_CONTENT_TYPE, 'grpc-status': String(GRPC_STATUS.UNIMPLEMENTED), 'grpc-message': 'unknown method' }, { endStream: true });
        }
        return;
      }
      stream.resume();
      stream.respond({ ':status': 200, 'content-type': 'text/plain', ...identity, 'x-seen-te': String(headers.te ?? ''), 'x-seen-via': String(headers.via ?? ''), 'x-seen-xff': String(headers['x-forwarded-for'] ?? '') });
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
