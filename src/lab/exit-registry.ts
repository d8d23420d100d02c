/**
 * The exit registry: everything the lab starts (processes, namespaces, temporary directories)
 * registers a cleanup here; it is stopped when this process exits, or on SIGINT/SIGTERM/SIGHUP
 * when nobody else handles them.
 */

export interface Cleanup {
  name: string;
  /** Graceful, bounded. */
  stop(): Promise<void>;
  /** Synchronous last resort, run from process 'exit' (SIGKILL, rm -rf, ip netns del). */
  stopSync(): void;
}

const registry = new Set<Cleanup>();
let installed = false;

/** Registers something to clean up; returns a function that unregisters it (call after stopping). */
export function track(cleanup: Cleanup): () => void {
  installHandlers();
  registry.add(cleanup);
  return () => void registry.delete(cleanup);
}

/** Stops everything registered, newest first, each bounded by its own grace period. */
async function stopAll(): Promise<void> {
  const all = [...registry].reverse();
  for (const c of all) {
    try {
      await c.stop();
    } catch {
      c.stopSync();
    }
    registry.delete(c);
  }
}

function stopAllSync(): void {
  for (const c of [...registry].reverse()) {
    try {
      c.stopSync();
    } catch {
      /* best effort */
    }
  }
  registry.clear();
}

function installHandlers(): void {
  if (installed) return;
  installed = true;
  process.on('exit', stopAllSync);
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const) {
    const handler = (): void => {
      // Someone else (the lab's onInterrupt) handles this signal: let them stop and report; their
      // eventual process.exit() runs the 'exit' handler above.
      if (process.listenerCount(signal) > 1) return;
      const hard = setTimeout(() => process.exit(code), 5000);
      hard.unref();
      void stopAll().finally(() => process.exit(code));
    };
    process.on(signal, handler);
  }
}
