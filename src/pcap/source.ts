/**
 * Where capture bytes come from: a regular file read in large chunks at known offsets, or a
 * stream (stdin `-`, a FIFO, `<(cat x.pcap)`, `/dev/stdin`, a character device) read in
 * order, each transparently gunzipped when it starts with the gzip magic (1f 8b).
 *
 * Nothing here blocks the event loop (a FIFO is opened non-blocking, so Ctrl-C and SIGTERM work
 * while it waits for a writer), and no stream error escapes as an unhandled 'error' event: every
 * failure, including a stream destroyed by close(), surfaces as a rejected `next()`.
 */
import fs from 'node:fs';
import net from 'node:net';
import tty from 'node:tty';
import type { Readable, Writable } from 'node:stream';
import zlib from 'node:zlib';
import { UsageError } from '../core/errors.js';
import { Interrupted, abortable } from '../core/interrupt.js';

export const CHUNK_SIZE = 4 * 1024 * 1024;
const GZIP_CHUNK = 1024 * 1024;
/**
 * Compressed bytes are handed to zlib in slices this big: when zlib fails (damaged data, bad CRC)
 * it drops the output of the write that failed, so smaller writes keep more of what came before.
 */
const GZIP_SLICE = 64 * 1024;

export interface Input {
  /** As given on the command line (`-` for stdin). */
  name: string;
  /** Size on disk when known (for progress), else null. */
  size: number | null;
  gzip: boolean;
  /** Raw bytes read so far (compressed bytes for gzip). */
  bytesRead: () => number;
  /** The next chunk of (decompressed) capture bytes; null at the end. Rejects on a read or gzip error. */
  next: () => Promise<Buffer | null>;
  /** Plain regular files: reads straight into the caller's buffer (0 at the end), instead of `next`. */
  readInto?: (buf: Buffer, offset: number, length: number) => Promise<number>;
  /** Releases the file or stream; safe to call more than once, and while a read is pending. */
  close: () => void;
}

function isGzip(b: Buffer): boolean {
  return b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;
}

/**
 * Pulls chunks from a readable stream in paused mode. Errors, and a close before the end, are
 * kept and thrown by the next `next()`; the stream always has an 'error' listener.
 */
class Puller {
  private err: Error | null = null;
  private ended = false;
  private wake: (() => void) | null = null;
  read = 0;

  constructor(readonly stream: Readable) {
    const w = (): void => {
      const f = this.wake;
      this.wake = null;
      f?.();
    };
    stream.on('readable', w);
    stream.on('end', () => {
      this.ended = true;
      w();
    });
    stream.on('error', (e: Error) => {
      this.err ??= e;
      w();
    });
    stream.on('close', () => {
      if (!this.ended) this.err ??= new Error('input closed before its end');
      w();
    });
  }

  async next(): Promise<Buffer | null> {
    for (;;) {
      const c = this.stream.read() as Buffer | string | null;
      if (c !== null) {
        const b = typeof c === 'string' ? Buffer.from(c, 'latin1') : c;
        this.read += b.length;
        return b;
      }
      if (this.err) throw this.err;
      if (this.ended) return null;
      await new Promise<void>((r) => (this.wake = r));
    }
  }
}

/** Resolves when `w` can take more, or is closed (never leaves a listener behind). */
function drained(w: Writable): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      w.off('drain', done);
      w.off('close', done);
      resolve();
    };
    w.on('drain', done);
    w.on('close', done);
  });
}

/**
 * Decompresses `head` and then what `src` yields. Back-pressure both ways: the next compressed
 * chunk is written only when the gunzip stream takes it, and the gunzip stream stops inflating
 * while its output is unread, so a "gzip bomb" costs at most a few chunks of memory.
 */
function gunzip(head: Buffer, src: Puller): { next: () => Promise<Buffer | null>; destroy: () => void } {
  const z = zlib.createGunzip({ chunkSize: GZIP_CHUNK, highWaterMark: GZIP_CHUNK } as zlib.ZlibOptions);
  const out = new Puller(z);
  void (async () => {
    try {
      let c: Buffer | null = head;
      while (c !== null && !z.destroyed) {
        for (let o = 0; o < c.length && !z.destroyed; o += GZIP_SLICE) {
          if (!z.write(o === 0 && c.length <= GZIP_SLICE ? c : c.subarray(o, o + GZIP_SLICE))) await drained(z);
        }
        c = await src.next();
      }
      if (!z.destroyed) z.end();
    } catch (e) {
      z.destroy(e as Error);
    }
  })();
  const next = (): Promise<Buffer | null> =>
    out.next().catch((e: NodeJS.ErrnoException) => {
      // zlib's own errors (Z_DATA_ERROR, Z_BUF_ERROR: "incorrect data check", "unexpected end of file") say gzip.
      throw e.code?.startsWith('Z_') ? new Error(`gzip: ${e.message}`) : e;
    });
  return { next, destroy: () => void z.destroy() };
}

/** A stream input: the first chunk decides gzip; close() destroys everything it opened. */
async function streamInput(name: string, raw: Readable, size: number | null, signal: AbortSignal | undefined): Promise<Input> {
  const src = new Puller(raw);
  let gz: { next: () => Promise<Buffer | null>; destroy: () => void } | null = null;
  const close = (): void => {
    gz?.destroy();
    if (!raw.destroyed) raw.destroy();
  };
  let head: Buffer | null;
  try {
    const first = src.next();
    first.catch(() => {}); // rejected after an abort when close() destroys the stream: not unhandled
    head = await abortable(first, signal);
  } catch (e) {
    close();
    if (e instanceof Interrupted) throw e;
    throw new UsageError(`cannot read ${name}: ${(e as Error).message}`);
  }
  if (head !== null && isGzip(head)) {
    gz = gunzip(head, src);
    return { name, size, gzip: true, bytesRead: () => src.read, next: gz.next, close };
  }
  let first = head;
  const next = (): Promise<Buffer | null> => {
    if (first === null) return src.next();
    const f = first;
    first = null;
    return Promise.resolve(f);
  };
  return { name, size, gzip: false, bytesRead: () => src.read, next, close };
}

function cannotRead(name: string, e: unknown): UsageError {
  const code = (e as { code?: string }).code;
  const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (e as Error).message;
  return new UsageError(`cannot read ${name}: ${why}`);
}

export async function openInput(name: string, stdin: NodeJS.ReadableStream = process.stdin, signal?: AbortSignal): Promise<Input> {
  if (name === '-') return streamInput(name, stdin as Readable, null, signal);
  let st: fs.Stats;
  try {
    st = fs.statSync(name);
  } catch (e) {
    throw cannotRead(name, e);
  }
  if (st.isDirectory()) throw new UsageError(`cannot read ${name}: it is a directory`);
  if (!st.isFile()) {
    // A FIFO, a pipe named by path (<(cat x.pcap), /dev/stdin) or a device: not seekable, so
    // read in order like stdin. O_NONBLOCK: opening a FIFO that has no writer yet returns at
    // once (a blocking open would hold the event loop, and with it Ctrl-C, until one comes).
    let fd: number;
    try {
      fd = fs.openSync(name, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK);
    } catch (e) {
      throw cannotRead(name, e);
    }
    let raw: Readable;
    try {
      if (st.isFIFO() || st.isSocket()) raw = new net.Socket({ fd, readable: true, writable: false });
      else if (tty.isatty(fd)) raw = new tty.ReadStream(fd);
      else raw = fs.createReadStream('', { fd, highWaterMark: GZIP_CHUNK });
    } catch (e) {
      fs.closeSync(fd);
      throw cannotRead(name, e);
    }
    return streamInput(name, raw, null, signal);
  }
  let fd: number;
  try {
    fd = fs.openSync(name, 'r');
  } catch (e) {
    throw cannotRead(name, e);
  }
  const magic = Buffer.alloc(2);
  let n: number;
  try {
    n = fs.readSync(fd, magic, 0, 2, 0);
  } catch (e) {
    fs.closeSync(fd);
    throw cannotRead(name, e);
  }
  if (n === 2 && isGzip(magic)) {
    const stream = fs.createReadStream('', { fd, highWaterMark: GZIP_CHUNK, start: 0 });
    return streamInput(name, stream, st.size, signal);
  }
  let read = 0;
  let closed = false;
  let pending = 0;
  const release = (): void => {
    if (closed && pending === 0 && fd >= 0) {
      fs.close(fd, () => {});
      fd = -1;
    }
  };
  const readInto = (buf: Buffer, offset: number, length: number): Promise<number> =>
    new Promise((resolve, reject) => {
      if (closed) return resolve(0);
      pending++;
      fs.read(fd, buf, offset, length, read, (err, n) => {
        pending--;
        release();
        if (err) return reject(err);
        read += n;
        resolve(n);
      });
    });
  return {
    name,
    size: st.size,
    gzip: false,
    bytesRead: () => read,
    next: async () => null,
    readInto,
    close: () => {
      closed = true;
      release();
    },
  };
}
