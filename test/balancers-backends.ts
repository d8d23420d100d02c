/**
 * Shared by the balancer tests: three name-answering backends on 127.0.30.2-4, and clients that
 * send requests over one keep-alive connection or over a fresh connection each.
 */
import { Client } from 'undici';
import { startNameServer, type NameServer } from '../src/lab/name-server.js';

export const LB_HOST = '127.0.30.1';

export async function startBackends(n = 3): Promise<NameServer[]> {
  const out: NameServer[] = [];
  for (let i = 0; i < n; i++) out.push(await startNameServer({ host: `127.0.30.${i + 2}`, name: `b${i + 1}` }));
  return out;
}

export interface Answer {
  status: number;
  body: string;
  headers: Record<string, string | string[] | undefined>;
}

/** `n` GETs over ONE connection (undici Client = a single connection, no pipelining). */
export async function overOneConnection(origin: string, n: number): Promise<Answer[]> {
  const client = new Client(origin, { pipelining: 1, headersTimeout: 5000, bodyTimeout: 5000 });
  const out: Answer[] = [];
  let connects = 0;
  client.on('connect', () => connects++);
  try {
    for (let i = 0; i < n; i++) {
      const r = await client.request({ path: '/', method: 'GET' });
      out.push({ status: r.statusCode, body: (await r.body.text()).trim(), headers: r.headers });
    }
  } finally {
    await client.close();
  }
  if (connects !== 1) throw new Error(`expected one connection, the client opened ${connects}`);
  return out;
}

/** `n` GETs, each over a new connection. */
export async function overFreshConnections(origin: string, n: number): Promise<Answer[]> {
  const out: Answer[] = [];
  for (let i = 0; i < n; i++) {
    const client = new Client(origin, { headersTimeout: 5000, bodyTimeout: 5000 });
    try {
      const r = await client.request({ path: '/', method: 'GET', headers: { connection: 'close' } });
      out.push({ status: r.statusCode, body: (await r.body.text()).trim(), headers: r.headers });
    } finally {
      await client.close();
    }
  }
  return out;
}

export function tally(answers: Answer[]): Record<string, number> {
  const t: Record<string, number> = {};
  for (const a of answers) {
    const k = a.status === 200 ? a.body : String(a.status);
    t[k] = (t[k] ?? 0) + 1;
  }
  return t;
}
