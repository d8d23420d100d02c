/**
 * Ctrl-C handling for long work: the first SIGINT/SIGTERM asks the work to stop and report
 * what it gathered; a second one exits at once with 130.
 */
export function onInterrupt(stop: (signal: NodeJS.Signals) => void): () => void {
  let count = 0;
  const handler = (signal: NodeJS.Signals): void => {
    count++;
    if (count > 1) {
      process.stderr.write('\nlbdiag: interrupted again, exiting now\n');
      process.exit(130);
    }
    process.stderr.write(`\nlbdiag: ${signal}, stopping and reporting what was gathered (again to quit at once)\n`);
    stop(signal);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}

/** Thrown by `abortable` when the signal fires first. */
export class Interrupted extends Error {
  constructor() {
    super('interrupted');
    this.name = 'Interrupted';
  }
}

/**
 * Resolves with `p`, or rejects with `Interrupted` as soon as `signal` aborts: a read that
 * may block forever (an idle pipe on stdin) must not hold Ctrl-C hostage.
 */
export function abortable<T>(p: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return p;
  if (signal.aborted) return Promise.reject(new Interrupted());
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(new Interrupted());
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e) => {
        signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}

