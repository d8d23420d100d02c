/**
 * One input of `lbdiag pcap`: its source, its reader and its line in the report, and `fill()`,
 * which reads until the input has a record ready. How an input ends is decided here once:
 * a file that is not a capture, or that fails before its first packet (corrupt record, gzip or
 * read error, cut inside the first record), is a usage error (exit 2, one line, nothing
 * analysed); a failure after that keeps what came before and says so in a warning.
 */
import { UsageError } from '../core/errors.js';
import { Interrupted, abortable } from '../core/interrupt.js';
import { CaptureReader, CorruptCaptureError, NotACaptureError, PACKET, type CaptureFormat } from './reader.js';
import { CHUNK_SIZE, type Input } from './source.js';

export interface FileReport {
  path: string;
  format: CaptureFormat | null;
  gzip: boolean;
  linkTypes: string[];
  packets: number;
  /** Set when the file ended inside a record or had a corrupt record: what came before is analysed. */
  warning?: string;
}

export interface Entry {
  index: number;
  input: Input;
  reader: CaptureReader;
  report: FileReport;
  done: boolean;
}

export function newEntry(index: number, path: string, input: Input): Entry {
  return { index, input, reader: new CaptureReader(), report: { path, format: null, gzip: input.gzip, linkTypes: [], packets: 0 }, done: false };
}

/**
 * Ends the input on `why`. The packet count comes from the reader itself (the records it has
 * handed out, all analysed by then), not from a counter the caller updates afterwards.
 */
function fail(e: Entry, why: string, after: 'before it' | 'before the cut'): void {
  e.done = true;
  const n = e.reader.records;
  if (n === 0) throw new UsageError(`${e.input.name}: ${why}; no packet could be read`);
  e.report.warning = `${why}; analysed the ${n} packet${n === 1 ? '' : 's'} ${after}`;
}

/** A corrupt record met by the packet loop (or by fill): the input ends there, with a warning. */
export function corrupt(e: Entry, err: unknown): void {
  if (err instanceof NotACaptureError) throw new UsageError(`${e.input.name}: ${err.message}`);
  if (!(err instanceof CorruptCaptureError)) throw err;
  fail(e, `corrupt record at byte ${err.at}: ${err.what}`, 'before it');
}

const CORRUPT = -1;

/**
 * `abortable(p)` drops `p` when the signal fired first; a read that fails after that (the input
 * closed under it) must not become an unhandled rejection.
 */
function quiet<T>(p: Promise<T>): Promise<T> {
  p.catch(() => {});
  return p;
}

function nextRecord(e: Entry): number {
  try {
    return e.reader.next();
  } catch (err) {
    corrupt(e, err);
    return CORRUPT;
  }
}

/** Reads until the input has a packet ready (true) or is exhausted (false). Throws Interrupted when `signal` aborts. */
export async function fill(e: Entry, signal?: AbortSignal): Promise<boolean> {
  for (;;) {
    if (e.done) return false;
    let r = nextRecord(e);
    if (r === CORRUPT) return false;
    if (r === PACKET) return true;
    let chunk: Buffer | null;
    try {
      if (e.input.readInto) {
        const { buf, offset } = e.reader.space(CHUNK_SIZE);
        const n = await abortable(quiet(e.input.readInto(buf, offset, buf.length - offset)), signal);
        if (n > 0) {
          e.reader.commit(n);
          continue;
        }
        chunk = null;
      } else chunk = await abortable(quiet(e.input.next()), signal);
    } catch (err) {
      if (err instanceof Interrupted) throw err;
      // A gzip stream cut short or damaged, or a read error: analyse what came before.
      if (e.reader.format === null) {
        e.done = true;
        throw new UsageError(`${e.input.name}: ${(err as Error).message}`);
      }
      fail(e, `input ended early (${(err as Error).message})`, 'before the cut');
      return false;
    }
    if (chunk === null) {
      e.reader.end();
      r = nextRecord(e);
      if (r === CORRUPT) return false;
      if (r === PACKET) return true; // unreachable in practice: end() adds no bytes
      e.done = true;
      if (e.reader.format === null) throw new UsageError(`${e.input.name}: not a capture file (empty)`);
      if (e.reader.truncatedAt !== null) fail(e, `file is truncated (cut inside a record at byte ${e.reader.truncatedAt})`, 'before the cut');
      return false;
    }
    e.reader.push(chunk);
  }
}
