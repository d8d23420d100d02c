import { EXIT_OK, reportError } from './errors.js';

/**
 * Wraps a subcommand's action: its resolved number becomes the exit code; a thrown error
 * becomes one line on stderr and exit 2 (see errors.ts). Never lets a stack trace escape.
 */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<number | void> | number | void) {
  return async (...args: A): Promise<void> => {
    try {
      const code = await fn(...args);
      process.exitCode = code ?? EXIT_OK;
    } catch (e) {
      process.exitCode = reportError(e);
    }
  };
}

/** commander `argParser` adapter: the parser's UsageError is shown as commander's invalid-argument error. */
export function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}
