/** ApacheBench (C, single thread, HTTP/1.0): without -k every request opens a new connection. */
import { ensureCommand } from '../host.js';
import { num, type LoadTool } from './tool.js';

export const ab: LoadTool = {
  name: 'ab',
  lang: 'C',
  unavailable: () => ensureCommand('ab', 'apache2-utils'),
  command: (spec) => [
    'ab',
    [
      '-q',
      '-r', // do not exit on socket receive errors
      '-s', '5',
      '-c', String(spec.concurrency),
      ...(spec.requests !== undefined ? ['-n', String(spec.requests)] : ['-t', String(spec.durationS), '-n', '100000000']),
      ...(spec.keepAlive ? ['-k'] : []),
      spec.url,
    ],
  ],
  parse(stdout) {
    const failed = /Failed requests:\s+(\d+)\s*\n(?:\s+\(Connect: (\d+), Receive: (\d+), Length: (\d+), Exceptions: (\d+)\))?/.exec(stdout);
    // Length "failures" only mean the body length differed from the first response (whoami's body varies).
    const errors = failed ? (failed[2] !== undefined ? num(failed[2]) + num(failed[3]) + num(failed[5]) : num(failed[1])) : 0;
    return {
      requests: num(/Complete requests:\s+(\d+)/.exec(stdout)?.[1]),
      elapsedS: num(/Time taken for tests:\s+([\d.]+) seconds/.exec(stdout)?.[1]),
      rps: num(/Requests per second:\s+([\d.]+)/.exec(stdout)?.[1]),
      errors,
      non2xx: num(/Non-2xx responses:\s+(\d+)/.exec(stdout)?.[1]) || 0,
    };
  },
};
