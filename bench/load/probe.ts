/**
 * lbdiag probe, measured exactly like the load tools: same target, concurrency and duration.
 * `node bin/lbdiag.js probe H:P --mode keepalive|short -c C --duration Ns --json [--records FILE]`.
 */
import { LBDIAG } from '../../test/support/processes.js';
import { type LoadTool, type Parsed } from './tool.js';

/** Finds the first numeric value under any of `keys`, depth first, in a JSON document. */
export function findNumber(doc: unknown, keys: string[]): number | undefined {
  if (doc === null || typeof doc !== 'object') return undefined;
  const obj = doc as Record<string, unknown>;
  for (const k of keys) if (typeof obj[k] === 'number') return obj[k] as number;
  for (const v of Object.values(obj)) {
    const n = findNumber(v, keys);
    if (n !== undefined) return n;
  }
  return undefined;
}

export function probeTool(recordsFile?: string): LoadTool {
  return {
    name: 'lbdiag probe',
    lang: 'Node',
    unavailable: (spec) => (spec.requests !== undefined ? 'lbdiag probe runs for a duration' : undefined),
    command: (spec) => [
      process.execPath,
      [
        LBDIAG,
        'probe',
        `${spec.host}:${spec.port}`,
        '--mode', spec.keepAlive ? 'keepalive' : 'short',
        '-c', String(spec.concurrency),
        '--duration', `${spec.durationS}s`,
        '--json',
        ...(recordsFile ? ['--records', recordsFile] : []),
      ],
    ],
    parse(stdout): Parsed {
      const doc = JSON.parse(stdout) as unknown;
      const requests = findNumber(doc, ['requests', 'total', 'sent', 'completed']) ?? NaN;
      const elapsedMs = findNumber(doc, ['elapsedMs', 'durationMs']);
      const errors = findNumber(doc, ['errors', 'failed', 'failures']) ?? 0;
      return {
        requests,
        rps: findNumber(doc, ['rps', 'requestsPerSecond', 'ratePerSecond']),
        elapsedS: elapsedMs !== undefined ? elapsedMs / 1000 : undefined,
        errors,
        non2xx: findNumber(doc, ['non2xx']) ?? 0,
      };
    },
  };
}
