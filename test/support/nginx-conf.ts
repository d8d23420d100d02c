/** A hand-written nginx config for a test: foreground master, one worker, temp paths and pid in `dir`, the given `http {}` body. */
import path from 'node:path';

export function nginxHttpConf(dir: string, body: readonly string[]): string {
  return [
    'daemon off;',
    'master_process on;',
    'worker_processes 1;',
    `pid ${path.join(dir, 'nginx.pid')};`,
    'error_log stderr warn;',
    'events { worker_connections 1024; }',
    'http {',
    '  access_log off;',
    ...['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${path.join(dir, t)};`),
    ...body.map((l) => `  ${l}`),
    '}',
    '',
  ].join('\n');
}
