/**
 * Real nginx as a lab balancer: an HTTP reverse proxy (upstream round robin, HTTP/1.1 keep-alive to
 * the backends, X-Forwarded-For), an HTTP/2 one (`grpc_pass grpc://`: h2c from clients and to the
 * backends, one backend per stream), or an L4 `stream {}` proxy when this nginx has the stream module.
 * Everything lives in a temp dir (config, pid, temp paths), so it runs as root without touching
 * /etc/nginx or /var; `daemon off` keeps the master as our child, stopped by pid.
 */
import { mkdtempSync, writeFileSync, chmodSync, existsSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Balancer, BackendTarget, BalancerOptions, Endpoint } from './types.js';
import { namedBackends, formatEndpoint } from './types.js';
import { track } from '../exit-registry.js';
import { waitForPort, sleep } from '../port-wait.js';
import { isListening } from '../proc-net.js';
import { spawnProcess, pidAlive } from '../supervisor.js';
import { findBinary, MissingToolError, removeDir, runSync } from '../tools.js';

/** `grpc`: HTTP/2 (h2c) from clients, `grpc_pass grpc://` to the upstream: one backend per stream. */
export type NginxMode = 'http' | 'stream' | 'grpc';

export interface NginxOptions extends BalancerOptions {
  /**
   * `http` (layer 7, default), `stream` (layer 4; needs the stream module, see nginxStreamSupport)
   * or `grpc` (layer 7 HTTP/2: h2c listener, `grpc_pass` to the upstream, per-stream balancing).
   */
  mode?: NginxMode;
  /** Idle timeouts in seconds (default 60). */
  idleTimeoutS?: number;
  startTimeoutMs?: number;
}

export interface NginxBalancer extends Balancer {
  kind: 'nginx-http' | 'nginx-stream' | 'nginx-grpc';
  config(): string;
}

export function requireNginx(): string {
  const bin = findBinary('nginx');
  if (!bin) throw new MissingToolError('nginx', 'nginx is not installed (apt-get install nginx-light), or use --balancer builtin');
  return bin;
}

export function nginxInstalled(): boolean {
  return findBinary('nginx') !== null;
}

export interface StreamSupport {
  ok: boolean;
  /** `load_module <path>;` when the module is dynamic and present. */
  loadModule?: string;
  /** Why not, when !ok. */
  reason?: string;
}

let streamCache: StreamSupport | undefined;

/** Whether the installed nginx can run a `stream {}` (L4) proxy, and how to load it. */
export function nginxStreamSupport(): StreamSupport {
  if (streamCache) return streamCache;
  const bin = findBinary('nginx');
  if (!bin) return (streamCache = { ok: false, reason: 'nginx is not installed' });
  const v = runSync(bin, ['-V']);
  const text = v.stdout + v.stderr;
  if (/--with-stream(\s|$)/.test(text)) return (streamCache = { ok: true });
  if (/--with-stream=dynamic/.test(text)) {
    const modulesPath = /--modules-path=(\S+)/.exec(text)?.[1] ?? '/usr/lib/nginx/modules';
    for (const p of [path.join(modulesPath, 'ngx_stream_module.so'), '/usr/lib/nginx/modules/ngx_stream_module.so', '/usr/share/nginx/modules/ngx_stream_module.so']) {
      if (existsSync(p)) return (streamCache = { ok: true, loadModule: p });
    }
    return (streamCache = { ok: false, reason: 'this nginx has the stream module only as a dynamic module, which is not installed (Debian: apt-get install libnginx-mod-stream)' });
  }
  return (streamCache = { ok: false, reason: 'this nginx was built without the stream module' });
}

function listenDirective(e: Endpoint): string {
  return e.host.includes(':') ? `[${e.host}]:${e.port}` : `${e.host}:${e.port}`;
}

export interface NginxConfigOptions {
  mode: NginxMode;
  listen: Endpoint;
  backends: BackendTarget[];
  /** The temp dir holding pid and temp paths. */
  dir: string;
  idleTimeoutS?: number;
  loadModule?: string;
  /**
   * grpc mode: how this nginx turns HTTP/2 on: `listen` (`listen … http2`, before 1.25.1) or
   * `directive` (`http2 on;`, 1.25.1 and later). Default `listen`.
   */
  http2Syntax?: Http2Syntax;
}

export type Http2Syntax = 'listen' | 'directive';

/** nginx's version as [major, minor, patch], from `nginx -v`; null when unknown. */
export function nginxVersion(): [number, number, number] | null {
  const bin = findBinary('nginx');
  if (!bin) return null;
  const v = runSync(bin, ['-v']);
  const m = /nginx\/(\d+)\.(\d+)\.(\d+)/.exec(v.stdout + v.stderr);
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : null;
}

/** 1.25.1 deprecated `listen … http2` for the `http2 on;` directive. */
export function http2SyntaxFor(version: [number, number, number] | null): Http2Syntax {
  if (!version) return 'listen';
  const [a, b, c] = version;
  return a > 1 || (a === 1 && (b > 25 || (b === 25 && c >= 1))) ? 'directive' : 'listen';
}

/** The config text (pure). */
export function nginxConfig(o: NginxConfigOptions): string {
  const idle = o.idleTimeoutS ?? 60;
  const servers = namedBackends(o.backends).map((b) => `        server ${formatEndpoint(b)};  # ${b.name.replace(/[;\n{}#]/g, '_')}`);
  const head = [
    '# generated by lbdiag lab',
    ...(o.loadModule ? [`load_module ${o.loadModule};`] : []),
    'daemon off;',
    'master_process on;',
    'worker_processes 1;',
    `pid ${path.join(o.dir, 'nginx.pid')};`,
    'error_log stderr warn;',
    'events { worker_connections 1024; }',
    '',
  ];
  if (o.mode === 'stream') {
    return `${[
      ...head,
      'stream {',
      '    upstream lbdiag_backends {',
      ...servers,
      '    }',
      '    server {',
      `        listen ${listenDirective(o.listen)};`,
      '        proxy_pass lbdiag_backends;',
      '        proxy_connect_timeout 5s;',
      `        proxy_timeout ${idle}s;`,
      '    }',
      '}',
    ].join('\n')}\n`;
  }
  const t = (name: string): string => path.join(o.dir, name);
  // The http block's start and the upstream, shared by proxy_pass (HTTP/1.1) and grpc_pass (h2c).
  const httpHead = [
    'http {',
    '    access_log off;',
    `    client_body_temp_path ${t('client_body')};`,
    `    proxy_temp_path ${t('proxy')};`,
    `    fastcgi_temp_path ${t('fastcgi')};`,
    `    uwsgi_temp_path ${t('uwsgi')};`,
    `    scgi_temp_path ${t('scgi')};`,
    `    keepalive_timeout ${idle}s;`,
    '    keepalive_requests 100000;',
    '    upstream lbdiag_backends {',
    ...servers,
    '        keepalive 32;',
    '        keepalive_timeout 4s;',
    '    }',
  ];
  if (o.mode === 'grpc') {
    const directive = o.http2Syntax === 'directive';
    return `${[
      ...head,
      ...httpHead,
      '    server {',
      `        listen ${listenDirective(o.listen)}${directive ? '' : ' http2'};`,
      ...(directive ? ['        http2 on;'] : []),
      '        location / {',
      '            grpc_pass grpc://lbdiag_backends;',
      '            grpc_set_header X-Forwarded-For $proxy_add_x_forwarded_for;',
      '            grpc_set_header X-Forwarded-Proto $scheme;',
      '            add_header Via "2 nginx" always;',
      '            grpc_connect_timeout 5s;',
      `            grpc_read_timeout ${idle}s;`,
      `            grpc_send_timeout ${idle}s;`,
      '        }',
      '    }',
      '}',
    ].join('\n')}\n`;
  }
  return `${[
    ...head,
    ...httpHead,
    '    server {',
    `        listen ${listenDirective(o.listen)};`,
    '        location / {',
    '            proxy_pass http://lbdiag_backends;',
    '            proxy_http_version 1.1;',
    '            proxy_set_header Connection "";',
    '            proxy_set_header Host $http_host;',
    '            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;',
    '            proxy_set_header X-Forwarded-Proto $scheme;',
    '            add_header Via "1.1 nginx" always;',
    '            proxy_connect_timeout 5s;',
    `            proxy_read_timeout ${idle}s;`,
    '        }',
    '    }',
    '}',
  ].join('\n')}\n`;
}

function workerPids(masterPid: number): number[] {
  try {
    const children = readFileSync(`/proc/${masterPid}/task/${masterPid}/children`, 'utf8').trim();
    return children ? children.split(/\s+/).map(Number) : [];
  } catch {
    return [];
  }
}

export async function startNginx(opts: NginxOptions): Promise<NginxBalancer> {
  const bin = requireNginx();
  const mode = opts.mode ?? 'http';
  let loadModule: string | undefined;
  if (mode === 'stream') {
    const s = nginxStreamSupport();
    if (!s.ok) throw new MissingToolError('nginx-stream', `nginx stream (L4) is not available: ${s.reason}`);
    loadModule = s.loadModule;
  }
  if (opts.listen.port === 0) throw new Error('nginx needs an explicit listen port (use a free port, not 0)');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lbdiag-nginx-'));
  // Workers run as nobody when we are root: they must be able to reach the temp paths.
  chmodSync(dir, 0o755);
  const untrackDir = track({ name: `temp dir ${dir}`, stop: async () => removeDir(dir), stopSync: () => removeDir(dir) });
  let backends = namedBackends(opts.backends);
  const http2Syntax = mode === 'grpc' ? http2SyntaxFor(nginxVersion()) : undefined;
  const cfgOf = (b: BackendTarget[]): string => nginxConfig({ mode, listen: opts.listen, backends: b, dir, idleTimeoutS: opts.idleTimeoutS, loadModule, http2Syntax });
  let config = cfgOf(backends);
  const file = path.join(dir, 'nginx.conf');
  writeFileSync(file, config);
  const proc = spawnProcess(bin, ['-p', dir, '-c', file, '-e', 'stderr'], { name: `nginx ${mode}`, cwd: dir, graceMs: 3000 });
  let stopped: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      await proc.stop();
      removeDir(dir);
      untrackDir();
    })());
  try {
    await waitForPort(opts.listen.host, opts.listen.port, { process: proc, timeoutMs: opts.startTimeoutMs ?? 10_000 });
  } catch (e) {
    await stop();
    throw new Error(`nginx did not start: ${(e as Error).message}`);
  }
  return {
    kind: mode === 'stream' ? 'nginx-stream' : mode === 'grpc' ? 'nginx-grpc' : 'nginx-http',
    layer: mode === 'stream' ? 4 : 7,
    address: { ...opts.listen },
    pid: proc.pid,
    get pids() {
      return proc.running() ? [proc.pid, ...workerPids(proc.pid)] : [];
    },
    backends: () => backends.map((b) => ({ ...b })),
    config: () => config,
    // nginx's reload: SIGHUP; new workers get the new upstreams, old ones finish their requests.
    setBackends: async (list: BackendTarget[]) => {
      const before = new Set(workerPids(proc.pid));
      backends = namedBackends(list);
      config = cfgOf(backends);
      writeFileSync(file, config);
      process.kill(proc.pid, 'SIGHUP');
      const deadline = Date.now() + 5000;
      // Done when a worker we had not seen before runs (it has the new config) and every old worker
      // has closed its copy of the listening socket (it may still finish requests in flight): until
      // then the kernel can hand a new connection to an old worker with the old backend list.
      const reloaded = (): boolean =>
        workerPids(proc.pid).some((p) => !before.has(p) && pidAlive(p)) &&
        [...before].every((p) => !pidAlive(p) || !isListening(opts.listen.host, opts.listen.port, p));
      while (Date.now() < deadline && !reloaded()) await sleep(20);
    },
    stop,
  };
}
