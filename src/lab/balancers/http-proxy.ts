/**
 * The builtin layer-7 balancer: a round-robin HTTP reverse proxy. It picks a backend per request,
 * so the requests of one keep-alive client connection spread across backends. Keeps its own
 * keep-alive connections to the backends, adds X-Forwarded-For / X-Forwarded-Proto / Via, and
 * answers 502 when a backend cannot be reached.
 */
import http from 'node:http';
import type net from 'node:net';
import type { Balancer, BalancerOptions } from './types.js';
import { formatEndpoint } from './types.js';
import { RoundRobin, builtinHandle, listenOn } from './builtin.js';
import { errorKind } from '../../core/errors.js';

export interface HttpProxyOptions extends BalancerOptions {
  /** Idle keep-alive timeout towards clients (default 60 s, longer than any lab probe interval). */
  clientIdleTimeoutMs?: number;
  /** Idle time after which a pooled backend connection is dropped (default 4 s: below Node's 5 s server default). */
  backendIdleTimeoutMs?: number;
  /** Per-request timeout towards the backend (default 30 s), then 504. */
  backendTimeoutMs?: number;
  /** The Via pseudonym (default "lbdiag"). */
  via?: string;
}

export interface HttpProxyStats {
  requests: number;
  perBackend: Record<string, number>;
  /** Requests answered 502/504 by the proxy itself. */
  proxyErrors: number;
}

export interface HttpProxy extends Balancer {
  kind: 'builtin-l7';
  layer: 7;
  stats(): HttpProxyStats;
}

// RFC 9110 7.6.1 hop-by-hop fields, plus the ones Node frames itself.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'proxy-authorization', 'proxy-authenticate']);
const RETRYABLE = new Set(['GET', 'HEAD', 'OPTIONS']);

function forwardHeaders(raw: string[], extraHopByHop: Set<string>): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const k = raw[i].toLowerCase();
    if (HOP_BY_HOP.has(k) || extraHopByHop.has(k)) continue;
    out.push([raw[i], raw[i + 1]]);
  }
  return out;
}

function connectionTokens(value: string | string[] | undefined): Set<string> {
  const s = new Set<string>();
  const v = Array.isArray(value) ? value.join(',') : (value ?? '');
  for (const t of v.split(',')) if (t.trim()) s.add(t.trim().toLowerCase());
  return s;
}

function clientIp(socket: net.Socket): string {
  const a = socket.remoteAddress ?? '';
  return a.startsWith('::ffff:') ? a.slice(7) : a;
}

export async function startHttpProxy(opts: HttpProxyOptions): Promise<HttpProxy> {
  const roundRobin = new RoundRobin(opts.backends);
  const via = opts.via ?? 'lbdiag';
  const stats: HttpProxyStats = { requests: 0, perBackend: {}, proxyErrors: 0 };
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256, maxFreeSockets: 64, timeout: opts.backendIdleTimeoutMs ?? 4000 });
  const backendTimeoutMs = opts.backendTimeoutMs ?? 30_000;

  const server = http.createServer({ keepAlive: true }, (req, res) => {
    stats.requests++;
    const fail = (status: number, why: string): void => {
      stats.proxyErrors++;
      if (res.headersSent) {
        res.destroy();
        return;
      }
      const body = `${status} ${http.STATUS_CODES[status]}: ${why}\n`;
      res.writeHead(status, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body), via: `1.1 ${via}` });
      res.end(body);
    };
    req.on('error', () => res.destroy());
    const backend = roundRobin.pick(stats.perBackend);
    if (!backend) {
      req.resume();
      fail(503, 'no backend');
      return;
    }

    const extra = connectionTokens(req.headers.connection);
    const headers = forwardHeaders(req.rawHeaders, extra).filter(([k]) => !/^(x-forwarded-for|x-forwarded-proto|via)$/i.test(k));
    const priorXff = req.headers['x-forwarded-for'];
    const ip = clientIp(req.socket);
    headers.push(['X-Forwarded-For', priorXff ? `${Array.isArray(priorXff) ? priorXff.join(', ') : priorXff}, ${ip}` : ip]);
    headers.push(['X-Forwarded-Proto', 'http']);
    const priorVia = req.headers.via;
    headers.push(['Via', priorVia ? `${priorVia}, 1.1 ${via}` : `1.1 ${via}`]);
    const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;

    const send = (attempt: number): void => {
      const preq = http.request({
        host: backend.host,
        port: backend.port,
        method: req.method,
        path: req.url,
        headers: headers.flat() as unknown as http.OutgoingHttpHeaders,
        agent,
        setHost: false,
      });
      preq.setTimeout(backendTimeoutMs, () => preq.destroy(Object.assign(new Error('backend timeout'), { code: 'ETIMEDOUT' })));
      preq.on('response', (pres) => {
        const out = forwardHeaders(pres.rawHeaders, connectionTokens(pres.headers.connection)).filter(([k]) => k.toLowerCase() !== 'via');
        const priorResVia = pres.headers.via;
        out.push(['Via', priorResVia ? `${priorResVia}, 1.1 ${via}` : `1.1 ${via}`]);
        res.writeHead(pres.statusCode ?? 502, pres.statusMessage, out.flat() as unknown as http.OutgoingHttpHeaders);
        pres.pipe(res);
        pres.on('error', () => res.destroy());
      });
      preq.on('error', (e) => {
        // A pooled connection the backend closed while idle: retry once on a fresh one (safe methods only).
        if (attempt === 0 && preq.reusedSocket && !hasBody && RETRYABLE.has(req.method ?? '') && errorKind(e) === 'reset') {
          send(1);
          return;
        }
        const kind = errorKind(e);
        fail(kind === 'timeout' ? 504 : 502, `backend ${backend.name} (${formatEndpoint(backend)}) ${kind}`);
      });
      if (hasBody) req.pipe(preq);
      else preq.end();
    };
    if (!hasBody) req.resume();
    send(0);
  });
  server.keepAliveTimeout = opts.clientIdleTimeoutMs ?? 60_000;
  server.headersTimeout = Math.max(server.keepAliveTimeout + 1000, 66_000);
  server.requestTimeout = 0;
  server.on('clientError', (_err, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    else socket.destroy();
  });

  const address = await listenOn(server, opts.listen);
  return builtinHandle({
    kind: 'builtin-l7',
    layer: 7,
    address,
    server,
    roundRobin,
    stats,
    dropConnections: () => {
      server.closeAllConnections();
      agent.destroy();
    },
  });
}
