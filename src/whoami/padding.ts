/**
 * `?size=` bodies: the answer's own text, then padding streamed from ONE shared buffer of dots,
 * written only while the socket drains. A response never has more than two high-water marks
 * (2 x 16 KiB) queued in the process, whatever the size asked for and however slowly the client
 * reads, and no per-request copy of the padding is ever made. Large responses in flight at once
 * are capped; one whose client stops reading for STALL_MS is destroyed.
 */
import type { ServerResponse } from 'node:http';

/** One chunk of dots, shared by every response (never written to after start). */
const DOTS = Buffer.alloc(64 * 1024, '.');
/** Padding above this many bytes makes a response "large" (counted against the cap). */
export const LARGE_PADDING_BYTES = 64 * 1024;
/** Large responses streaming at once, per process; more answer 503 with Retry-After. */
export const MAX_LARGE_RESPONSES = 64;
/** A large response whose client has not read for this long is destroyed. */
const STALL_MS = 30_000;

/** A body in three parts: `head` + `pad` dots + `tail` (both strings are short). */
export interface PaddedBody {
  head: string;
  pad: number;
  tail: string;
}

/** Text answer padded to `size` bytes: the text, dots, a final newline. */
export function paddedText(body: string, size: number): PaddedBody {
  const len = Buffer.byteLength(body);
  if (size <= len) return { head: body, pad: 0, tail: '' };
  return { head: body, pad: size - len - 1, tail: '\n' };
}

/** JSON answer with a `padding` field of dots so the body reaches `size` bytes. */
export function paddedJson(body: string, size: number): PaddedBody {
  const len = Buffer.byteLength(body);
  const open = ',\n  "padding": "';
  const overhead = open.length + 1; // and the closing quote
  if (size <= len + overhead) return { head: body, pad: 0, tail: '' };
  const cut = body.lastIndexOf('\n}');
  return { head: body.slice(0, cut) + open, pad: size - len - overhead, tail: '"' + body.slice(cut) };
}

export function paddedLength(p: PaddedBody): number {
  return Buffer.byteLength(p.head) + p.pad + Buffer.byteLength(p.tail);
}

/**
 * Streams a padded body on `res` (headers already written). `done` runs once, when the body
 * is complete or the response was abandoned (client gone, stalled).
 */
export function streamPadded(res: ServerResponse, p: PaddedBody, done: (completed: boolean) => void): void {
  let left = p.pad;
  let finished = false;
  const chunkMax = Math.min(DOTS.length, res.writableHighWaterMark || 16 * 1024);
  let stall: NodeJS.Timeout | null = null;
  const finish = (completed: boolean): void => {
    if (finished) return;
    finished = true;
    if (stall) clearTimeout(stall);
    res.off('drain', pump);
    res.off('close', onClose);
    done(completed);
  };
  const onClose = (): void => finish(false);
  const pump = (): void => {
    if (finished) return;
    stall?.refresh();
    while (left > 0) {
      if (res.destroyed) return finish(false);
      const n = left < chunkMax ? left : chunkMax;
      left -= n;
      // subarray: a view on the shared buffer, no copy.
      if (!res.write(n === DOTS.length ? DOTS : DOTS.subarray(0, n))) return; // wait for 'drain'
    }
    res.end(p.tail);
    finish(true);
  };
  res.on('close', onClose);
  res.on('drain', pump);
  if (p.pad > LARGE_PADDING_BYTES) {
    stall = setTimeout(() => {
      if (!finished) {
        finish(false);
        res.destroy();
      }
    }, STALL_MS);
    stall.unref();
  }
  if (p.head && !res.write(p.head)) return; // pump runs on 'drain'
  pump();
}
