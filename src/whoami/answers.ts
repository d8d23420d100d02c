/**
 * The bodies whoami answers: short human text (`GET /`) and the JSON document (`GET /api`,
 * or `/` with `Accept: application/json` / `?format=json`). The JSON field names are a
 * contract read by `lbdiag probe`.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { ConnState } from './connections.js';
import { hostPort } from './connections.js';
import type { InterfaceAddress, Kubernetes } from './identity.js';

export interface Identity {
  name: string;
  hostname: string;
  pid: number;
  instance: string;
  version: string;
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
}

export interface Forwarded {
  xForwardedFor: string[];
  forwarded: string | null;
  via: string | null;
  xRealIp: string | null;
  xForwardedProto: string | null;
}

export interface WhoamiAnswer {
  name: string;
  hostname: string;
  pid: number;
  instance: string;
  version: string;
  startedAt: string;
  uptimeMs: number;
  ips: InterfaceAddress[];
  kubernetes?: Kubernetes;
  request: { method: string; url: string; httpVersion: string; host: string | null; headers: IncomingHttpHeaders };
  connection: {
    id: number;
    seq: number;
    ageMs: number;
    local: { address: string; port: number };
    remote: { address: string; port: number };
  };
  forwarded: Forwarded;
  server: { state: 'serving' | 'draining' } & Omit<ServerSettings, 'idleTimeoutIsDefault' | 'headersTimeoutIsDefault'>;
  padding?: string;
}

function one(v: string | string[] | undefined): string | null {
  if (v === undefined) return null;
  return Array.isArray(v) ? v.join(', ') : v;
}

export function forwardedOf(h: IncomingHttpHeaders): Forwarded {
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
  let s =
    head +
    'conn: ' + c.id + ' seq=' + seq +
    '\nremote: ' + hostPort(c.remoteAddress, c.remotePort) +
    '\nlocal: ' + hostPort(c.localAddress ?? '', c.localPort) +
    '\nrequest: ' + method + ' ' + url + ' HTTP/' + httpVersion +
    '\nhost: ' + host + '\n';
  if (xff) s += 'x-forwarded-for: ' + xff + '\n';
  if (draining) s += 'state: draining\n';
  return s;
}

/** Pads a text body with dots and a final newline to `size` bytes (when larger). */
export function padText(body: string, size: number): string {
  const len = Buffer.byteLength(body);
  if (size <= len) return body;
  return body + '.'.repeat(size - len - 1) + '\n';
}

/** Serialises the JSON answer, adding a `padding` field so the body reaches `size` bytes. */
export function jsonBody(answer: WhoamiAnswer, size: number): string {
  const body = JSON.stringify(answer, null, 2) + '\n';
  const len = Buffer.byteLength(body);
  const overhead = ',\n  "padding": ""'.length;
  if (size <= len + overhead) return body;
  const cut = body.lastIndexOf('\n}');
  return body.slice(0, cut) + ',\n  "padding": "' + '.'.repeat(size - len - overhead) + '"' + body.slice(cut);
}
