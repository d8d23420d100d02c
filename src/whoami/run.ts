/**
 * Running whoami as a process: start, print the banner, drain on the first SIGTERM/SIGINT,
 * exit at once on the second. With --workers the primary forks n workers (workers.ts).
 */
import { EXIT_OK } from '../core/errors.js';
import { bannerJson, bannerText, type BannerInput } from './banner.js';
import { startWhoami, type WhoamiHandle, type WhoamiOptions } from './server.js';
import { settingDuration } from './settings.js';

export const EXIT_INTERRUPTED = 130;

function say(line: string): void {
  process.stderr.write(`lbdiag whoami: ${line}\n`);
}

/**
 * Resolves when drained (first signal), after closing whatever is left so nothing keeps the
 * process alive. The handlers stay installed until the process exits: a second signal, even
 * after "drained", exits at once with 130.
 */
function drainOnSignals(handle: WhoamiHandle, onSecond: () => void): Promise<void> {
  return new Promise((resolve) => {
    let count = 0;
    const onSignal = (signal: NodeJS.Signals): void => {
      count++;
      if (count > 1) {
        say(`${signal} again, exiting now`);
        onSecond();
        return;
      }
      say(
        handle.settings.drainDelayMs > 0
          ? `${signal}: draining for ${settingDuration(handle.settings.drainDelayMs)} (/health 503, Connection: close on every answer); signal again to exit now`
          : `${signal}: stopping (idle connections closed, in-flight requests finish); signal again to exit now`,
      );
      void handle
        .drain()
        .then(() => handle.close())
        .then(() => {
          say('drained, exiting');
          resolve();
        });
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}

export async function runSingle(opts: WhoamiOptions): Promise<number> {
  const handle = await startWhoami(opts);
  const log = opts.log === true ? 'text' : opts.log || 'off';
  const input = {
    name: handle.name,
    version: handle.identity.version,
    addresses: handle.addresses,
    settings: handle.settings,
    log: log as BannerInput['log'],
    processes: [{ pid: handle.pid, instance: handle.instance }],
    tls: handle.tls,
  } satisfies BannerInput;
  // Signal handlers first, then the banner: whoever waits for the banner may signal at once, and a
  // signal that came before Node had a handler would kill the process instead of draining it.
  const drained = drainOnSignals(handle, () => process.exit(EXIT_INTERRUPTED));
  process.stdout.write(log === 'json' ? bannerJson(input) : bannerText(input));
  await drained;
  return EXIT_OK;
}
