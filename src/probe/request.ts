/** The request bytes, built once per mode: the hot path only writes a prepared Buffer. */
import type { Target } from './target.js';

export interface RequestSpec {
  method: string;
  headers: [string, string][];
  data?: string;
  userAgent: string;
}

export function buildRequest(t: Target, spec: RequestSpec, close: boolean): Buffer {
  const names = new Set(spec.headers.map(([n]) => n.toLowerCase()));
  const lines = [`${spec.method} ${t.path} HTTP/1.1`];
  if (!names.has('host')) lines.push(`Host: ${t.hostHeader}`);
  if (!names.has('user-agent')) lines.push(`User-Agent: ${spec.userAgent}`);
  if (!names.has('accept')) lines.push('Accept: */*');
  for (const [n, v] of spec.headers) if (n.toLowerCase() !== 'connection') lines.push(`${n}: ${v}`);
  const body = spec.data !== undefined ? Buffer.from(spec.data) : undefined;
  if (body && !names.has('content-length')) lines.push(`Content-Length: ${body.length}`);
  if (close) lines.push('Connection: close');
  const head = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1');
  return body ? Buffer.concat([head, body]) : head;
}

/** `-H "Name: value"` */
export function parseHeader(h: string): [string, string] | null {
  const i = h.indexOf(':');
  if (i <= 0) return null;
  const name = h.slice(0, i).trim();
  if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) return null;
  return [name, h.slice(i + 1).trim()];
}
