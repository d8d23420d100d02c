/**
 * h2c backends for the HTTP/2 balancer tests: the probe tests' backends (h2-backends.ts: a GET
 * answers its name, WhoAmI/Get a GetResponse, other gRPC paths UNIMPLEMENTED; GOAWAY after
 * `maxAgeMs`, REFUSED_STREAM for the first `refuseFirst` streams). And clients: many streams over
 * one HTTP/2 connection, with the backend of each.
 */
import http2 from 'node:http2';
import {
  GRPC_CONTENT_TYPE,
  WHOAMI_GET_PATH,
  decodeGetResponse,
  encodeGetRequest,
  frameMessage,
  unframeMessage,
} from '../../src/wire/grpc.js';
import { startH2Backend, type H2Backend } from './h2-backends.js';

/** The probe tests' h2c backend (test/support/h2-backends.ts) under the names these tests use. */
export type H2cBackend = H2Backend & { stop(): Promise<void> };

export async function startH2cBackend(o: { host: string; name: string; maxAgeMs?: number; refuseFirst?: number }): Promise<H2cBackend> {
  const b = await startH2Backend({ host: o.host, name: o.name, maxConnAgeMs: o.maxAgeMs, refuseFirst: o.refuseFirst });
  return { ...b, stop: b.close };
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
