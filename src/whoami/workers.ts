/**
 * `--workers n`: node:cluster forks n processes that share the listening port (the primary
 * accepts and hands connections round-robin). Each worker has its own pid and instance id, so
 * a probe sees distinct processes of one backend name. The primary forwards signals: the first
 * asks every worker to drain, the second makes them exit; it exits when they all have.
 */
import cluster, { type Worker } from 'node:cluster';
import { EXIT_OK, EXIT_USAGE, UsageError } from '../report/errors.js';
import { bannerJson, bannerText, type BannerInput } from './banner.js';
import { EXIT_INTERRUPTED } from './run.js';
import { startWhoami, type WhoamiOptions } from './server.js';
import { settingDuration } from './server.js';

type ToPrimary =
  | { lbdiag: 'ready'; pid: number; instance: string; addresses: { address: string; port: number }[]; settings: import('./answers.js').ServerSettings; name: string; version: string }
  | { lbdiag: 'error'; message: string };
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
    handle = await startWhoami({ ...opts, logPid: true });
  } catch (e) {
    process.send?.({ lbdiag: 'error', message: (e as Error).message } satisfies ToPrimary);
    return EXIT_USAGE;
  }
  const h = handle;
  process.send?.({ lbdiag: 'ready', pid: h.pid, instance: h.instance, addresses: h.addresses, settings: h.settings, name: h.name, version: h.identity.version } satisfies ToPrimary);
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

  const started = new Promise<void>((resolve) => {
    for (let i = 0; i < n; i++) {
      const w = cluster.fork();
      workers.push(w);
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
    for (const w of workers) if (!w.isDead()) w.process.kill('SIGKILL');
    await allExited;
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
  } satisfies BannerInput;
  process.stdout.write(log === 'json' ? bannerJson(input) : bannerText(input));

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
  await allExited;
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  if (signals > 1) return EXIT_INTERRUPTED;
  if (draining) say('all workers drained, exiting');
  return codes.every((c) => c === 0) && draining ? EXIT_OK : 1;
}
