/**
 * Errors a user can act on. `UsageError` (bad flag, bad value, unreadable input, unreachable
 * target) exits 2 with one line on stderr and no stack trace. Anything else is a bug: it
 * prints one line too, plus the stack only when LBDIAG_DEBUG is set.
 */
export class UsageError extends Error {
  readonly usage = true;
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export function isUsageError(e: unknown): e is Error & { usage: true } {
  return e instanceof Error && (e as { usage?: unknown }).usage === true;
}

export const EXIT_OK = 0;
export const EXIT_FINDINGS = 1;
export const EXIT_USAGE = 2;
/** Ctrl-C (SIGINT) or SIGTERM ended the run: the partial report was printed (128 + SIGINT, as shells do). */
export const EXIT_INTERRUPTED = 130;

/** Prints one line for an error and returns the exit code to use. */
export function reportError(e: unknown, stream: NodeJS.WritableStream = process.stderr): number {
  const message = e instanceof Error ? e.message : String(e);
  stream.write(`lbdiag: ${message.split('\n')[0]}\n`);
  if (process.env.LBDIAG_DEBUG && e instanceof Error && e.stack) stream.write(`${e.stack}\n`);
  return EXIT_USAGE;
}

/** Human text for a Node.js socket error code. Stable: used as the `error` kind in records. */
export function errorKind(e: unknown): string {
  const code = (e as { code?: string } | undefined)?.code ?? '';
  switch (code) {
    case 'ECONNREFUSED':
      return 'refused';
    case 'ECONNRESET':
    case 'EPIPE':
    case 'UND_ERR_SOCKET':
      return 'reset';
    case 'ETIMEDOUT':
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
    case 'ABORT_ERR':
      return 'timeout';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'unreachable';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'dns';
    case 'EADDRNOTAVAIL':
      return 'no-local-port';
    default:
      return code ? code.toLowerCase() : 'error';
  }
}
