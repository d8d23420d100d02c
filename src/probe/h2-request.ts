/**
 * The request every HTTP/2 stream of a mode sends, built once: an HTTP request (`--http2`) or a
 * unary gRPC call (`--grpc`: grpc.health.v1.Health/Check by default, `--grpc-method` for another,
 * e.g. lbdiag.v1.WhoAmI/Get). gRPC messages are encoded and decoded only by src/wire/grpc.ts.
 * A gRPC answer is an error when grpc-status is not 0 (the kind names the status), when the
 * health check says the service is not serving, or when no grpc-status came at all.
 */
import http2 from 'node:http2';
import { BACKEND_KEY, CONN_KEY, INSTANCE_KEY, PID_KEY, STARTED_KEY, formatConn } from '../wire/identity-headers.js';
import {
  GRPC_CONTENT_TYPE,
  HEALTH_CHECK_PATH,
  SERVING_STATUS,
  WHOAMI_GET_PATH,
  decodeGetResponse,
  decodeHealthCheckResponse,
  encodeGetRequest,
  encodeHealthCheckRequest,
  frameMessage,
  unframeMessage,
} from '../wire/grpc.js';
import type { H2Request } from './h2-session.js';
import type { HttpResponse } from './http-response.js';
import type { RequestSpec } from './request.js';
import type { Target } from './target.js';

const { HTTP2_HEADER_METHOD, HTTP2_HEADER_PATH, HTTP2_HEADER_AUTHORITY, HTTP2_HEADER_SCHEME } = http2.constants;

/** Connection-specific headers HTTP/2 forbids (RFC 9113 8.2.2); `-H` values for them are dropped. */
const FORBIDDEN = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'host', 'te']);

/** An HTTP request over HTTP/2: the same method, path, headers and body as the HTTP/1.1 request. */
export function buildH2HttpRequest(t: Target, spec: RequestSpec): H2Request {
  const headers: http2.OutgoingHttpHeaders = {
    [HTTP2_HEADER_METHOD]: spec.method,
    [HTTP2_HEADER_PATH]: t.path,
    [HTTP2_HEADER_SCHEME]: t.scheme,
    [HTTP2_HEADER_AUTHORITY]: hostOverride(spec) ?? t.hostHeader,
  };
  const names = new Set(spec.headers.map(([n]) => n.toLowerCase()));
  if (!names.has('user-agent')) headers['user-agent'] = spec.userAgent;
  if (!names.has('accept')) headers.accept = '*/*';
  for (const [n, v] of spec.headers) if (!FORBIDDEN.has(n.toLowerCase())) headers[n.toLowerCase()] = v;
  const body = spec.data !== undefined ? Buffer.from(spec.data) : undefined;
  return { headers, body, bodyCap: 16 * 1024 };
}

function hostOverride(spec: RequestSpec): string | undefined {
  return spec.headers.find(([n]) => n.toLowerCase() === 'host')?.[1];
}

/** gRPC status names (grpc/doc/statuscodes.md), for error kinds: grpc-unavailable, grpc-unimplemented, ... */
const STATUS_NAMES = ['ok', 'cancelled', 'unknown', 'invalid-argument', 'deadline-exceeded', 'not-found', 'already-exists', 'permission-denied', 'resource-exhausted', 'failed-precondition', 'aborted', 'out-of-range', 'unimplemented', 'internal', 'unavailable', 'data-loss', 'unauthenticated'];

export function grpcStatusKind(code: number): string {
  return `grpc-${STATUS_NAMES[code] ?? `status-${code}`}`;
}

/**
 * A unary gRPC call. The request message: an empty HealthCheckRequest for Health/Check, an empty
 * GetRequest for WhoAmI/Get, an empty message for any other method (proto3: every field default).
 */
export function buildGrpcRequest(t: Target, spec: RequestSpec, path: string): H2Request {
  const message = path === HEALTH_CHECK_PATH ? encodeHealthCheckRequest() : path === WHOAMI_GET_PATH ? encodeGetRequest() : new Uint8Array(0);
  const headers: http2.OutgoingHttpHeaders = {
    [HTTP2_HEADER_METHOD]: 'POST',
    [HTTP2_HEADER_PATH]: path,
    [HTTP2_HEADER_SCHEME]: t.scheme,
    [HTTP2_HEADER_AUTHORITY]: hostOverride(spec) ?? t.hostHeader,
    'content-type': GRPC_CONTENT_TYPE,
    te: 'trailers',
    'user-agent': `grpc-node-lbdiag ${spec.userAgent}`,
  };
  for (const [n, v] of spec.headers) if (!FORBIDDEN.has(n.toLowerCase()) && n.toLowerCase() !== 'content-type') headers[n.toLowerCase()] = v;
  return { headers, body: frameMessage(message), bodyCap: 64 * 1024, finish: (res, trailers) => finishGrpc(res, trailers, path) };
}

/**
 * Reads a gRPC answer: grpc-status (trailers, or the headers of a trailers-only answer), the
 * health status, and for WhoAmI/Get the identity in the reply, as x-lbdiag-* headers when the
 * metadata did not carry them (so the probe's one identity reader handles every protocol) and as
 * a JSON body (so `--backend-from json:backend` works on the decoded reply).
 */
function finishGrpc(res: HttpResponse, trailers: Record<string, string>, path: string): { error?: string } {
  const statusText = trailers['grpc-status'] ?? res.headers['grpc-status'];
  for (const [k, v] of Object.entries(trailers)) if (!(k in res.headers)) res.headers[k] = v;
  if (res.status !== 200 && statusText === undefined) return { error: res.status >= 500 ? undefined : 'grpc-http-status' };
  if (statusText === undefined) return { error: 'grpc-no-status' };
  const code = Number(statusText);
  if (code !== 0) return { error: grpcStatusKind(code) };
  const framed = unframeMessage(res.body);
  if (!framed.ok) return { error: framed.reason === 'incomplete' ? 'grpc-no-message' : `grpc-${framed.reason}` };
  try {
    if (path === HEALTH_CHECK_PATH) {
      const { status } = decodeHealthCheckResponse(framed.payload);
      res.body = Buffer.alloc(0);
      if (status !== SERVING_STATUS.SERVING) return { error: 'not-serving' };
    } else if (path === WHOAMI_GET_PATH) {
      const r = decodeGetResponse(framed.payload);
      const h = res.headers;
      if (h[BACKEND_KEY] === undefined && r.backend) {
        h[BACKEND_KEY] = r.backend;
        if (r.instance) h[INSTANCE_KEY] = r.instance;
        if (r.pid) h[PID_KEY] = String(r.pid);
        if (r.started) h[STARTED_KEY] = String(r.started);
        if (r.conn) h[CONN_KEY] = formatConn(r.conn, r.seq);
      }
      res.body = Buffer.from(JSON.stringify(r));
      res.headers['content-type'] = 'application/json';
    } else res.body = Buffer.alloc(0);
  } catch {
    return { error: 'grpc-bad-message' };
  }
  return {};
}
