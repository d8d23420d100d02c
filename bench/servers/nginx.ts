/**
 * nginx `return 200` as a C ceiling / a target that is never the bottleneck: a temporary prefix
 * with its own config, pid file, temp paths and error log; access_log off; one worker, no master
 * (so the pid we hold is the process serving, and we stop it by that pid).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export interface NginxConfig {
  dir: string;
  conf: string;
}

export function writeNginxConfig(host: string, port: number): NginxConfig {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lbdiag-bench-nginx-'));
  mkdirSync(path.join(dir, 'logs'));
  const conf = path.join(dir, 'nginx.conf');
  writeFileSync(
    conf,
    `daemon off;
master_process off;
worker_processes 1;
pid ${dir}/nginx.pid;
error_log ${dir}/logs/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path ${dir}/body;
  proxy_temp_path ${dir}/proxy;
  fastcgi_temp_path ${dir}/fastcgi;
  uwsgi_temp_path ${dir}/uwsgi;
  scgi_temp_path ${dir}/scgi;
  keepalive_requests 100000000;
  keepalive_timeout 65s;
  server {
    listen ${host}:${port} backlog=4096;
    location / { default_type text/plain; return 200 "nginx\\n"; }
  }
}
`,
  );
  return { dir, conf };
}

export function nginxArgs(c: NginxConfig): string[] {
  return ['-e', path.join(c.dir, 'logs', 'error.log'), '-p', c.dir, '-c', c.conf];
}

export function removeNginxConfig(c: NginxConfig): void {
  rmSync(c.dir, { recursive: true, force: true });
}
