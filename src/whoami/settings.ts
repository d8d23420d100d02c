/**
 * whoami's timing settings: the defaults (Node's own where whoami keeps them), validation of the
 * values users give, and the compact text the banner and the drain messages show.
 */
import { UsageError } from '../core/errors.js';

export const DEFAULT_PORT = 18088;
export const DEFAULT_DRAIN_DELAY_MS = 5000;
/** After the --max-conn-age GOAWAY, streams in flight get this long before the session is destroyed. */
export const DEFAULT_MAX_CONN_AGE_GRACE_MS = 10_000;
/** Node's own defaults, shown in the banner when the user did not override them. */
export const NODE_KEEP_ALIVE_TIMEOUT_MS = 5000;
export const NODE_HEADERS_TIMEOUT_MS = 60_000;
export const NODE_REQUEST_TIMEOUT_MS = 300_000;

/** A duration option in ms: `fallback` when unset, a usage error when negative, non-finite or above a timer's range. */
export function checkDuration(ms: number | undefined, what: string, fallback: number): number {
  if (ms === undefined) return fallback;
  if (!Number.isFinite(ms) || ms < 0 || ms > 2 ** 31 - 1) throw new UsageError(`invalid ${what} ${ms} ms`);
  return Math.round(ms);
}

/** Compact duration for settings: `5s`, `400ms`, `1.5s`, `2m`. */
export function settingDuration(ms: number): string {
  if (ms >= 600_000 && ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms >= 1000 && ms % 1000 === 0) return `${ms / 1000}s`;
  if (ms < 1000) return `${ms}ms`;
  return `${Number((ms / 1000).toFixed(3))}s`;
}

/** `5s (Node default)` style text for the banner. */
export function describeSetting(ms: number, isDefault: boolean, zero = 'off'): string {
  return `${ms === 0 ? zero : settingDuration(ms)}${isDefault ? ' (Node default)' : ''}`;
}
