/**
 * lbdiag probe, measured exactly like the load tools: same target, concurrency and duration.
 * `node bin/lbdiag.js probe H:P --mode keepalive|short -c C --duration Ns --json [--workers W] [--records FILE]`;
 * with a request count, `-n N` (and a 600 s duration bound).
 */
import { LBDIAG } from '../../test/support/processes.js';
import { type LoadTool, type Parsed } from './tool.js';

interface ProbeMode {
  requests: number;
  ok: number;
  errors: number;
  durationMs: number;
  rate: number;
  statuses: Record<string, number>;
}

/** `workers`: `--workers N` (a number, or `auto`); the name then says it (`lbdiag probe -w auto`). */
export function probeTool(recordsFile?: string, workers?: string): LoadTool {
  return {
    name: workers ? `lbdiag probe -w ${workers}` : 'lbdiag probe',
    lang: 'Node',
    unavailable: () => undefined,
    command: (spec) => [
      process.execPath,
      [
        LBDIAG,
        'probe',
        `${spec.host}:${spec.port}`,
        '--mode', spec.keepAlive ? 'keepalive' : 'short',
        '-c', String(spec.concurrency),
        ...(spec.requests !== undefined ? ['-n', String(spec.requests), '--duration', '600s'] : ['--duration', `${spec.durationS}s`]),
        '--json',
        '--fail-on', 'none',
        ...(workers ? ['--workers', workers] : []),
        ...(recordsFile ? ['--records', recordsFile] : []),
      ],
    ],
    parse(stdout, _stderr, spec): Parsed {
      const doc = JSON.parse(stdout) as { modes: Record<string, ProbeMode> };
      const m = doc.modes[spec.keepAlive ? 'keepalive' : 'short'];
      if (!m) throw new Error(`no "${spec.keepAlive ? 'keepalive' : 'short'}" mode in the probe's JSON`);
      const non2xx = Object.entries(m.statuses ?? {}).reduce((n, [code, count]) => (code.startsWith('2') ? n : n + count), 0);
      return { requests: m.requests, rps: m.rate, elapsedS: m.durationMs / 1000, errors: m.errors, non2xx };
    },
  };
}
