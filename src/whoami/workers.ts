/**
 * `--workers n`: node:cluster forks n processes that share the listening port (the primary
 * accepts and hands connections round-robin). The primary makes the generation (one instance id
 * and start time for this whoami start) and hands it to every worker, so a probe sees one
 * generation of one backend answered by n pids, and a restart as a new generation. The primary
 * forwards signals: the first asks every worker to drain, the second makes them exit; it exits
 * when they all have.
 */
import cluster, { type Worker } from 'node:cluster';
import { EXIT_OK, EXIT_USAGE, UsageError } from '../core/errors.js';
import { bannerJson, bannerText, type BannerInput } from './banner.js';
import { EXIT_INTERRUPTED } from './run.js';
import { newGeneration, type Generation } from './identity.js';
import { startWhoami, type WhoamiOptions } from './server.js';
import { settingDuration } from './settings.js';
import { selfSignedTls, type TlsMaterial } from './tls.js';

type ToPrimary =
  | { lbdiag: 'ready'; pid: number; instance: string; addresses: { address: string; port: number }[]; settings: import('./answers.js').ServerSettings; name: string; version: string; tls: BannerInput['tls'] }
  | { lbdiag: 'error'; message: string };
/** The generation travels to a worker in its environment: `instance:startedMs:worker:workers`. */
const GENERATION_ENV = 'LBDIAG_WHOAMI_GENERATION';
/**
 * --tls without --cert: the primary makes the one self-signed certificate every worker serves (one
 * fingerprint per whoami start), handed over in the environment (base64 JSON; the key never
 * touches the disk and is readable only by this user, through /proc/PID/environ).
 */
const TLS_ENV = 'LBDIAG_WHOAMI_TLS';

function tlsFromEnv(env: NodeJS.ProcessEnv = process.env): TlsMaterial | undefined {
  const v = env[TLS_ENV];
  if (!v) return undefined;
  return JSON.parse(Buffer.from(v, 'base64').toString('utf8')) as TlsMaterial;
}

function generationFromEnv(env: NodeJS.ProcessEnv = process.env): Generation | undefined {
  const m = /^([0-9a-f]{8}):(\d+):(\d+):(\d+)$/.exec(env[GENERATION_ENV] ?? '');
  if (!m) return undefined;
  return { instance: m[1], startedMs: Number(m[2]), worker: Number(m[3]), workers: Number(m[4]) };
}

type ToWorker = { lbdiag: 'drain' } | { lbdiag: 'exit' };

function say(line: string): void {
  process.stderr.write(`lbdiag whoami: ${line}\n`);
}

export function isWorker(): boolean {
  return cluster.isWorker;
}

/** In a worker: start, report to the primary, drain on its word (or on a signal), exit. */
export async function runWorker(opts: WhoamiOptions): Promise<number> {
  let handle;
  try {
    handle = await startWhoami({ ...opts, logPid: true, generation: generationFromEnv(), tlsMaterial: tlsFromEnv() });
    delete process.env[TLS_ENV];
  } catch (e) {
    // Report, then leave on our own: the primary waits for every worker to exit (a worker it
    // killed while cluster still talked to it gave EPIPE in the primary).
    await new Promise<void>((resolve) => {
      if (!process.send) return resolve();
      process.send({ lbdiag: 'error', message: (e as Error).message } satisfies ToPrimary, undefined, {}, () => resolve());
    });
    process.exit(EXIT_USAGE);
  }
  const h = handle;
  process.send?.({ lbdiag: 'ready', pid: h.pid, instance: h.instance, addresses: h.addresses, settings: h.settings, name: h.name, version: h.identity.version, tls: h.tls } satisfies ToPrimary);
  const drain = (): void => {
    void h.drain().then(() => process.exit(EXIT_OK));
  };
  // A terminal's Ctrl-C reaches every process of the group: signals only ever start the drain
  // here (idempotent); exiting at once is the primary's call.
  process.on('SIGINT', drain);
  process.on('SIGTERM', drain);
  process.on('message', (m: ToWorker) => {
    if (m?.lbdiag === 'drain') drain();
    else if (m?.lbdiag === 'exit') process.exit(EXIT_INTERRUPTED);
  });
  // If the primary dies, do not linger.
  process.on('disconnect', () => void h.close().then(() => process.exit(EXIT_OK)));
  return new Promise<number>(() => {});
}

export async function runPrimary(n: number, opts: WhoamiOptions): Promise<number> {
  cluster.setupPrimary({ silent: false });
  const workers: Worker[] = [];
  const ready: Extract<ToPrimary, { lbdiag: 'ready' }>[] = [];
  let draining = false;
  let failed: string | null = null;
  const codes: number[] = [];

  const allExited = new Promise<void>((resolve) => {
    let exited = 0;
    cluster.on('exit', (w, code, signal) => {
      exited++;
      codes.push(code ?? 1);
      if (!draining && failed === null && ready.length === n) say(`worker pid ${w.process.pid} exited (${signal ?? `code ${code}`}) while serving; ${n - exited} left`);
      if (exited === n) resolve();
    });
  });

  const generation = newGeneration();
  let tlsEnv = '';
  if (opts.tls && opts.certFile === undefined) {
    const hostList = opts.host === undefined ? ['::'] : Array.isArray(opts.host) ? opts.host : [opts.host];
    tlsEnv = Buffer.from(JSON.stringify(await selfSignedTls(hostList))).toString('base64');
  }
  const started = new Promise<void>((resolve) => {
    for (let i = 0; i < n; i++) {
      const w = cluster.fork({ [GENERATION_ENV]: `${generation.instance}:${generation.startedMs}:${i + 1}:${n}`, ...(tlsEnv ? { [TLS_ENV]: tlsEnv } : {}) });
      workers.push(w);
      // A message to a worker that is exiting fails with EPIPE / ERR_IPC_CHANNEL_CLOSED: its exit
      // is what counts (handled below), not the failed write.
      w.on('error', () => {});
      w.on('message', (m: ToPrimary) => {
        if (m?.lbdiag === 'ready') {
          ready.push(m);
          if (ready.length === n) resolve();
        } else if (m?.lbdiag === 'error') {
          failed ??= m.message;
          resolve();
        }
      });
      w.on('exit', () => {
        if (ready.length < n) {
          failed ??= 'a worker exited before it was ready';
          resolve();
        }
      });
    }
  });
  await started;
  if (failed !== null) {
    // Every worker hit the same error (they share the primary's listening handle) and exits by
    // itself; one that does not within 3 s is killed.
    const kill = setTimeout(() => {
      for (const w of workers) if (!w.isDead()) w.process.kill('SIGKILL');
    }, 3000);
    for (const w of workers) if (!w.isDead() && w.isConnected()) w.disconnect();
    await allExited;
    clearTimeout(kill);
    throw new UsageError(failed);
  }

  const first = ready[0];
  const log = opts.log === true ? 'text' : opts.log || 'off';
  const input = {
    name: first.name,
    version: first.version,
    addresses: first.addresses,
    settings: first.settings,
    log: log as BannerInput['log'],
    processes: ready.map((r) => ({ pid: r.pid, instance: r.instance })),
    primaryPid: process.pid,
    tls: first.tls,
  } satisfies BannerInput;

  let signals = 0;
  const onSignal = (signal: NodeJS.Signals): void => {
    signals++;
    if (signals === 1) {
      draining = true;
      say(`${signal}: draining ${n} workers for ${settingDuration(first.settings.drainDelayMs)}; signal again to exit now`);
      for (const w of workers) if (!w.isDead()) w.send({ lbdiag: 'drain' } satisfies ToWorker);
      return;
    }
    say(`${signal} again, exiting now`);
    for (const w of workers) if (!w.isDead()) w.send({ lbdiag: 'exit' } satisfies ToWorker);
    setTimeout(() => {
      for (const w of workers) if (!w.isDead()) w.process.kill('SIGKILL');
      process.exit(EXIT_INTERRUPTED);
    }, 500).unref();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // The banner after the handlers: whoever waits for it may signal at once (see run.ts).
  process.stdout.write(log === 'json' ? bannerJson(input) : bannerText(input));
  await allExited;
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  if (signals > 1) return EXIT_INTERRUPTED;
  if (draining) say('all workers drained, exiting');
  return codes.every((c) => c === 0) && draining ? EXIT_OK : 1;
}
