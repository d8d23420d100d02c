/**
 * gRPC on whoami's HTTP/2 port (a request with `content-type: application/grpc...`):
 *
 *   /grpc.health.v1.Health/Check  SERVING, or NOT_SERVING while draining or while POST /health set
 *                                 a status other than 200; NOT_FOUND for a service name whoami does
 *                                 not have (the health protocol's answer)
 *   /lbdiag.v1.WhoAmI/Get         the identity (lbdiag.v1.GetResponse)
 *   anything else                 UNIMPLEMENTED (12)
 *
 * Messages are encoded and framed by the wire contract (src/wire/grpc.ts: protobufjs from the
 * .proto text). Every answer carries the identity in its initial metadata (the x-lbdiag-* names of
 * HTTP/1.1), then trailers grpc-status / grpc-message. Bad framing (a compressed flag, a message
 * that is cut short or too large, bytes that are not the message) answers INTERNAL, never throws.
 */
import type { OutgoingHttpHeaders, ServerHttp2Stream } from 'node:http2';
import type { H2Req } from './h2.js';
import { performance } from 'node:perf_hooks';
import type { ConnState } from './connections.js';
import { goaway } from './h2.js';
import type { Metrics } from './metrics.js';
import type { RequestLog } from './log.js';
import type * as Wire from '../wire/grpc.js';
import { BACKEND_KEY, CONN_KEY, formatConn, INSTANCE_KEY, PID_KEY, STARTED_KEY } from '../wire/identity-headers.js';

/** The same values as src/wire/grpc.ts; that module (protobufjs) is loaded on the first gRPC call, not at start. */
const GRPC_CONTENT_TYPE = 'application/grpc';
let wire: typeof Wire | null = null;
let loading: Promise<typeof Wire> | null = null;

/** Largest request message accepted (both methods take tiny messages); larger is RESOURCE_EXHAUSTED. */
const MAX_REQUEST_BYTES = 64 * 1024;
/** Service names a health check may ask about: '' (the server as a whole) and the two services. */
const SERVICES = new Set(['', 'grpc.health.v1.Health', 'lbdiag.v1.WhoAmI']);

/** The parts of the whoami server a gRPC answer needs. */
export interface GrpcHost {
  readonly identity: { name: string; instance: string; pid: number; started: number };
  readonly metrics: Metrics;
  readonly log: RequestLog | null;
  state: 'serving' | 'draining' | 'closed';
  healthStatus: number;
  closingAfter(c: ConnState, seq: number, closeParam: boolean, keepAlive: boolean): boolean;
}

export function isGrpc(req: H2Req): boolean {
  const t = req.headers['content-type'];
  return t !== undefined && t.startsWith(GRPC_CONTENT_TYPE) && (t.length === GRPC_CONTENT_TYPE.length || t[GRPC_CONTENT_TYPE.length] === '+' || t[GRPC_CONTENT_TYPE.length] === ';');
}

/** grpc-message is percent-encoded (gRPC over HTTP/2: bytes outside 0x20-0x7e, and '%'). */
function grpcMessage(text: string): string {
  return text.replace(/[^\x20-\x24\x26-\x7e]/gu, (ch) => encodeURIComponent(ch).replace(/!/g, '%21'));
}

export function answerGrpc(w: GrpcHost, req: H2Req, stream: ServerHttp2Stream, c: ConnState, seq: number): void {
  if (wire === null) {
    stream.pause();
    loading ??= import('../wire/grpc.js').then((m) => (wire = m));
    void loading.then(() => answerGrpc(w, req, stream, c, seq));
    return;
  }
  const { decodeHealthCheckRequest, encodeGetResponse, encodeHealthCheckResponse, frameMessage, GRPC_STATUS, HEALTH_CHECK_PATH, SERVING_STATUS, unframeMessage, WHOAMI_GET_PATH } = wire;
  const t0 = performance.now();
  const path = req.url.split('?')[0];
  const chunks: Buffer[] = [];
  let size = 0;
  let tooLarge = false;
  stream.on('data', (d: Buffer) => {
    if (tooLarge) return;
    size += d.length;
    if (size > MAX_REQUEST_BYTES + 5) {
      tooLarge = true;
      chunks.length = 0;
      return;
    }
    chunks.push(d);
  });
  stream.on('end', () => {
    if (stream.destroyed) return;
    let code: number = GRPC_STATUS.OK;
    let message = '';
    let payload: Uint8Array | null = null;
    try {
      if (req.method !== 'POST') {
        code = GRPC_STATUS.UNIMPLEMENTED;
        message = `gRPC calls are POST (got ${req.method})`;
      } else if (path !== HEALTH_CHECK_PATH && path !== WHOAMI_GET_PATH) {
        code = GRPC_STATUS.UNIMPLEMENTED;
        message = `unknown method ${path.slice(0, 200)} (whoami answers ${HEALTH_CHECK_PATH} and ${WHOAMI_GET_PATH})`;
      } else if (tooLarge) {
        code = GRPC_STATUS.RESOURCE_EXHAUSTED;
        message = `request message larger than ${MAX_REQUEST_BYTES} bytes`;
      } else {
        const u = unframeMessage(Buffer.concat(chunks), MAX_REQUEST_BYTES);
        if (!u.ok) {
          code = GRPC_STATUS.INTERNAL;
          message = u.reason === 'incomplete' ? 'request body is not one complete length-prefixed gRPC message' : u.reason === 'compressed' ? 'compressed message, but no grpc-encoding was negotiated' : 'request message too large';
        } else if (u.rest.length > 0) {
          code = GRPC_STATUS.INTERNAL;
          message = 'unary method: more than one request message';
        } else if (path === HEALTH_CHECK_PATH) {
          const { service } = decodeHealthCheckRequest(u.payload);
          if (!SERVICES.has(service)) {
            code = GRPC_STATUS.NOT_FOUND;
            message = `unknown service "${service.slice(0, 100)}"`;
          } else {
            const serving = w.state === 'serving' && w.healthStatus === 200;
            payload = encodeHealthCheckResponse(serving ? SERVING_STATUS.SERVING : SERVING_STATUS.NOT_SERVING);
          }
        } else {
          // lbdiag.v1.GetRequest is empty; decoding is skipped (any bytes are unknown fields).
          payload = encodeGetResponse({
            backend: w.identity.name,
            instance: w.identity.instance,
            pid: w.identity.pid,
            conn: String(c.id),
            seq,
            stream: stream.id ?? 0,
            protocol: c.protocol,
            started: w.identity.started,
            remote_address: c.remoteAddress,
            remote_port: c.remotePort,
          });
        }
      }
    } catch (e) {
      // protobufjs rejects bytes that are not the message.
      code = GRPC_STATUS.INTERNAL;
      message = `cannot decode the request message: ${(e as Error).message}`;
      payload = null;
    }
    const closing = w.closingAfter(c, seq, false, true);
    const id = w.identity;
    const trailers: OutgoingHttpHeaders = message ? { 'grpc-status': String(code), 'grpc-message': grpcMessage(message) } : { 'grpc-status': String(code) };
    stream.once('wantTrailers', () => stream.sendTrailers(trailers));
    stream.respond(
      {
        ':status': 200,
        'content-type': GRPC_CONTENT_TYPE,
        [BACKEND_KEY]: id.name,
        [INSTANCE_KEY]: id.instance,
        [CONN_KEY]: formatConn(c.id, seq),
        [PID_KEY]: String(id.pid),
        [STARTED_KEY]: String(id.started),
      },
      { waitForTrailers: true },
    );
    if (payload) stream.end(frameMessage(payload));
    else stream.end();
    if (closing) goaway(c);
    c.done++;
    w.metrics.countResponse(200);
    w.metrics.countGrpc(path, code);
    if (w.log) w.log.request({ conn: c.id, seq, remoteAddress: c.remoteAddress, remotePort: c.remotePort, method: 'gRPC', path, status: code, ms: performance.now() - t0, closing });
  });  // Paused while the wire module loaded (first call): flowing again now that the listeners are in place.
  stream.resume();
}
