/** hey (Go, net/http): `-disable-keepalive` for a new connection per request. */
import { ensureCommand } from '../host.js';
import { num, type LoadTool } from './tool.js';

export const hey: LoadTool = {
  name: 'hey',
  lang: 'Go',
  unavailable: () => ensureCommand('hey', 'hey'),
  command: (spec) => [
    'hey',
    [
      ...(spec.requests !== undefined ? ['-n', String(spec.requests)] : ['-z', `${spec.durationS}s`]),
      '-c', String(spec.concurrency),
      '-t', '5',
      ...(spec.keepAlive ? [] : ['-disable-keepalive']),
      spec.url,
    ],
  ],
  parse(stdout) {
    let ok = 0;
    let non2xx = 0;
    for (const m of stdout.matchAll(/\[(\d{3})\]\s+(\d+) responses/g)) {
      if (m[1].startsWith('2')) ok += num(m[2]);
      else non2xx += num(m[2]);
    }
    let errors = 0;
    const dist = stdout.split('Error distribution:')[1] ?? '';
    for (const m of dist.matchAll(/^\s+\[(\d+)\]/gm)) errors += num(m[1]);
    return {
      requests: ok + non2xx,
      elapsedS: num(/Total:\s+([\d.]+) secs/.exec(stdout)?.[1]),
      rps: num(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1]),
      errors,
      non2xx,
    };
  },
};
