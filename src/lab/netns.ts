/**
 * A network namespace for the "stall" scenario: reached from the root namespace over a veth pair
 * with a private /30 that exists only on that link, an HTTP backend inside it, and an iptables rule
 * INSIDE the namespace that drops the first SYN of each new connection (per source address and
 * port), so every connect waits for the kernel's SYN retransmission: ~1 s (the initial RTO).
 *
 * Never touches the root namespace's firewall, routes or sysctls: the only root-side change is the
 * address on our own veth end (and the connected route the kernel adds for it). teardown() deletes
 * the namespace (which deletes the veth pair) and stops what it started, by pid.
 */
import path from 'node:path';
import type { Endpoint } from './balancers/types.js';
import { track } from './exit-registry.js';
import { waitForPort } from './port-wait.js';
import { spawnProcess, type SpawnedProcess } from './supervisor.js';
import { findBinary, isRootUser, MissingToolError, runSync } from './tools.js';
import { NAME_SERVER_SCRIPT } from './name-server.js';

export type NetnsCheck = { ok: true } | { ok: false; reason: string };

let checked: NetnsCheck | undefined;

/** Whether namespaces can be used here (root, `ip`, `iptables`, a kernel that lets us); else why not. */
export function canUseNetns(): NetnsCheck {
  if (checked) return checked;
  if (!isRootUser()) return (checked = { ok: false, reason: 'needs root (network namespaces and iptables)' });
  const ip = findBinary('ip');
  if (!ip) return (checked = { ok: false, reason: 'needs iproute2 (`ip`), which is not installed' });
  if (!findBinary('iptables')) return (checked = { ok: false, reason: 'needs iptables, which is not installed' });
  const name = `lbd-check-${process.pid}`;
  const add = runSync(ip, ['netns', 'add', name]);
  if (add.status !== 0) return (checked = { ok: false, reason: `\`ip netns add\` failed: ${add.stderr.trim().split('\n')[0] || `status ${add.status}`}` });
  runSync(ip, ['netns', 'del', name]);
  return (checked = { ok: true });
}

export interface Namespace {
  /** The namespace name, `lbd-<pid>-<n>`. */
  name: string;
  /** The veth end in the root namespace (capture here with tcpdump -i). */
  rootIface: string;
  /** The veth end inside the namespace. */
  nsIface: string;
  /** Address of the root-side end (the client's source address towards the namespace). */
  rootAddress: string;
  /** Address inside the namespace (where its servers listen). */
  nsAddress: string;
  /** The /30 of the link, e.g. 10.213.4.8/30. */
  subnet: string;
  /** Runs a command inside the namespace as a supervised child (`ip netns exec`). */
  spawn(command: string, args: string[], opts?: { name?: string }): SpawnedProcess;
  /** Runs a command inside the namespace to completion; throws with its stderr on failure. */
  exec(command: string, args: string[]): string;
  /** Deletes the namespace (and the veth pair) and stops everything spawned in it; idempotent. */
  teardown(): Promise<void>;
}

let counter = 0;

function requireIp(): string {
  const ip = findBinary('ip');
  if (!ip) throw new MissingToolError('ip', 'iproute2 (`ip`) is not installed');
  return ip;
}

function must(cmd: string, args: string[]): string {
  const r = runSync(cmd, args);
  if (r.status !== 0) throw new Error(`${path.basename(cmd)} ${args.join(' ')}: ${r.stderr.trim().split('\n')[0] || `status ${r.status}`}`);
  return r.stdout;
}

/** IPv4 prefixes already routed or assigned in the root namespace (so our /30 never overlaps). */
function usedPrefixes(ip: string): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  const text = runSync(ip, ['-4', '-o', 'route', 'show', 'table', 'all']).stdout + runSync(ip, ['-4', '-o', 'addr', 'show']).stdout;
  for (const m of text.matchAll(/(?:^|\s)(\d+\.\d+\.\d+\.\d+)(?:\/(\d+))?/g)) {
    const bits = m[2] === undefined ? 32 : Number(m[2]);
    if (bits === 0) continue; // the default route covers everything; it is not a conflict
    out.push([toInt(m[1]), bits]);
  }
  return out;
}

function toInt(a: string): number {
  return a.split('.').reduce((n, o) => n * 256 + Number(o), 0);
}

function toAddr(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}

function overlaps(base: number, used: Array<[number, number]>): boolean {
  for (const [net, bits] of used) {
    const size = 2 ** (32 - bits);
    const start = Math.floor(net / size) * size;
    if (base < start + size && start < base + 4) return true;
  }
  return false;
}

/**
 * Creates a namespace joined to the root namespace by a veth pair, with a /30 from 10.213.0.0/16
 * that nothing else on this machine uses.
 */
async function createNamespace(): Promise<Namespace> {
  const check = canUseNetns();
  if (!check.ok) throw new MissingToolError('netns', `network namespaces unavailable: ${check.reason}`);
  const ip = requireIp();
  const n = counter++;
  const name = `lbd-${process.pid}-${n}`;
  const tag = `${process.pid.toString(36)}${n.toString(36)}`.slice(-9);
  const rootIface = `lbd${tag}r`;
  const nsIface = `lbd${tag}n`;
  // A /30 chosen from our pid so parallel runs differ, skipping anything already in use.
  const used = usedPrefixes(ip);
  const slots = 16384; // /30s in a /16
  let base = -1;
  for (let i = 0; i < 64; i++) {
    const slot = (process.pid * 7 + n * 131 + i * 977) % slots;
    const candidate = toInt('10.213.0.0') + slot * 4;
    if (!overlaps(candidate, used)) {
      base = candidate;
      break;
    }
  }
  if (base < 0) throw new Error('no free /30 in 10.213.0.0/16 for the namespace link');
  const rootAddress = toAddr(base + 1);
  const nsAddress = toAddr(base + 2);
  const subnet = `${toAddr(base)}/30`;

  const children = new Set<SpawnedProcess>();
  const delSync = (): void => {
    for (const c of children) if (c.running()) try { process.kill(-c.pid, 'SIGKILL'); } catch { /* gone */ }
    runSync(ip, ['netns', 'del', name]);
    runSync(ip, ['link', 'del', rootIface]);
  };
  let untrack = (): void => {};
  let torn: Promise<void> | undefined;
  const teardown = (): Promise<void> =>
    (torn ??= (async () => {
      await Promise.all([...children].map((c) => c.stop(1500)));
      runSync(ip, ['netns', 'del', name]);
      // Deleting the namespace deletes the veth pair; this only matters if creation half failed.
      if (runSync(ip, ['link', 'show', rootIface]).status === 0) runSync(ip, ['link', 'del', rootIface]);
      untrack();
    })());
  untrack = track({ name: `namespace ${name}`, stop: teardown, stopSync: delSync });

  try {
    must(ip, ['netns', 'add', name]);
    must(ip, ['link', 'add', rootIface, 'type', 'veth', 'peer', 'name', nsIface, 'netns', name]);
    must(ip, ['addr', 'add', `${rootAddress}/30`, 'dev', rootIface]);
    must(ip, ['link', 'set', rootIface, 'up']);
    must(ip, ['-n', name, 'addr', 'add', `${nsAddress}/30`, 'dev', nsIface]);
    must(ip, ['-n', name, 'link', 'set', nsIface, 'up']);
    must(ip, ['-n', name, 'link', 'set', 'lo', 'up']);
    // Our /30 must route over our veth, or another link claims the same addresses.
    const via = runSync(ip, ['-4', '-o', 'route', 'get', nsAddress]).stdout;
    if (!new RegExp(`\\bdev ${rootIface}\\b`).test(via)) throw new Error(`${nsAddress} does not route over ${rootIface}: ${via.trim()}`);
  } catch (e) {
    await teardown();
    throw e;
  }

  return {
    name,
    rootIface,
    nsIface,
    rootAddress,
    nsAddress,
    subnet,
    spawn: (command, args, opts = {}) => {
      const c = spawnProcess(ip, ['netns', 'exec', name, command, ...args], { name: opts.name ?? `${path.basename(command)} in ${name}`, graceMs: 1500 });
      children.add(c);
      return c;
    },
    exec: (command, args) => must(ip, ['netns', 'exec', name, command, ...args]),
    teardown,
  };
}

export interface StallOptions {
  /** Port of the backend inside the namespace (default 8080). */
  port?: number;
  /** Name the default backend answers with (default "stalled"). */
  backendName?: string;
  /**
   * Command that starts the backend inside the namespace, listening on host:port (for example
   * `lbdiag whoami`); default: a tiny node HTTP server answering `backendName`.
   */
  backendCommand?: (host: string, port: number) => { command: string; args: string[] };
  /** Install the SYN drop now (default true); toggle later with setStall(). */
  stall?: boolean;
  /**
   * `every-connection` (default): the first SYN of every new connection is dropped.
   * `reused-port`: only the first SYN of a connection reusing a source address+port seen in the
   * last minute is dropped (IPVS with conn_reuse_mode=1 and the old entry in TIME_WAIT); a client
   * must reuse its local port (bind it) to trigger it.
   */
  drop?: SynDropMode;
}

export type SynDropMode = 'every-connection' | 'reused-port';

export interface StallTopology {
  ns: Namespace;
  /** Where the backend listens (inside the namespace). */
  backend: Endpoint;
  backendPid: number;
  /** Adds (true) or removes (false) the first-SYN drop rule inside the namespace. */
  setStall(on: boolean): void;
  /** The iptables rules, as commands (for the lab's story). */
  rules: string[];
  drop: SynDropMode;
  teardown(): Promise<void>;
}

/**
 * The iptables rules (chain INPUT inside the namespace) for a SYN drop on `port`. hashlimit keyed
 * by source address and port lets exactly one SYN per tuple per minute be "under the limit":
 *
 * - every-connection: that first SYN matches and is dropped; the retransmission a second later is
 *   over the limit and passes. The entry expires after 10 s, so a port reused later is dropped again.
 * - reused-port: a first rule ACCEPTs the first SYN ever seen from a tuple (table `seen`, one
 *   minute); a SYN from a tuple seen before falls through to the every-connection rule, so the
 *   first SYN of the reused port is dropped and its retransmission passes.
 */
function synDropRules(port: number, tableName: string, mode: SynDropMode = 'every-connection'): string[][] {
  const match = ['INPUT', '-p', 'tcp', '--dport', String(port), '--syn', '-m', 'hashlimit', '--hashlimit-mode', 'srcip,srcport', '--hashlimit-upto', '1/min', '--hashlimit-burst', '1'];
  const drop = [
    ...match, '--hashlimit-name', `${tableName}d`, '--hashlimit-htable-expire', '10000',
    '-m', 'comment', '--comment', `lbdiag lab: drop the first SYN of each ${mode === 'reused-port' ? 'reused port' : 'connection'}`,
    '-j', 'DROP',
  ];
  if (mode === 'every-connection') return [drop];
  const firstUse = [
    ...match, '--hashlimit-name', `${tableName}s`, '--hashlimit-htable-expire', '60000',
    '-m', 'comment', '--comment', 'lbdiag lab: first use of a source port passes',
    '-j', 'ACCEPT',
  ];
  return [firstUse, drop];
}

/** A namespace with an HTTP backend behind a SYN drop: a connect to it takes ~1 s (see StallOptions.drop). */
export async function createStallTopology(opts: StallOptions = {}): Promise<StallTopology> {
  const ns = await createNamespace();
  try {
    const port = opts.port ?? 8080;
    const host = ns.nsAddress;
    const iptables = findBinary('iptables');
    if (!iptables) throw new MissingToolError('iptables');
    const { command, args } = opts.backendCommand
      ? opts.backendCommand(host, port)
      : { command: process.execPath, args: [NAME_SERVER_SCRIPT, host, String(port), opts.backendName ?? 'stalled'] };
    const backend = ns.spawn(command, args, { name: `backend in ${ns.name}` });
    await waitForPort(host, port, { process: backend, timeoutMs: 10_000 });
    const drop = opts.drop ?? 'every-connection';
    const rules = synDropRules(port, `lbd${process.pid % 100000}x${ns.name.split('-').pop()}`, drop);
    let on = false;
    const setStall = (want: boolean): void => {
      if (want === on) return;
      for (const rule of rules) ns.exec(iptables, [want ? '-A' : '-D', ...rule]);
      on = want;
    };
    if (opts.stall !== false) setStall(true);
    return {
      ns,
      backend: { host, port },
      backendPid: backend.pid,
      setStall,
      rules: rules.map((rule) => `iptables -A ${rule.map((a) => (/\s/.test(a) ? `"${a}"` : a)).join(' ')}`),
      drop,
      teardown: () => ns.teardown(),
    };
  } catch (e) {
    await ns.teardown();
    throw e;
  }
}
