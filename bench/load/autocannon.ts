/** autocannon (Node, its own HTTP/1.1 client): keep-alive only, it has no new-connection-per-request mode. */
import { createRequire } from 'node:module';
import type { LoadTool } from './tool.js';

const require = createRequire(import.meta.url);

function bin(): string | undefined {
  try {
    return require.resolve('autocannon/autocannon.js');
  } catch {
    return undefined;
  }
}

/** `workers`: autocannon `-w N` (worker threads); without it autocannon runs in one thread, its default. */
export function autocannonTool(workers?: number): LoadTool {
  return {
    name: workers ? `autocannon -w ${workers}` : 'autocannon',
    lang: 'Node',
    unavailable: (spec) =>
      !spec.keepAlive ? 'autocannon has no new-connection-per-request mode' : bin() ? undefined : 'autocannon not installed (npm install)',
    command: (spec) => [
      process.execPath,
      [
        bin() as string,
        '-j',
        ...(workers ? ['-w', String(workers)] : []),
        '-c', String(spec.concurrency),
        '-t', '5',
        ...(spec.requests !== undefined ? ['-a', String(spec.requests)] : ['-d', String(spec.durationS)]),
        spec.url,
      ],
    ],
    parse(stdout) {
      const r = JSON.parse(stdout.slice(stdout.indexOf('{'))) as {
        requests: { total: number; average: number };
        duration: number;
        errors: number;
        timeouts: number;
        non2xx: number;
      };
      return { requests: r.requests.total, elapsedS: r.duration, rps: r.requests.total / r.duration, errors: r.errors + r.timeouts, non2xx: r.non2xx };
    },
  };
}

export const autocannon = autocannonTool();
