/**
 * Credentials are never echoed by default: an answer ends up in scrollback, logs, tickets and
 * bug reports. A redacted value keeps what helps a diagnosis and drops the secret:
 *   Authorization / Proxy-Authorization   scheme and length:  `Bearer <redacted, 41 bytes>`
 *   Cookie / Set-Cookie                   names kept:         `SERVERID=<redacted, 5 bytes>; sid=<redacted, 32 bytes>`
 *                                         (a balancer's sticky cookie is recognisable by its name)
 *   token, secret, password, API-key, session, auth headers (X-Api-Key, X-Auth-Token, X-Amz-Security-Token,
 *   X-CSRF-Token, X-Session-Id, ...): `<redacted, 36 bytes>`
 * `--echo-secrets` shows them verbatim.
 */
import type { IncomingHttpHeaders } from 'node:http';

const AUTH = new Set(['authorization', 'proxy-authorization']);
const COOKIE = new Set(['cookie', 'set-cookie']);
/** A word of the header name (split on - and _) that marks a secret. */
const SECRET_NAME = /(?:^|[-_])(?:api-?key|apikey|token|secret|password|passwd|session|auth|credentials?)(?:[-_]|$)/i;

function isSecretHeader(name: string): boolean {
  const n = name.toLowerCase();
  return AUTH.has(n) || COOKIE.has(n) || SECRET_NAME.test(n);
}

function hidden(v: string): string {
  return `<redacted, ${Buffer.byteLength(v)} bytes>`;
}

function redactAuth(v: string): string {
  const m = /^([A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*) +(.*)$/s.exec(v);
  return m ? `${m[1]} ${hidden(m[2])}` : hidden(v);
}

function redactCookie(v: string, sep: string): string {
  return v
    .split(sep === ';' ? ';' : /;/)
    .map((part, i) => {
      const p = part.trim();
      const eq = p.indexOf('=');
      // Set-Cookie attributes (Path, Max-Age, ...) after the first pair are not secret.
      if (sep === 'set' && i > 0) return p;
      return eq > 0 ? `${p.slice(0, eq)}=${hidden(p.slice(eq + 1))}` : hidden(p);
    })
    .join('; ');
}

function redactValue(name: string, v: string): string {
  const n = name.toLowerCase();
  if (AUTH.has(n)) return redactAuth(v);
  if (n === 'cookie') return redactCookie(v, ';');
  if (n === 'set-cookie') return redactCookie(v, 'set');
  return hidden(v);
}

/** A copy of node's parsed headers with secret values redacted (the same object when there is none). */
export function redactHeaders(h: IncomingHttpHeaders): IncomingHttpHeaders {
  let out: IncomingHttpHeaders | null = null;
  for (const k in h) {
    if (!isSecretHeader(k)) continue;
    out ??= { ...h };
    const v = h[k];
    out[k] = Array.isArray(v) ? v.map((x) => redactValue(k, x)) : v === undefined ? v : redactValue(k, v);
  }
  return out ?? h;
}
