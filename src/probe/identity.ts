/**
 * Which backend answered: from lbdiag whoami's headers, lbdiag's JSON, traefik/whoami's
 * `Hostname:` line, or a short plain body (`auto`), or as the user says (`--backend-from`).
 */
import { UsageError } from '../core/errors.js';
import { BACKEND_KEY, CONN_KEY, INSTANCE_KEY, parseConn, parseStarted, PID_KEY, STARTED_KEY, type Forwarded } from '../wire/identity-headers.js';
import type { HttpResponse } from './http-response.js';

export type BackendFrom =
  | { kind: 'auto' }
  | { kind: 'header'; name: string }
  | { kind: 'json'; path: string[] }
  | { kind: 'regex'; re: RegExp }
  | { kind: 'body' };

export function parseBackendFrom(value: string): BackendFrom {
  const v = value.trim();
  if (v === 'auto') return { kind: 'auto' };
  if (v === 'body') return { kind: 'body' };
  const colon = v.indexOf(':');
  const kind = colon > 0 ? v.slice(0, colon) : v;
  const arg = colon > 0 ? v.slice(colon + 1) : '';
  if (kind === 'header' && arg) return { kind: 'header', name: arg.toLowerCase() };
  if (kind === 'json' && arg) return { kind: 'json', path: arg.replace(/^\$?\.?/, '').split('.').filter(Boolean) };
  if (kind === 'regex' && arg) {
    try {
      return { kind: 'regex', re: new RegExp(arg, 'm') };
    } catch (e) {
      throw new UsageError(`invalid --backend-from regex: ${(e as Error).message}`);
    }
  }
  throw new UsageError(`invalid --backend-from "${value}" (expected auto, body, header:NAME, json:PATH or regex:RE)`);
}

/** Which backend answered; for lbdiag whoami also its instance, pid and its view of the connection. */
export interface Identity {
  backend?: string;
  /** lbdiag whoami's generation: one instance id per start, shared by its --workers processes. */
  instance?: string;
  /** When that generation started (X-Lbdiag-Started, Unix epoch ms); older whoami versions omit it. */
  started?: number;
  pid?: number;
  serverConn?: string;
  serverSeq?: number;
  /** Forwarding headers the backend received (X-Forwarded-For, Forwarded, Via, X-Real-IP). */
  forwarded?: string[];
}

const FORWARD_LINE = /^(x-forwarded-for|x-forwarded-proto|x-forwarded-host|forwarded|via|x-real-ip)\s*:/gim;
/** The same test without the global flag: does the body hold any forwarding line at all (no iterator, no match arrays). */
const FORWARD_ANY = new RegExp(FORWARD_LINE.source, 'im');

function jsonAt(doc: unknown, path: readonly string[]): unknown {
  let cur = doc;
  for (const key of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string, unknown>)[key];
  }
  return cur;
}

function bodyJson(res: HttpResponse, ctype: string): unknown {
  return ctype.includes('json') || res.body[0] === 0x7b ? parseJson(res.body) : undefined;
}

function parseJson(body: Buffer): unknown {
  if (body.length === 0 || body.length >= 256 * 1024) return undefined;
  try {
    return JSON.parse(body.toString('utf8'));
  } catch {
    return undefined;
  }
}

/** Forwarding headers as lbdiag whoami's JSON reports them. */
function forwardedFromLbdiagJson(doc: unknown): string[] {
  const f = jsonAt(doc, ['forwarded']) as Partial<Record<keyof Forwarded, unknown>> | undefined;
  if (!f || typeof f !== 'object') return [];
  const out: string[] = [];
  const xff = f.xForwardedFor;
  if (Array.isArray(xff) ? xff.length > 0 : typeof xff === 'string' && xff) out.push('X-Forwarded-For');
  if (f.forwarded) out.push('Forwarded');
  if (f.via) out.push('Via');
  if (f.xRealIp) out.push('X-Real-IP');
  if (f.xForwardedProto) out.push('X-Forwarded-Proto');
  return out;
}

let lastStartedText: string | undefined;
let lastStarted: number | undefined;

/**
 * Reads identity from a response. `deep` also parses bodies for forwarding headers
 * (done on a sample of responses: the first on each connection). `into` (its identity fields
 * unset or undefined) receives the fields instead of a new object: the capture adapter fills
 * its record in place.
 */
export function identify(res: HttpResponse, from: BackendFrom, deep: boolean, into?: Identity): Identity {
  const h = res.headers;
  const id: Identity = into ?? {};
  // lbdiag whoami's headers are read whatever --backend-from says: they carry the server's view.
  const lb = h[BACKEND_KEY];
  if (lb !== undefined) {
    id.instance = h[INSTANCE_KEY];
    const pid = Number(h[PID_KEY]);
    if (Number.isInteger(pid)) id.pid = pid;
    const startedText = h[STARTED_KEY];
    // One generation sends the same X-Lbdiag-Started on every answer: the last one read is kept.
    if (startedText !== lastStartedText) {
      lastStartedText = startedText;
      lastStarted = parseStarted(startedText);
    }
    if (lastStarted !== undefined) id.started = lastStarted;
    const conn = h[CONN_KEY];
    if (conn) {
      const parsed = parseConn(conn);
      if (parsed) {
        id.serverConn = parsed.conn;
        if (parsed.seq !== undefined) id.serverSeq = parsed.seq;
      }
    }
  }
  const ctype = (h['content-type'] ?? '').toLowerCase();
  // The body as JSON, parsed at most once and only where a rule needs it (no closure per call: this runs per response).
  let doc: unknown;
  let docParsed = false;
  switch (from.kind) {
    case 'header':
      id.backend = h[from.name];
      break;
    case 'json': {
      docParsed = true;
      doc = bodyJson(res, ctype);
      const v = jsonAt(doc, from.path);
      if (typeof v === 'string' || typeof v === 'number') id.backend = String(v);
      break;
    }
    case 'regex': {
      const m = from.re.exec(res.body.toString('utf8'));
      if (m) id.backend = (m[1] ?? m[0]).trim();
      break;
    }
    case 'body':
      id.backend = shortBody(res.body, 200);
      break;
    case 'auto': {
      if (lb) {
        id.backend = lb;
        break;
      }
      docParsed = true;
      doc = bodyJson(res, ctype);
      const d = doc;
      if (d && typeof d === 'object') {
        const name = jsonAt(d, ['name']) ?? jsonAt(d, ['hostname']) ?? jsonAt(d, ['Hostname']);
        if (typeof name === 'string' && name) id.backend = name;
        break;
      }
      const text = res.body.length <= 64 * 1024 ? res.body.toString('utf8') : '';
      const host = /^Hostname:\s*(\S+)/m.exec(text);
      if (host) id.backend = host[1];
      else if (!ctype.includes('html')) id.backend = shortBody(res.body, 64);
    }
  }
  if (id.backend !== undefined && id.backend.length === 0) id.backend = undefined;
  if (deep) {
    // Made only when something is found (this runs on the first response of every connection).
    let fwd: Set<string> | undefined;
    if (h.via) (fwd ??= new Set()).add('Via (response)');
    if (!docParsed) doc = bodyJson(res, ctype);
    const d = doc;
    if (d && typeof d === 'object') for (const f of forwardedFromLbdiagJson(d)) (fwd ??= new Set()).add(f);
    else if (res.body.length && res.body.length <= 64 * 1024 && !ctype.includes('json')) {
      const text = res.body.toString('utf8');
      if (FORWARD_ANY.test(text)) for (const m of text.matchAll(FORWARD_LINE)) (fwd ??= new Set()).add(canonical(m[1]));
    }
    if (fwd !== undefined && fwd.size) id.forwarded = [...fwd];
  }
  return id;
}

function canonical(name: string): string {
  const n = name.toLowerCase();
  if (n === 'x-real-ip') return 'X-Real-IP';
  return n.replace(/(^|-)([a-z])/g, (_, d: string, c: string) => d + c.toUpperCase());
}

/** A body short enough to be a name: one line, no markup. */
function shortBody(body: Buffer, max: number): string | undefined {
  if (body.length === 0 || body.length > max * 4) return undefined;
  const text = body.toString('utf8').trim();
  if (!text || text.length > max || text.includes('\n') || text.startsWith('<')) return undefined;
  return text;
}
