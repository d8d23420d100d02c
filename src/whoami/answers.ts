/**
 * The bodies whoami answers: short human text (`GET /`) and the JSON document (`GET /api`,
 * or `/` with `Accept: application/json` / `?format=json`). The JSON answer's type is part of
 * the wire contract read by `lbdiag probe`: src/wire/identity-headers.ts.
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import type { H2Req } from './h2.js';
import { performance } from 'node:perf_hooks';
import { hostPort, localOf, type ConnState } from './connections.js';
import { redactHeaders } from './secrets.js';
import type { Forwarded, InterfaceAddress, Kubernetes, WhoamiAnswer } from '../wire/identity-headers.js';

/** Content types of whoami's answers. */
export const TEXT = 'text/plain; charset=utf-8';
export const JSON_TYPE = 'application/json; charset=utf-8';
export const PROM = 'text/plain; version=0.0.4; charset=utf-8';

export interface Identity {
  name: string;
  hostname: string;
  pid: number;
  /** The generation: one random id per whoami start, shared by all its --workers processes. */
  instance: string;
  /** When the generation started, Unix epoch milliseconds (X-Lbdiag-Started, JSON `started`). */
  started: number;
  version: string;
  /** When this process started (ISO 8601). */
  startedAt: string;
  /** performance.now() at start. */
  startedMono: number;
  kubernetes?: Kubernetes;
}

export interface ServerSettings {
  idleTimeoutMs: number;
  idleTimeoutIsDefault: boolean;
  maxRequestsPerConn: number | null;
  headersTimeoutMs: number;
  headersTimeoutIsDefault: boolean;
  drainDelayMs: number;
  /** HTTP/2: GOAWAY after this many streams on a connection (default: maxRequestsPerConn). */
  maxStreamsPerConn: number | null;
  /** GOAWAY (HTTP/2) or Connection: close (HTTP/1.1) once a connection is this old; null = never. */
  maxConnAgeMs: number | null;
  /** HTTP/2: how long streams in flight may take after the age GOAWAY before the session is destroyed. */
  maxConnAgeGraceMs: number;
  /** --tls: HTTP/1.1 and h2 by ALPN over TLS (else HTTP/1.1 and h2c in clear). */
  tls: boolean;
}

function one(v: string | string[] | undefined): string | null {
  if (v === undefined) return null;
  return Array.isArray(v) ? v.join(', ') : v;
}

function forwardedOf(h: IncomingHttpHeaders): Forwarded {
  const xff = one(h['x-forwarded-for']);
  return {
    xForwardedFor: xff ? xff.split(',').map((s) => s.trim()).filter(Boolean) : [],
    forwarded: one(h.forwarded),
    via: one(h.via),
    xRealIp: one(h['x-real-ip']),
    xForwardedProto: one(h['x-forwarded-proto']),
  };
}

/** The constant head of the text answer, computed once per process. */
export function textHead(id: Identity): string {
  let s = `name: ${id.name}\nhostname: ${id.hostname}\npid: ${id.pid}\ninstance: ${id.instance}\n`;
  if (id.kubernetes?.namespace) s += `namespace: ${id.kubernetes.namespace}\n`;
  if (id.kubernetes?.node) s += `node: ${id.kubernetes.node}\n`;
  return s;
}

export function textAnswer(
  head: string,
  c: ConnState,
  seq: number,
  method: string,
  url: string,
  httpVersion: string,
  host: string,
  xff: string,
  draining: boolean,
): string {
  // The address lines are the same for every request on a connection: built once per connection.
  const addr = (c.addrLines ??= 'remote: ' + hostPort(c.remoteAddress, c.remotePort) + '\nlocal: ' + hostPort(c.localAddress ?? '', c.localPort) + '\n');
  let s = head + 'conn: ' + c.id + ' seq=' + seq + '\n' + addr + 'request: ' + method + ' ' + url + ' HTTP/' + httpVersion + '\nhost: ' + host + '\n';
  if (xff) s += 'x-forwarded-for: ' + xff + '\n';
  if (draining) s += 'state: draining\n';
  return s;
}

/** The JSON answer, pretty-printed (padding for `?size=` is streamed separately: padding.ts). */
export function jsonBody(answer: WhoamiAnswer): string {
  return JSON.stringify(answer, null, 2) + '\n';
}

/** The JSON answer to one request (the document's type is the wire contract's WhoamiAnswer). */
export function buildAnswer(req: IncomingMessage | H2Req, c: ConnState, seq: number, id: Identity, s: ServerSettings, draining: boolean, ips: InterfaceAddress[], echoSecrets: boolean): WhoamiAnswer {
  const now = performance.now();
  const h = req.headers as IncomingHttpHeaders;
  localOf(c.socket);
  const a: WhoamiAnswer = {
    name: id.name,
    hostname: id.hostname,
    pid: id.pid,
    instance: id.instance,
    started: id.started,
    version: id.version,
    startedAt: id.startedAt,
    uptimeMs: Math.round(now - id.startedMono),
    ips,
    request: { method: req.method ?? '', url: req.url ?? '', httpVersion: req.httpVersion, host: h.host ?? (h[':authority'] as string | undefined) ?? null, headers: echoSecrets ? h : redactHeaders(h) },
    connection: {
      id: c.id,
      seq,
      ageMs: Math.round((now - c.openedAt) * 1000) / 1000,
      local: { address: c.localAddress ?? '', port: c.localPort },
      remote: { address: c.remoteAddress, port: c.remotePort },
    },
    forwarded: forwardedOf(h),
    server: {
      state: draining ? 'draining' : 'serving',
      idleTimeoutMs: s.idleTimeoutMs,
      maxRequestsPerConn: s.maxRequestsPerConn,
      headersTimeoutMs: s.headersTimeoutMs,
      drainDelayMs: s.drainDelayMs,
    },
    protocol: c.protocol,
  };
  // Reported when set (absent = unlimited / never), so answers without them keep their old shape.
  if (s.maxStreamsPerConn !== null && s.maxStreamsPerConn !== s.maxRequestsPerConn) a.server.maxStreamsPerConn = s.maxStreamsPerConn;
  if (s.maxConnAgeMs !== null) a.server.maxConnAgeMs = s.maxConnAgeMs;
  if (c.session) a.stream = (req as H2Req).stream.id;
  if (c.tls) a.tls = c.tls;
  if (id.kubernetes) a.kubernetes = id.kubernetes;
  return a;
}
