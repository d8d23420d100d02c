/**
 * A balancer host captured with `tcpdump -i any`, as an engineer does it in production: three
 * network namespaces of this test's own, client (10.217.1.2) -- balancer (10.217.1.1, VIP
 * 10.217.1.10 on the client side; 10.217.2.1 on the backend side) -- backends (`lbdiag whoami`
 * be1..be3 on 10.217.2.11-13 port 8080, routed back through the balancer). The balancer is
 * haproxy or nginx (config given, listening on the VIP) or iptables DNAT in the balancer
 * namespace (forwarding on, round robin per connection with `-m statistic --mode nth`). The
 * capture, made in the balancer namespace on every interface, holds both sides of the balancer.
 * The client script runs in the client namespace and prints its own truth on stdout. Everything
 * started is stopped by pid and the namespaces deleted; the capture is the caller's (`cleanup`).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { hasCommand, LBDIAG, start, type Started } from './processes.js';
import { netnsCaptureSkip } from './netns-capture.js';

export const VIP = '10.217.1.10';
export const BACKENDS = ['10.217.2.11', '10.217.2.12', '10.217.2.13'];

export function balancerHostSkip(balancer: 'nginx' | 'haproxy' | 'dnat'): string | false {
  return netnsCaptureSkip || (balancer !== 'dnat' && !hasCommand(balancer) ? `needs ${balancer}` : false);
}

export interface BalancerHostOptions {
  name: string;
  balancer: 'nginx' | 'haproxy' | 'dnat';
  /** haproxy/nginx configuration; `@DIR@` is replaced by a temporary directory. */
  config?: string;
  /** Node code run in the client namespace; it must print its truth on stdout and exit 0. */
  client: string;
}

export interface BalancerHostCapture {
  file: string;
  /** What the client printed. */
  truth: string;
  /** Packets tcpdump said the kernel dropped (its own count at exit; -1 when it did not say). */
  dropped: number;
  cleanup(): void;
}

function must(args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`);
}

async function waitFor(what: string, ok: () => boolean, ms = 15_000): Promise<void> {
  for (const t0 = Date.now(); !ok(); ) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function captureBalancerHost(o: BalancerHostOptions): Promise<BalancerHostCapture> {
  const tag = `${o.name}${process.pid}`.slice(-10);
  const [cli, lb, be] = ['c', 'l', 'b'].map((k) => `lbd${k}-${tag}`);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), `lbdiag-${o.name}-`));
  const file = path.join(tmp, `${o.name}.pcap`);
  const procs: Started[] = [];
  const inNs = (ns: string, cmd: string, args: string[]): Started => {
    const p = start('ip', ['netns', 'exec', ns, cmd, ...args]);
    procs.push(p);
    return p;
  };
  const x = (ns: string, ...args: string[]): void => must(['netns', 'exec', ns, ...args]);
  const made: string[] = [];
  try {
    for (const ns of [cli, lb, be]) {
      must(['netns', 'add', ns]);
      made.push(ns);
      x(ns, 'ip', 'link', 'set', 'lo', 'up');
    }
    must(['-n', cli, 'link', 'add', 'c0', 'type', 'veth', 'peer', 'name', 'l0', 'netns', lb]);
    must(['-n', be, 'link', 'add', 'b0', 'type', 'veth', 'peer', 'name', 'l1', 'netns', lb]);
    x(cli, 'ip', 'addr', 'add', '10.217.1.2/24', 'dev', 'c0');
    x(cli, 'ip', 'link', 'set', 'c0', 'up');
    x(cli, 'ip', 'route', 'add', 'default', 'via', '10.217.1.1');
    x(lb, 'ip', 'addr', 'add', '10.217.1.1/24', 'dev', 'l0');
    x(lb, 'ip', 'addr', 'add', `${VIP}/24`, 'dev', 'l0');
    x(lb, 'ip', 'addr', 'add', '10.217.2.1/24', 'dev', 'l1');
    x(lb, 'ip', 'link', 'set', 'l0', 'up');
    x(lb, 'ip', 'link', 'set', 'l1', 'up');
    for (const a of BACKENDS) x(be, 'ip', 'addr', 'add', `${a}/24`, 'dev', 'b0');
    x(be, 'ip', 'link', 'set', 'b0', 'up');
    x(be, 'ip', 'route', 'add', 'default', 'via', '10.217.2.1');
    BACKENDS.forEach((a, i) => inNs(be, process.execPath, [LBDIAG, 'whoami', '--name', `be${i + 1}`, '-H', a, '-p', '8080', '--drain-delay', '0']));
    if (o.balancer === 'dnat') {
      x(lb, 'sysctl', '-qw', 'net.ipv4.ip_forward=1');
      BACKENDS.forEach((a, i) => {
        const n = BACKENDS.length - i;
        const nth = n > 1 ? ['-m', 'statistic', '--mode', 'nth', '--every', String(n), '--packet', '0'] : [];
        x(lb, 'iptables', '-t', 'nat', '-A', 'PREROUTING', '-d', VIP, '-p', 'tcp', '--dport', '80', ...nth, '-j', 'DNAT', '--to-destination', `${a}:8080`);
      });
    } else {
      const conf = path.join(tmp, `${o.balancer}.conf`);
      fs.writeFileSync(conf, (o.config ?? '').replaceAll('@DIR@', tmp));
      if (o.balancer === 'nginx') inNs(lb, 'nginx', ['-c', conf]); // the config says daemon off (nginx-conf.ts)
      else inNs(lb, 'haproxy', ['-db', '-f', conf]);
    }
    const ss = (ns: string): string => spawnSync('ip', ['netns', 'exec', ns, 'ss', '-Hltn'], { encoding: 'utf8' }).stdout;
    const ready = (): boolean => (ss(be).match(/:8080\s/g) ?? []).length >= BACKENDS.length && (o.balancer === 'dnat' || /:80\s/.test(ss(lb)));
    await waitFor('the backends and the balancer', ready).catch((e: Error) => {
      throw new Error(`${e.message}: ${procs.map((p) => p.stderr().trim()).filter((t) => t !== '').join(' | ')}`);
    });
    const dump = inNs(lb, 'tcpdump', ['-i', 'any', '--immediate-mode', '-U', '-B', '16384', '-w', file, 'tcp port 80 or tcp port 8080']);
    await waitFor('tcpdump', () => /listening on/.test(dump.stderr()), 10_000);
    const client = inNs(cli, process.execPath, ['-e', o.client]);
    const code = await client.exited;
    if (code !== 0) throw new Error(`client script exited ${code}: ${client.stderr()}`);
    await new Promise((r) => setTimeout(r, 300));
    await dump.stop('SIGINT');
    const m = /(\d+) packets? dropped by kernel/.exec(dump.stderr());
    return { file, truth: client.stdout(), dropped: m ? Number(m[1]) : -1, cleanup: () => fs.rmSync(tmp, { recursive: true, force: true }) };
  } catch (e) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw e;
  } finally {
    for (const p of procs.reverse()) await p.stop('SIGTERM', 2000).catch(() => undefined);
    for (const ns of made) spawnSync('ip', ['netns', 'del', ns]);
  }
}
