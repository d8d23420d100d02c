/**
 * Where capture bytes come from: a file read in large chunks, or stdin (`-`), each
 * transparently gunzipped when it starts with the gzip magic (1f 8b).
 */
import fs from 'node:fs';
import { Readable } from 'node:stream';
import zlib from 'node:zlib';
import { UsageError } from '../report/errors.js';

export const CHUNK_SIZE = 4 * 1024 * 1024;

export interface Input {
  /** As given on the command line (`-` for stdin). */
  name: string;
  /** Size on disk when known (for progress), else null. */
  size: number | null;
  gzip: boolean;
  /** Raw bytes read so far (compressed bytes for gzip). */
  bytesRead: () => number;
  chunks: AsyncIterable<Buffer>;
  /** Plain files: reads straight into the caller's buffer (0 at the end), instead of `chunks`. */
  readInto?: (buf: Buffer, offset: number, length: number) => Promise<number>;
  close: () => void;
}

function isGzip(b: Buffer): boolean {
  return b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;
}

async function* prepend(first: Buffer, rest: AsyncIterator<Buffer>): AsyncGenerator<Buffer> {
  if (first.length) yield first;
  for (;;) {
    const r = await rest.next();
    if (r.done) return;
    yield r.value;
  }
}

function gunzip(source: AsyncIterable<Buffer>): AsyncIterable<Buffer> {
  const z = zlib.createGunzip({ chunkSize: 1024 * 1024 });
  return Readable.from(source).pipe(z);
}

export async function openInput(name: string, stdin: NodeJS.ReadableStream = process.stdin): Promise<Input> {
  if (name === '-') {
    let read = 0;
    const raw = (async function* () {
      for await (const c of stdin as AsyncIterable<Buffer | string>) {
        const b = typeof c === 'string' ? Buffer.from(c, 'latin1') : c;
        read += b.length;
        yield b;
      }
    })();
    const it = raw[Symbol.asyncIterator]();
    const first = await it.next();
    const head = first.done ? Buffer.alloc(0) : first.value;
    const gz = isGzip(head);
    const all = prepend(head, it);
    return { name, size: null, gzip: gz, bytesRead: () => read, chunks: gz ? gunzip(all) : all, close: () => undefined };
  }
  let st: fs.Stats;
  try {
    st = fs.statSync(name);
  } catch (e) {
    const code = (e as { code?: string }).code;
    throw new UsageError(`cannot read ${name}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (e as Error).message}`);
  }
  if (st.isDirectory()) throw new UsageError(`cannot read ${name}: it is a directory`);
  let fd: number;
  try {
    fd = fs.openSync(name, 'r');
  } catch (e) {
    throw new UsageError(`cannot read ${name}: ${(e as Error).message}`);
  }
  const magic = Buffer.alloc(2);
  const n = fs.readSync(fd, magic, 0, 2, 0);
  const gz = n === 2 && isGzip(magic);
  if (!gz) {
    let read = 0;
    let closed = false;
    const readInto = (buf: Buffer, offset: number, length: number): Promise<number> =>
      new Promise((resolve, reject) => {
        if (closed) return resolve(0);
        fs.read(fd, buf, offset, length, read, (err, n) => {
          if (err) return reject(err);
          read += n;
          resolve(n);
        });
      });
    return {
      name,
      size: st.isFile() ? st.size : null,
      gzip: false,
      bytesRead: () => read,
      chunks: (async function* () {})(),
      readInto,
      close: () => {
        if (!closed) (closed = true), fs.closeSync(fd);
      },
    };
  }
  const stream = fs.createReadStream(name, { fd, highWaterMark: 1024 * 1024, autoClose: true, start: 0 });
  return {
    name,
    size: st.isFile() ? st.size : null,
    gzip: gz,
    bytesRead: () => stream.bytesRead,
    chunks: gz ? gunzip(stream) : (stream as AsyncIterable<Buffer>),
    close: () => stream.destroy(),
  };
}
