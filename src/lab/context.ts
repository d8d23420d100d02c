/**
 * What a scenario gets to build with: loopback addresses, `lbdiag whoami` backends (in this
 * process), balancers (builtin in this process, or real haproxy/nginx children), the probe, and a
 * cleanup stack that stops everything the scenario started, newest first, whatever happens
 * (normal end, error, Ctrl-C). External processes are also in the process registry
 * (exit-registry.ts), which kills them by pid if this process exits before the stack ran.
 */
import { runProbe, type ProbeOptions, type ProbeProgress } from '../probe/run.js';
import type { ProbeReport } from '../probe/summary.js';
import { startWhoami, type WhoamiHandle } from '../whoami/server.js';
import { startBalancer, type Balancer, type BalancerKind, type BackendTarget } from './balancers/index.js';
import type { BalancerFamily } from './balancer-choice.js';
import { freePort } from './port-wait.js';

/** Backend names, in order; beyond the list, b13, b14, ... */
const BACKEND_NAMES = ['alpha', 'bravo', 'charlie', 'delta', 'echo', 'foxtrot', 'golf', 'hotel', 'india', 'juliett', 'kilo', 'lima'];

export function backendName(i: number): string {
  return BACKEND_NAMES[i] ?? `b${i + 1}`;
}

export interface LabOptions {
  family: BalancerFamily;
  /** True when the user chose --balancer (stale-listener prefers real haproxy otherwise). */
  familyExplicit: boolean;
  backends: number;
  /** -n: requests per probe mode; undefined: each scenario's default. */
  requests?: number;
  /** The /24 on loopback the lab uses, e.g. `127.0.77`: balancers on .1, backends on .2, .3, ... */
  prefix: string;
}

export interface LabHooks {
  signal?: AbortSignal;
  /** What the lab is doing now (one short line), for the progress line. */
  onStatus?: (text: string) => void;
  onProbeProgress?: (p: ProbeProgress) => void;
}

/** Everything the lab started, so a caller (or a test) can check that none of it outlives the run. */
export interface StartedRecord {
  pids: number[];
  listeners: { host: string; port: number }[];
  namespaces: string[];
}

interface Cleanup {
  name: string;
  run: () => Promise<unknown>;
}

export class LabContext {
  private readonly stack: Cleanup[] = [];
  /** Set when loopback addresses other than 127.0.0.1 cannot be bound (not Linux). */
  private singleAddress = false;

  constructor(
    readonly options: LabOptions,
    readonly hooks: LabHooks,
    readonly started: StartedRecord,
  ) {}

  get signal(): AbortSignal | undefined {
    return this.hooks.signal;
  }

  get aborted(): boolean {
    return Boolean(this.hooks.signal?.aborted);
  }

  status(text: string): void {
    this.hooks.onStatus?.(text);
  }

  /** Address number `n` in the lab's /24 (1 = balancers, 2.. = backends), or 127.0.0.1 where only that exists. */
  address(n: number): string {
    return this.singleAddress ? '127.0.0.1' : `${this.options.prefix}.${n}`;
  }

  /** Checks once that the lab's loopback addresses can be bound; falls back to 127.0.0.1 (ports differ). */
  async checkAddresses(): Promise<void> {
    try {
      await freePort(`${this.options.prefix}.2`);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'EADDRNOTAVAIL') throw e;
      this.singleAddress = true;
    }
  }

  /** Registers a cleanup; runs newest first in cleanup(). */
  defer(name: string, run: () => Promise<unknown>): void {
    this.stack.push({ name, run });
  }

  /** Starts `lbdiag whoami` backends named alpha, bravo, ... on .2, .3, ... (ports from the kernel); `maxConnAgeMs`: --max-conn-age. */
  async startBackends(first: number, count: number, opts: { idleTimeoutMs?: number; maxConnAgeMs?: number } = {}): Promise<WhoamiHandle[]> {
    const out: WhoamiHandle[] = [];
    for (let i = first; i < first + count; i++) {
      const host = this.address(2 + i);
      this.status(`starting backend ${backendName(i)} on ${host}`);
      // maxConnAgeMs: whoami --max-conn-age (GOAWAY on HTTP/2, Connection: close on HTTP/1.1).
      const w = await startWhoami({ host, port: 0, name: backendName(i), idleTimeoutMs: opts.idleTimeoutMs ?? 60_000, maxConnAgeMs: opts.maxConnAgeMs, log: false });
      this.defer(`whoami ${w.name}`, () => w.close());
      const a = w.addresses[0];
      this.started.listeners.push({ host: a.address, port: a.port });
      out.push(w);
    }
    return out;
  }

  /** Starts a balancer on .1 (a kernel-chosen port for builtin ones, a free port for haproxy/nginx). */
  async startBalancer(kind: BalancerKind, backends: BackendTarget[]): Promise<Balancer> {
    const host = this.address(1);
    this.status(`starting ${kind} on ${host}`);
    const port = kind.startsWith('builtin') ? 0 : await freePort(host);
    const lb = await startBalancer(kind, { listen: { host, port }, backends });
    this.defer(kind, () => lb.stop());
    this.started.pids.push(...lb.pids);
    this.started.listeners.push({ ...lb.address });
    return lb;
  }

  /** Runs the probe with the lab's Ctrl-C signal and progress. */
  /** Runs a probe; `onProgress` (optional) also hears its progress, beside the lab's own display. */
  probe(options: ProbeOptions, onProgress?: (p: ProbeProgress) => void): Promise<ProbeReport> {
    const display = this.hooks.onProbeProgress;
    const both = onProgress && display ? (p: ProbeProgress) => (display(p), onProgress(p)) : (onProgress ?? display);
    return runProbe(options, { signal: this.hooks.signal, onProgress: both });
  }

  /** Stops everything this context started, newest first; never throws. */
  async cleanup(): Promise<string[]> {
    const failures: string[] = [];
    while (this.stack.length) {
      const c = this.stack.pop()!;
      try {
        await withTimeout(c.run(), 8000, c.name);
      } catch (e) {
        failures.push(`${c.name}: ${(e as Error).message}`);
      }
    }
    return failures;
  }
}

/** whoami handle → balancer target. */
export function targetOf(w: WhoamiHandle): BackendTarget {
  const a = w.addresses[0];
  return { host: a.address, port: a.port, name: w.name };
}

async function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`${what} did not stop within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
