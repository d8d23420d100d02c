import { UsageError } from './errors.js';

const DURATION_UNITS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/** What every duration option accepts, for help texts and error messages. */
export const DURATION_HELP = 'a bare number is seconds; units ms, s, m, h and combinations such as 1m30s';

/**
 * Parses a duration into milliseconds: `250ms`, `1.5s`, `2m`, `1m30s`, `1h`, `500us`.
 * A bare number is SECONDS, in every command (as in whoami, hey -z, wrk -d, autocannon -d):
 * `-d 10` is ten seconds, never ten milliseconds. The one duration parser of every command.
 * Throws UsageError with the flag's name on anything else.
 */
export function parseDuration(input: string, what = 'duration'): number {
  const text = String(input).trim().toLowerCase();
  if (/^\d+(\.\d+)?$/.test(text)) {
    const n = Number(text) * 1000;
    if (Number.isFinite(n)) return n;
  }
  const re = /(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)/gy;
  let total = 0;
  let consumed = 0;
  let m: RegExpExecArray | null;
  while ((m = re.exec(text)) !== null) {
    total += Number(m[1]) * DURATION_UNITS[m[2]];
    consumed = re.lastIndex;
  }
  if (text.length === 0 || consumed !== text.length || !Number.isFinite(total)) {
    throw new UsageError(`invalid ${what} "${input}" (examples: 250ms, 1.5s, 2m, 1m30s; a bare number is seconds)`);
  }
  return total;
}

/** Short human duration: `850µs`, `12.3ms`, `1.02s`, `2m05s`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return '-';
  const a = Math.abs(ms);
  if (a < 1) return `${Math.round(ms * 1000)}µs`;
  if (a < 10) return `${ms.toFixed(2)}ms`;
  if (a < 1000) return `${ms.toFixed(1)}ms`;
  if (a < 60_000) return `${(ms / 1000).toFixed(a < 10_000 ? 2 : 1)}s`;
  const m = Math.floor(a / 60_000);
  const s = Math.round((a % 60_000) / 1000);
  return `${ms < 0 ? '-' : ''}${m}m${String(s).padStart(2, '0')}s`;
}

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kb: 1024, kib: 1024, m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3 };

/** Parses a byte size: `512`, `16k`, `1.5m`, `2MiB`. */
export function parseSize(input: string, what = 'size'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(String(input));
  const unit = m ? SIZE_UNITS[m[2].toLowerCase()] : undefined;
  if (!m || unit === undefined) throw new UsageError(`invalid ${what} "${input}" (examples: 512, 16k, 1m)`);
  return Math.round(Number(m[1]) * unit);
}

/** Parses a positive integer flag. */
export function parseCount(input: string, what: string, min = 1, max = Number.MAX_SAFE_INTEGER): number {
  const text = String(input).trim();
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`invalid ${what} "${input}" (expected a whole number from ${min}${max < Number.MAX_SAFE_INTEGER ? ` to ${max}` : ''})`);
  }
  return n;
}

/** Parses a rate such as `200`, `200/s`, `50/100ms`, `600/m` into requests per second. */
export function parseRate(input: string, what = 'rate'): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(?:\/\s*(.+))?$/.exec(String(input));
  if (!m) throw new UsageError(`invalid ${what} "${input}" (examples: 200, 200/s, 600/m)`);
  const per = m[2] ? parseDuration(/^\d/.test(m[2]) ? m[2] : `1${m[2]}`, what) : 1000;
  const rate = (Number(m[1]) * 1000) / per;
  if (!(rate > 0) || !Number.isFinite(rate)) throw new UsageError(`invalid ${what} "${input}" (must be above zero)`);
  return rate;
}

/** `1.2k`, `3.4M` for counts. */
export function formatCount(n: number): string {
  const a = Math.abs(n);
  if (a < 10_000) return String(Math.round(n));
  if (a < 1e6) return `${(n / 1e3).toFixed(1)}k`;
  if (a < 1e9) return `${(n / 1e6).toFixed(2)}M`;
  return `${(n / 1e9).toFixed(2)}G`;
}

export function formatBytes(n: number): string {
  const a = Math.abs(n);
  if (a < 1024) return `${n} B`;
  if (a < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  if (a < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

export function formatPercent(fraction: number, digits = 1): string {
  if (!Number.isFinite(fraction)) return '-';
  return `${(fraction * 100).toFixed(digits)}%`;
}
