/** The Node client floors (bench/clients/node-floor.ts) as load tools: undici Pool (keep-alive), raw net socket per request (short). */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LoadTool } from './tool.js';

const script = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'clients', 'node-floor.js');

function floor(name: string, kind: string, keepAlive: boolean): LoadTool {
  return {
    name,
    lang: 'Node',
    unavailable: (spec) => (spec.keepAlive !== keepAlive ? `${name} is the ${keepAlive ? 'keep-alive' : 'short-lived'} floor only` : spec.requests !== undefined ? `${name} runs for a duration` : undefined),
    command: (spec) => [process.execPath, [script, '--kind', kind, '--url', spec.url, '--concurrency', String(spec.concurrency), '--duration', String(spec.durationS)]],
    parse(stdout) {
      const r = JSON.parse(stdout) as { requests: number; errors: number; elapsedMs: number };
      return { requests: r.requests, elapsedS: r.elapsedMs / 1000, errors: r.errors, non2xx: 0 };
    },
  };
}

export const undiciPool = floor('undici Pool', 'undici-pool', true);
export const netShort = floor('net socket per request', 'net-short', false);
