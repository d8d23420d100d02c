/** The probe's target: `host:port` or a URL (default scheme http, default path `/`), resolved. */
import dns from 'node:dns/promises';
import net from 'node:net';
import { UsageError } from '../core/errors.js';

export interface Target {
  scheme: 'http' | 'https';
  host: string;
  port: number;
  /** Path and query, as sent on the request line. */
  path: string;
  /** Host header value. */
  hostHeader: string;
  /** The canonical form shown in reports: `http://host:port/path`. */
  url: string;
}

export function parseTarget(input: string): Target {
  const text = String(input ?? '').trim();
  if (!text) throw new UsageError('missing target (examples: 10.0.0.10:80, http://vip.example/health)');
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`;
  let u: URL;
  try {
    u = new URL(withScheme);
  } catch {
    throw new UsageError(`invalid target "${input}" (examples: 10.0.0.10:80, http://vip.example:8080/health)`);
  }
  const scheme = u.protocol.replace(/:$/, '');
  if (scheme !== 'http' && scheme !== 'https') throw new UsageError(`unsupported scheme "${scheme}" in "${input}" (http or https)`);
  if (!u.hostname) throw new UsageError(`invalid target "${input}": no host`);
  const port = u.port ? Number(u.port) : scheme === 'https' ? 443 : 80;
  const host = u.hostname.replace(/^\[(.*)\]$/, '$1');
  const path = `${u.pathname || '/'}${u.search}`;
  return {
    scheme,
    host,
    port,
    path,
    hostHeader: u.host,
    url: `${scheme}://${u.host}${path}`,
  };
}

/** Addresses for the host: itself when it is an IP, else every address the resolver returns. */
export async function resolveTarget(t: Target): Promise<string[]> {
  if (net.isIP(t.host)) return [t.host];
  try {
    const all = await dns.lookup(t.host, { all: true, verbatim: true });
    const addrs = [...new Set(all.map((a) => a.address))];
    if (addrs.length === 0) throw new Error('no addresses');
    return addrs;
  } catch (e) {
    const code = (e as { code?: string }).code;
    throw new UsageError(`cannot resolve ${t.host}: ${code === 'ENOTFOUND' ? 'no such host' : (code ?? (e as Error).message)}`);
  }
}
