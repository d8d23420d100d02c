/**
 * What every command needs to choose its output before any result exists: the verbosity flags
 * and the JSON text. Kept apart from render.ts, which loads cli-table3 (about 30 ms of start-up)
 * for human reports only: a `--json` run, or a pcap run before its report, does not load it.
 */
import { UsageError } from './errors.js';

/** How much of each finding the human output shows (JSON always has everything). */
export type Verbosity = 'quiet' | 'normal' | 'verbose';

/** -q/--quiet and -v/--verbose together are a usage error. */
export function verbosityFromFlags(f: { quiet?: boolean; verbose?: boolean }): Verbosity {
  if (f.quiet && f.verbose) throw new UsageError('--quiet and --verbose are exclusive');
  return f.quiet ? 'quiet' : f.verbose ? 'verbose' : 'normal';
}

/** Stable JSON: two-space indent, trailing newline. */
export function renderJson(doc: unknown): string {
  return `${JSON.stringify(doc, null, 2)}\n`;
}
