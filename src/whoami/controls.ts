/**
 * Query controls accepted on any path: `?wait=250ms` (delay, capped), `?status=503`,
 * `?size=16k` (body padded to that many bytes, capped), `?close=1`, `?format=json|text`.
 * Parsed only when the URL has a query string; a bad value is reported, never thrown.
 */
import { parseDuration, parseSize } from '../core/units.js';

export const WAIT_CAP_MS = 30_000;
const SIZE_CAP_BYTES = 16 * 1024 * 1024;

export interface Controls {
  waitMs: number;
  status: number;
  size: number;
  close: boolean;
  format: '' | 'json' | 'text';
  error: string;
}

export const NO_CONTROLS: Readonly<Controls> = Object.freeze({ waitMs: 0, status: 0, size: 0, close: false, format: '', error: '' });

const TRUE = new Set(['', '1', 'true', 'yes', 'on']);

export function parseControls(query: string): Controls {
  const c: Controls = { waitMs: 0, status: 0, size: 0, close: false, format: '', error: '' };
  let params: URLSearchParams;
  try {
    params = new URLSearchParams(query);
  } catch {
    return c;
  }
  for (const [key, value] of params) {
    try {
      switch (key) {
        case 'wait':
        case 'delay': {
          const ms = parseDuration(value, 'wait');
          c.waitMs = Math.min(ms, WAIT_CAP_MS);
          break;
        }
        case 'status': {
          const n = Number(value);
          if (!/^\d{3}$/.test(value) || n < 200 || n > 599) throw new Error(`invalid status "${value}" (expected 200 to 599)`);
          c.status = n;
          break;
        }
        case 'size': {
          const n = parseSize(value, 'size');
          c.size = Math.min(n, SIZE_CAP_BYTES);
          break;
        }
        case 'close':
          c.close = TRUE.has(value.toLowerCase());
          break;
        case 'format':
          if (value !== 'json' && value !== 'text') throw new Error(`invalid format "${value}" (expected json or text)`);
          c.format = value;
          break;
        default:
          break; // other parameters are echoed, not interpreted
      }
    } catch (e) {
      if (!c.error) c.error = (e as Error).message;
    }
  }
  return c;
}
