/**
 * Real haproxy in front of HTTP/2 backends, for the probe's HTTP/2 tests: `mode tcp` (layer 4: one
 * backend per client connection, whatever it carries) or `mode http` with h2c on both sides
 * (`bind ... proto h2`, `server ... proto h2`: per-stream balancing), round robin. Started as our
 * child in the foreground and stopped by pid (src/lab/supervisor.ts).
 */
import { appendFileSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnProcess, type SpawnedProcess } from '../../src/lab/supervisor.js';
import { waitForPort } from '../../src/lab/port-wait.js';

export interface H2Haproxy {
  host: string;
  port: number;
  pid: number;
  config: string;
  stop(): Promise<void>;
}

export async function startH2Haproxy(o: { mode: 'tcp' | 'http'; host: string; port: number; backends: { name: string; host: string; port: number }[] }): Promise<H2Haproxy> {
  const http = o.mode === 'http';
  const config = [
    'global',
    '    maxconn 4096',
    'defaults',
    `    mode ${o.mode}`,
    '    timeout connect 5s',
    '    timeout client 30s',
    '    timeout server 30s',
    'frontend fe',
    `    bind ${o.host}:${o.port}${http ? ' proto h2' : ''}`,
    '    default_backend be',
    'backend be',
    '    balance roundrobin',
    ...o.backends.map((b) => `    server ${b.name} ${b.host}:${b.port}${http ? ' proto h2' : ''}`),
    '',
  ].join('\n');
  const dir = mkdtempSync(path.join(os.tmpdir(), 'lbdiag-h2-haproxy-'));
  const file = path.join(dir, 'haproxy.cfg');
  writeFileSync(file, config);
  const proc: SpawnedProcess = spawnProcess('haproxy', ['-f', file, '-db'], { name: `haproxy ${o.mode} (h2 test)`, cwd: dir, graceMs: 2000 });
  // A parent running these cases in a child process (test/probe-h2.test.ts) stops what an aborted child left, by pid.
  if (process.env.LBDIAG_TEST_PIDFILE) appendFileSync(process.env.LBDIAG_TEST_PIDFILE, `${proc.pid}\n`);
  const stop = async (): Promise<void> => {
    await proc.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await waitForPort(o.host, o.port, { process: proc, timeoutMs: 10_000 });
  } catch (e) {
    await stop();
    throw e;
  }
  return { host: o.host, port: o.port, pid: proc.pid, config, stop };
}
