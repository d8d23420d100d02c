/**
 * Small real h2c backends for the HTTP/2 balancer tests (node:http2, clear text, prior knowledge):
 * a GET answers its name (body and `x-lbdiag-backend`), `/lbdiag.v1.WhoAmI/Get` answers a gRPC
 * GetResponse whose backend is the name (grpc-status in trailers), any other gRPC path a
 * trailers-only UNIMPLEMENTED. Optional GOAWAY after `maxAgeMs`, and REFUSED_STREAM for the first
 * `refuseFirst` streams. And clients: many streams over one
 * HTTP/2 connection, with the backend of each.
 */
import http2 from 'node:http2';
import type net from 'node:net';
import {
  GRPC_CONTENT_TYPE,
  GRPC_STATUS,
  WHOAMI_GET_PATH,
  decodeGetResponse,
  encodeGetRequest,
  encodeGetResponse,
  frameMessage,
  unframeMessage,
} from '../../src/wire/grpc.js';

export interface H2cBackend {
  name: string;
  host: string;
  port: number;
  /** Streams this backend answered. */
  streams(): number;
  /** HTTP/2 connections it accepted. */
  sessions(): number;
  stop(): Promise<void>;
}

export async function startH2cBackend(o: { host: string; name: string; maxAgeMs?: number; refuseFirst?: number }): Promise<H2cBackend> {
  let toRefuse = o.refuseFirst ?? 0;
  let streams = 0;
  let sessions = 0;
  const open = new Set<http2.ServerHttp2Session>();
  const server = http2.createServer();
  server.on('session', (s) => {
    sessions++;
    open.add(s);
    s.on('error', () => {});
    s.on('close', () => open.delete(s));
    if (o.maxAgeMs) {
      const t = setTimeout(() => {
        if (!s.closed && !s.destroyed) s.close(); // close() sends GOAWAY and lets streams in flight finish
      }, o.maxAgeMs);
      s.on('close', () => clearTimeout(t));
    }
  });
  server.on('stream', (stream, headers) => {
    stream.on('error', () => {});
    if (toRefuse > 0) {
      // RST_STREAM(REFUSED_STREAM) without reading it: RFC 9113 8.7, the client may retry it.
      toRefuse--;
      stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
      return;
    }
    streams++;
    const ct = String(headers['content-type'] ?? '');
    if (!ct.startsWith(GRPC_CONTENT_TYPE)) {
      stream.resume();
      stream.respond({ ':status': 200, 'content-type': 'text/plain', 'x-lbdiag-backend': o.name, 'x-seen-te': String(headers.te ?? ''), 'x-seen-via': String(headers.via ?? ''), 'x-seen-xff': String(headers['x-forwarded-for'] ?? '') });
      stream.end(`${o.name}\n`);
      return;
    }
    if (headers[':path'] !== WHOAMI_GET_PATH) {
      stream.resume();
      stream.respond({ ':status': 200, 'content-type': GRPC_CONTENT_TYPE, 'grpc-status': String(GRPC_STATUS.UNIMPLEMENTED), 'grpc-message': 'unknown method' }, { endStream: true });
      return;
    }
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      const req = unframeMessage(Buffer.concat(chunks));
      if (!req.ok) {
        stream.respond({ ':status': 200, 'content-type': GRPC_CONTENT_TYPE, 'grpc-status': String(GRPC_STATUS.INVALID_ARGUMENT), 'grpc-message': req.reason }, { endStream: true });
        return;
      }
      stream.respond({ ':status': 200, 'content-type': GRPC_CONTENT_TYPE, 'x-lbdiag-backend': o.name }, { waitForTrailers: true });
      stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': String(GRPC_STATUS.OK), 'grpc-message': '' }));
      const sock = stream.session?.socket as net.Socket | undefined;
      stream.end(
        frameMessage(
          encodeGetResponse({ backend: o.name, instance: o.name, pid: process.pid, conn: '1', seq: streams, stream: stream.id ?? 0, protocol: 'h2c', started: 0, remote_address: sock?.remoteAddress ?? '', remote_port: sock?.remotePort ?? 0 }),
        ),
      );
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, o.host, () => resolve());
  });
  const port = (server.address() as net.AddressInfo).port;
  return {
    name: o.name,
    host: o.host,
    port,
    streams: () => streams,
    sessions: () => sessions,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of open) s.destroy();
      }),
  };
}

export interface StreamAnswer {
  status: number;
  /** x-lbdiag-backend from the response headers ('' when none). */
  backend: string;
  headers: http2.IncomingHttpHeaders;
  trailers: http2.IncomingHttpHeaders;
  body: Buffer;
}

/** One request as a stream on `session`; bounded by `timeoutMs`. */
export function h2Request(session: http2.ClientHttp2Session, headers: http2.OutgoingHttpHeaders, body?: Buffer, timeoutMs = 5000): Promise<StreamAnswer> {
  return new Promise((resolve, reject) => {
    const req = session.request(headers, { endStream: body === undefined });
    const chunks: Buffer[] = [];
    let resHeaders: http2.IncomingHttpHeaders = {};
    let trailers: http2.IncomingHttpHeaders = {};
    req.setTimeout(timeoutMs, () => req.close(http2.constants.NGHTTP2_CANCEL));
    let gotTrailers = false;
    req.on('response', (h) => (resHeaders = h));
    req.on('trailers', (t) => {
      trailers = t;
      gotTrailers = true;
    });
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      // A trailers-only answer (no DATA, no trailing HEADERS) carries its status in the only HEADERS frame.
      if (!gotTrailers && chunks.length === 0 && resHeaders['grpc-status'] !== undefined) trailers = resHeaders;
      resolve({ status: Number(resHeaders[':status'] ?? 0), backend: String(resHeaders['x-lbdiag-backend'] ?? ''), headers: resHeaders, trailers, body: Buffer.concat(chunks) });
    });
    req.on('error', reject);
    req.on('close', () => {
      if (req.rstCode && req.rstCode !== http2.constants.NGHTTP2_NO_ERROR) reject(new Error(`stream reset, code ${req.rstCode}`));
    });
    if (body !== undefined) req.end(body);
  });
}

/** A gRPC WhoAmI/Get call as a stream on `session`: the backend named in the reply, and the grpc-status. */
export async function grpcWhoAmI(session: http2.ClientHttp2Session): Promise<{ backend: string; grpcStatus: string; answer: StreamAnswer }> {
  const answer = await h2Request(session, { ':method': 'POST', ':path': WHOAMI_GET_PATH, 'content-type': GRPC_CONTENT_TYPE, te: 'trailers' }, frameMessage(encodeGetRequest()));
  const grpcStatus = String(answer.trailers['grpc-status'] ?? '');
  const m = unframeMessage(answer.body);
  return { backend: m.ok ? decodeGetResponse(m.payload).backend : '', grpcStatus, answer };
}

/** Opens one h2c session (prior knowledge) and waits until it is connected. */
export function h2Connect(origin: string): Promise<http2.ClientHttp2Session> {
  return new Promise((resolve, reject) => {
    const s = http2.connect(origin);
    s.once('connect', () => {
      s.off('error', reject);
      s.on('error', () => {});
      resolve(s);
    });
    s.once('error', reject);
  });
}

export function countBy(xs: string[]): Record<string, number> {
  const t: Record<string, number> = {};
  for (const x of xs) t[x] = (t[x] ?? 0) + 1;
  return t;
}
