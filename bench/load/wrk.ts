/** wrk (C, event loop): the fastest HTTP/1.1 client; `-H 'Connection: close'` for a new connection per request. */
import { ensureCommand } from '../host.js';
import { num, type LoadTool } from './tool.js';

export const wrk: LoadTool = {
  name: 'wrk',
  lang: 'C',
  unavailable: (spec) => (spec.requests !== undefined ? 'wrk runs for a duration, not a request count' : ensureCommand('wrk', 'wrk')),
  command: (spec) => [
    'wrk',
    ['-t1', `-c${spec.concurrency}`, `-d${spec.durationS}s`, '--timeout', '5s', ...(spec.keepAlive ? [] : ['-H', 'Connection: close']), spec.url],
  ],
  parse(stdout) {
    // "  123456 requests in 5.00s, 12.34MB read" / "Requests/sec:  24691.20"
    const m = /(\d+) requests in ([\d.]+)(ms|s|m)/.exec(stdout);
    const unit = m?.[3] === 'ms' ? 1e-3 : m?.[3] === 'm' ? 60 : 1;
    const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(stdout);
    const non2xx = num(/Non-2xx or 3xx responses: (\d+)/.exec(stdout)?.[1]) || 0;
    return {
      requests: num(m?.[1]),
      elapsedS: num(m?.[2]) * unit,
      rps: num(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1]),
      errors: sock ? num(sock[1]) + num(sock[3]) + num(sock[4]) : 0,
      non2xx,
      note: sock && num(sock[2]) > 0 ? `${sock[2]} read errors (wrk counts a server close as one)` : undefined,
    };
  },
};
