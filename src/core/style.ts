import { Chalk, type ChalkInstance } from 'chalk';

/**
 * Colour policy, decided once per stream: NO_COLOR (any value) turns colour off, FORCE_COLOR=0
 * too; FORCE_COLOR=1..3 forces it; otherwise colour only when the stream is a TTY and TERM is
 * not "dumb". Every renderer takes its chalk from here so non-TTY output is plain text.
 */
export function colorLevel(stream: NodeJS.WritableStream & { isTTY?: boolean } = process.stdout): 0 | 1 | 2 | 3 {
  const env = process.env;
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return 0;
  if (env.FORCE_COLOR !== undefined) {
    const f = env.FORCE_COLOR;
    if (f === '0' || f === 'false') return 0;
    if (f === '2') return 2;
    if (f === '3') return 3;
    return 1;
  }
  if (!stream.isTTY || env.TERM === 'dumb') return 0;
  return 1;
}

export function makeChalk(stream: NodeJS.WritableStream & { isTTY?: boolean } = process.stdout): ChalkInstance {
  return new Chalk({ level: colorLevel(stream) });
}

/** A horizontal bar of `width` cells for a fraction in [0,1], using eighth-blocks on a TTY-capable stream. */
export function bar(fraction: number, width = 20, unicode = true): string {
  const f = Math.max(0, Math.min(1, Number.isFinite(fraction) ? fraction : 0));
  if (!unicode) return '#'.repeat(Math.round(f * width)).padEnd(width, ' ');
  const eighths = Math.round(f * width * 8);
  const full = Math.floor(eighths / 8);
  const rest = eighths % 8;
  const partial = rest ? ' ▏▎▍▌▋▊▉'[rest] : '';
  return ('█'.repeat(full) + partial).padEnd(width, ' ');
}
