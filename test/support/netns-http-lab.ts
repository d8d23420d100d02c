/**
 * A small HTTP balancing setup in a network namespace of its own (loopback only), captured by a
 * real tcpdump: `lbdiag whoami` backends on 127.0.0.11, .12, ... port 8080, a real balancer
 * (nginx or haproxy, in the foreground, config given by the test) and a Node client script run in
 * the namespace. Everything started is stopped by pid and the namespace deleted; the capture file
 * is the caller's (removed by `cleanup`).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { hasCommand, LBDIAG, start, type Started } from './processes.js';
import { netnsCaptureSkip } from './netns-capture.js';

/** Why this lab cannot run here (false when it can). */
export function httpLabSkip(balancer: 'nginx' | 'haproxy'): string | false {
  return netnsCaptureSkip || (!hasCommand(balancer) ? `needs ${balancer}` : false);
}

export interface HttpLabOptions {
  name: string;
  /** Backend count: whoami `be1`.. on 127.0.0.11.. port 8080. */
  backends: number;
  balancer: 'nginx' | 'haproxy';
  /** The balancer's configuration; `@DIR@` is replaced by a temporary directory for pid and log files. */
  config: string;
  /** Ports the balancer listens on (waited for). */
  ports: number[];
  /** tcpdump filter (which side of the balancer the capture sees). */
  filter: string;
  /** Node code run in the namespace once everything listens; it must exit 0 on its own. */
  client: string;
  /** Extra whoami options. */
  whoamiArgs?: string[];
  /** Instead of whoami: Node code for each backend, run with NAME (be1, ...) and HOST (127.0.0.11, ...) in its environment, listening on HOST:8080. */
  backendScript?: string;
}

export interface HttpLabCapture {
  file: string;
  cleanup(): void;
}

function listening(ns: string): string {
  return spawnSync('ip', ['netns', 'exec', ns, 'ss', '-Hltn'], { encoding: 'utf8' }).stdout;
}

async function waitFor(what: string, ok: () => boolean, ms = 15_000): Promise<void> {
  for (const t0 = Date.now(); !ok(); ) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function captureHttpLab(o: HttpLabOptions): Promise<HttpLabCapture> {
  const ns = `lbdiag-${o.name}-${process.pid}`;
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `lbdiag-${o.name}-`));
  const file = path.join(tmp, `${o.name}.pcap`);
  const procs: Started[] = [];
  const inNs = (cmd: string, args: string[]): Started => {
    const p = start('ip', ['netns', 'exec', ns, cmd, ...args]);
    procs.push(p);
    return p;
  };
  const add = spawnSync('ip', ['netns', 'add', ns], { encoding: 'utf8' });
  if (add.status !== 0) throw new Error(`ip netns add: ${add.stderr}`);
  try {
    spawnSync('ip', ['netns', 'exec', ns, 'ip', 'link', 'set', 'lo', 'up']);
    for (let i = 1; i <= o.backends; i++)
      if (o.backendScript !== undefined) procs.push(start('ip', ['netns', 'exec', ns, 'env', `NAME=be${i}`, `HOST=127.0.0.${10 + i}`, process.execPath, '-e', o.backendScript]));
      else inNs(process.execPath, [LBDIAG, 'whoami', '--name', `be${i}`, '-H', `127.0.0.${10 + i}`, '-p', '8080', '--drain-delay', '0', ...(o.whoamiArgs ?? [])]);
    const conf = path.join(tmp, `${o.balancer}.conf`);
    fs.writeFileSync(conf, o.config.replaceAll('@DIR@', tmp));
    if (o.balancer === 'nginx') inNs('nginx', ['-c', conf, '-g', 'daemon off;']);
    else inNs('haproxy', ['-db', '-f', conf]);
    await waitFor('the backends and the balancer', () => {
      const s = listening(ns);
      const n = (s.match(/127\.0\.0\.\d+:8080/g) ?? []).length;
      return n >= o.backends && o.ports.every((p) => new RegExp(`:${p}\\s`).test(s));
    });
    const dump = start('ip', ['netns', 'exec', ns, 'tcpdump', '-i', 'lo', '--immediate-mode', '-U', '-B', '16384', '-w', file, o.filter]);
    procs.push(dump);
    await waitFor('tcpdump', () => /listening on/.test(dump.stderr()), 10_000);
    const client = start('ip', ['netns', 'exec', ns, process.execPath, '-e', o.client]);
    const code = await client.exited;
    if (code !== 0) throw new Error(`client script exited ${code}: ${client.stderr()}`);
    await new Promise((r) => setTimeout(r, 300));
    await dump.stop('SIGINT');
    if (process.env.LBDIAG_LAB_DEBUG) console.error(dump.stderr());
  } finally {
    for (const p of procs.reverse()) await p.stop('SIGTERM', 2000).catch(() => undefined);
    spawnSync('ip', ['netns', 'del', ns]);
  }
  return { file, cleanup: () => fs.rmSync(tmp, { recursive: true, force: true }) };
}

export interface HaproxyConfig {
  /** `tcp` (a layer-4 balancer) or `http` (layer 7). */
  mode: 'tcp' | 'http';
  /** Where it listens (default 127.0.0.1:80). */
  bind?: string;
  /** The `balance` algorithm (default roundrobin). */
  balance?: string;
  /** Server addresses, named be1, be2, ... (default the lab's usual backends, 127.0.0.11-13:8080). */
  servers?: string[];
  /** haproxy's `timeout client` (default 10s). */
  clientTimeout?: string;
  /** A `global` section's lines, when one is needed. */
  global?: string[];
}

/**
 * A one-section haproxy configuration for the namespace labs: `listen l4` (mode tcp) or `listen l7`
 * (mode http) on `bind`, over be1..beN, with the labs' timeouts.
 */
export function haproxyConfig(o: HaproxyConfig): string {
  const servers = o.servers ?? ['127.0.0.11:8080', '127.0.0.12:8080', '127.0.0.13:8080'];
  return `
${o.global ? `global\n${o.global.map((l) => `  ${l}\n`).join('')}` : ''}defaults
  mode ${o.mode}
  timeout connect 2s
  timeout client ${o.clientTimeout ?? '10s'}
  timeout server 10s
listen ${o.mode === 'tcp' ? 'l4' : 'l7'}
  bind ${o.bind ?? '127.0.0.1:80'}
  balance ${o.balance ?? 'roundrobin'}
${servers.map((a, i) => `  server be${i + 1} ${a}`).join('\n')}
`;
}

/**
 * haproxy `mode tcp` (a layer-4 balancer) on 127.0.0.1:80, round robin over be1..be3 at
 * 127.0.0.11-13:8080, the lab's usual backends; `clientTimeout` is haproxy's `timeout client`.
 */
export function haproxyTcpConfig(clientTimeout = '10s'): string {
  return haproxyConfig({ mode: 'tcp', clientTimeout });
}
