/**
 * `POST /health` changes what `GET /health` answers, so it must not be a cross-site write: any web
 * page can make a browser send a "simple" request (a form: application/x-www-form-urlencoded,
 * multipart/form-data or text/plain; fetch() with a Blob: no Content-Type at all) to a backend it
 * can reach, without a CORS preflight. A request that names `Content-Type: application/json` or
 * carries an `X-Lbdiag-Health` header cannot be sent cross-site without a preflight whoami never
 * grants (it sends no Access-Control-* headers): the usual CSRF defence for JSON APIs.
 */
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { HEALTH_HEADER, HEALTH_KEY } from '../wire/identity-headers.js';

/** Null when the POST may change the health, else why not (answered with 415). */
export function healthPostRefusal(h: IncomingHttpHeaders): string | null {
  if (h[HEALTH_KEY] !== undefined) return null;
  const type = (h['content-type'] ?? '').split(';')[0].trim().toLowerCase();
  if (type === 'application/json') return null;
  return (
    `POST /health needs Content-Type: application/json or an ${HEALTH_HEADER} header (got ${type ? `"${type.slice(0, 60)}"` : 'no Content-Type'}; ` +
    `a cross-site form cannot send either), e.g. curl -X POST -H 'Content-Type: application/json' -d 503 .../health`
  );
}

/** The body: a status code `503`, or JSON `{"status": 503}`. A number, or why it is not accepted. */
function parseHealthBody(text: string): number | string {
  let v: unknown = text.trim();
  if (typeof v === 'string' && v.startsWith('{')) {
    try {
      v = (JSON.parse(v) as { status?: unknown }).status;
    } catch {
      /* reported below */
    }
  }
  const s = String(v);
  const n = Number(s);
  if (/^\d{3}$/.test(s) && n >= 200 && n <= 599) return n;
  return `POST /health wants a status code from 200 to 599 in the body (503 or {"status": 503}), got "${text.trim().slice(0, 20)}"`;
}

/** Reads a POST /health body (its first 256 characters) and hands over what parseHealthBody makes of it. */
export function readHealthBody(req: IncomingMessage | NodeJS.ReadableStream, done: (r: ReturnType<typeof parseHealthBody>) => void): void {
  let text = '';
  req.setEncoding('latin1');
  req.on('data', (d: string) => {
    if (text.length < 256) text += d.slice(0, 256);
  });
  req.on('end', () => done(parseHealthBody(text)));
}
