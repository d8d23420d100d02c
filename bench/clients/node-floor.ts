/**
 * Node client floors for the probe comparison: what Node itself does with the obvious code.
 *   --kind undici-pool   an undici Pool of C connections, keep-alive, C requests in flight
 *   --kind net-short     a raw net socket per request (Connection: close), C in flight
 * Runs for --duration seconds against --url, prints {"requests","errors","elapsedMs"} on stdout.
 */
import net from 'node:net';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';

const { values } = parseArgs({
  options: { kind: { type: 'string' }, url: { type: 'string' }, concurrency: { type: 'string', default: '50' }, duration: { type: 'string', default: '5' } },
});
const url = new URL(values.url ?? 'http://127.0.0.1/');
const concurrency = Number(values.concurrency);
const t0 = performance.now();
const deadline = t0 + Number(values.duration) * 1000;
let requests = 0;
let errors = 0;

async function poolWorker(pool: Pool): Promise<void> {
  while (performance.now() < deadline) {
    try {
      const res = await pool.request({ path: url.pathname, method: 'GET' });
      await res.body.dump();
      if (res.statusCode >= 200 && res.statusCode < 300) requests++;
      else errors++;
    } catch {
      errors++;
    }
  }
}

const request = Buffer.from(`GET ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nConnection: close\r\n\r\n`);

function oneShort(): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: url.hostname, port: Number(url.port) || 80 });
    let first: Buffer | undefined;
    s.on('connect', () => s.end(request));
    s.on('data', (d: Buffer) => {
      first ??= d;
    });
    s.on('error', () => resolve(false));
    s.on('close', () => resolve(first !== undefined && first.subarray(0, 12).toString('latin1').startsWith('HTTP/1.1 2')));
  });
}

async function shortWorker(): Promise<void> {
  while (performance.now() < deadline) {
    if (await oneShort()) requests++;
    else errors++;
  }
}

if (values.kind === 'undici-pool') {
  const pool = new Pool(url.origin, { connections: concurrency, pipelining: 1 });
  await Promise.all(Array.from({ length: concurrency }, () => poolWorker(pool)));
  await pool.close();
} else if (values.kind === 'net-short') {
  await Promise.all(Array.from({ length: concurrency }, () => shortWorker()));
} else {
  process.stderr.write('node-floor: --kind undici-pool|net-short\n');
  process.exit(2);
}
process.stdout.write(`${JSON.stringify({ requests, errors, elapsedMs: performance.now() - t0 })}\n`);
