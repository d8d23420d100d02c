/**
 * `--threads 2` and more: the HTTP layer runs in a worker thread (threads/http-worker.ts) while
 * this thread reads, decodes and tracks TCP. This class is the HTTP front's back end on this side
 * (http/front.ts decides which connections are HTTP, here as in one thread): it writes each event
 * of an HTTP connection (open, segment, finish: threads/event.ts, 8 to 14 numbers) and the
 * segment's payload bytes into a slot of a ring of SharedArrayBuffers. The worker replays them in
 * the same order on the same HTTP layer, so the result is the same as in one thread. A connection
 * is known to the worker by a small id, reused after its finish, so the worker's table stays as
 * small as the number of HTTP connections open at once.
 *
 * The ring has SLOTS slots, each EMPTY or FULL (an Int32Array of states, Atomics.wait/notify both
 * ways): nothing is allocated per event or per batch, and when the worker is SLOTS batches behind
 * this thread waits for it, so memory stays bounded however far the TCP side could run ahead. A
 * worker that fails sets a flag and a message in the control block; a worker that stops moving
 * for STALL_LIMIT_MS is given up on. Either way the run ends with one error line, never a hang.
 */
import { Worker } from 'node:worker_threads';
import type { Conn } from '../connection.js';
import type { Finding } from '../../core/finding.js';
import type { BackendFrom } from '../../probe/identity.js';
import type { HttpReport } from '../http/summary.js';
import type { HttpBack } from '../http/layer.js';
import { FINISH_NUMS, OPEN_NUMS, OTHER_NUMS, SEGMENT_NUMS, writeFinish, writeOpen, writeOther, writeSegment } from './event.js';
import { KIND_HTTP2, KIND_TLS } from '../payload-kind.js';

export const SLOTS = 8;
/** Numbers per slot (a segment takes 9: about 3,600 segments a slot). */
export const NUMS = 32 * 1024;
/**
 * Payload bytes per slot: above the largest record a link type that carries TCP may hold
 * (reader.ts: MAX_PACKET_STANDARD, 256 KiB), so every segment fits in an empty slot.
 */
export const BYTES = 1024 * 1024;
/** Bytes between two payloads that are copied along rather than starting a new span. */
const SPAN_GAP = 1024;
export const EMPTY = 0;
export const FULL = 1;
/** `used` of the slot that ends the stream. */
export const END = -1;
/**
 * Control block (Int32): SLOTS states, SLOTS used counts, the failed flag, the error text's length,
 * and a heartbeat the worker bumps per event replayed.
 */
export const CTL_USED = SLOTS;
export const CTL_FAILED = 2 * SLOTS;
export const CTL_ERRLEN = 2 * SLOTS + 1;
export const CTL_BEAT = 2 * SLOTS + 2;
export const CTL_INTS = 2 * SLOTS + 3;
export const ERR_BYTES = 512;
/**
 * A worker whose heartbeat has not moved for this long while this thread waits on it is taken
 * for dead (a worker killed outside JavaScript cannot set the failed flag, and its 'exit' event
 * is not delivered while this thread waits). A live one replays an event in microseconds.
 */
const STALL_LIMIT_MS = 15_000;

export interface RingBuffers {
  control: SharedArrayBuffer;
  error: SharedArrayBuffer;
  nums: SharedArrayBuffer[];
  bytes: SharedArrayBuffer[];
}

export interface WorkerResult {
  report: HttpReport;
  findings: Finding[];
}

/** The worker thread failed: one line for the user (exit 2), never a hang. */
export class HttpThreadError extends Error {}

/** `Conn.http` on this side for an HTTP connection (its HTTP state lives in the worker): its id there. */
export interface WorkerConn {
  id: number;
}

export class HttpThread implements HttpBack<WorkerConn> {
  private readonly ctl: Int32Array;
  private readonly err: Uint8Array;
  private readonly numSlots: Float64Array[];
  private readonly byteSlots: Buffer[];
  private slot = 0;
  private nums: Float64Array;
  private bytes: Buffer;
  private used = 0;
  private bused = 0;
  private failed: Error | null = null;
  private result: WorkerResult | null = null;
  private wake: (() => void) | null = null;
  private readonly worker: Worker;
  /**
   * Payload bytes are copied in spans: consecutive segments' payloads that lie close together in
   * the reader's buffer (a capture's HTTP segments are separated by headers and small packets)
   * are copied with the bytes between them in one call, at flush(), instead of one copy each
   * (a call costs what a memcpy of about a kilobyte does). `spanBuf[spanStart, spanEnd)` goes to
   * the slot's bytes at `spanAt`.
   */
  private spanBuf: Buffer | null = null;
  private spanStart = 0;
  private spanEnd = 0;
  private spanAt = 0;
  /** Ids free for reuse (their connections were finished), as the objects `Conn.http` holds. */
  private readonly freeIds: WorkerConn[] = [];
  private ids = 0;

  constructor(backendFrom: BackendFrom) {
    const ring: RingBuffers = {
      control: new SharedArrayBuffer(CTL_INTS * 4),
      error: new SharedArrayBuffer(ERR_BYTES),
      nums: Array.from({ length: SLOTS }, () => new SharedArrayBuffer(NUMS * 8)),
      bytes: Array.from({ length: SLOTS }, () => new SharedArrayBuffer(BYTES)),
    };
    this.ctl = new Int32Array(ring.control);
    this.err = new Uint8Array(ring.error);
    this.numSlots = ring.nums.map((b) => new Float64Array(b));
    this.byteSlots = ring.bytes.map((b) => Buffer.from(b));
    this.nums = this.numSlots[0];
    this.bytes = this.byteSlots[0];
    // A small young generation: the worker's garbage is short-lived (one exchange), and V8 otherwise grows it to 32 MB
    // with the allocation rate (capture-10x peak RSS 202-207 -> 166-171 MB; capture-1x 122-127 -> 112 MB and not slower).
    this.worker = new Worker(new URL('./http-worker.js', import.meta.url), { workerData: { backendFrom, ring }, resourceLimits: { maxYoungGenerationSizeMb: 4 } });
    this.worker.on('message', (m: { done: WorkerResult }) => {
      this.result = m.done;
      this.poke();
    });
    this.worker.on('error', (e: Error) => {
      this.failed ??= new HttpThreadError(`the HTTP analysis thread failed: ${e.message.split('\n')[0]}`);
      this.poke();
    });
    this.worker.on('exit', (code) => {
      if (this.result === null) this.failed ??= new HttpThreadError(`the HTTP analysis thread exited (code ${code}) before its result`);
      this.poke();
    });
  }

  private poke(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }

  /** The failure the worker wrote into the control block, if any. */
  private checkFailed(): void {
    if (this.failed) throw this.failed;
    if (Atomics.load(this.ctl, CTL_FAILED) !== 0) {
      const n = Math.min(Atomics.load(this.ctl, CTL_ERRLEN), ERR_BYTES);
      this.failed = new HttpThreadError(`the HTTP analysis thread failed: ${Buffer.from(this.err.slice(0, n)).toString('utf8')}`);
      throw this.failed;
    }
  }

  /** Blocks until slot `i` is empty (the worker has replayed it). */
  private waitEmpty(i: number): void {
    const ctl = this.ctl;
    if (Atomics.load(ctl, i) === EMPTY) return;
    let since = Date.now();
    let beat = Atomics.load(ctl, CTL_BEAT);
    while (Atomics.load(ctl, i) !== EMPTY) {
      this.checkFailed();
      const b = Atomics.load(ctl, CTL_BEAT);
      if (b !== beat) (beat = b), (since = Date.now());
      else if (Date.now() - since > STALL_LIMIT_MS) {
        this.failed = new HttpThreadError(`the HTTP analysis thread made no progress for ${STALL_LIMIT_MS / 1000} s`);
        throw this.failed;
      }
      Atomics.wait(ctl, i, FULL, 200);
    }
  }

  /** Hands the current slot to the worker and moves to the next one (waiting for it to be empty). */
  private send(used: number): void {
    this.flush();
    const ctl = this.ctl;
    const i = this.slot;
    Atomics.store(ctl, CTL_USED + i, used);
    Atomics.store(ctl, i, FULL);
    Atomics.notify(ctl, i);
    const next = (i + 1) % SLOTS;
    this.waitEmpty(next);
    this.slot = next;
    this.nums = this.numSlots[next];
    this.bytes = this.byteSlots[next];
    this.used = 0;
    this.bused = 0;
  }

  /** Makes room for an event of `numbers` numbers without payload. */
  private room(numbers: number): void {
    if (this.used + numbers > NUMS) this.send(this.used);
  }

  open(c: Conn): WorkerConn {
    const h = this.freeIds.pop() ?? { id: this.ids++ };
    this.room(OPEN_NUMS);
    writeOpen(this.nums, this.used, h.id, c);
    this.used += OPEN_NUMS;
    return h;
  }

  /** Streams that are not HTTP/1.x, by kind: sent once, at close(). */
  private http2 = 0;
  private tls = 0;

  other(kind: number): void {
    if (kind === KIND_HTTP2) this.http2++;
    else if (kind === KIND_TLS) this.tls++;
  }

  segment(h: WorkerConn, c: Conn, sIsA: boolean, baseSeq: number, seq: number, len: number, flags: number, t: number, buf: Buffer, poff: number, end: number, frame: number): void {
    // The payload as far as the HTTP layer reads it: not past the TCP payload (link padding).
    let captured = Math.min(end, poff + len) - poff;
    if (captured < 0) captured = 0;
    if (this.used + SEGMENT_NUMS > NUMS) this.send(this.used);
    let at = 0;
    if (captured > 0) {
      const to = poff + captured;
      if (buf !== this.spanBuf || poff < this.spanEnd || poff - this.spanEnd > SPAN_GAP || this.spanAt + (to - this.spanStart) > BYTES) {
        this.flush();
        if (this.bused + captured > BYTES) this.send(this.used);
        if (captured > BYTES) throw new HttpThreadError(`a TCP segment of ${captured} captured bytes is larger than the HTTP thread's ${BYTES}-byte slot`);
        this.spanBuf = buf;
        this.spanStart = poff;
        this.spanAt = this.bused;
      }
      this.spanEnd = to;
      this.bused = this.spanAt + (to - this.spanStart);
      at = this.spanAt + (poff - this.spanStart);
    }
    writeSegment(this.nums, this.used, h.id, c, sIsA, baseSeq, seq, len, flags, t, at, captured, frame);
    this.used += SEGMENT_NUMS;
  }

  /**
   * Copies the pending span of payload bytes into the slot. Called before a slot is handed over
   * and by the packet loop whenever it stops reading from a buffer (its contents may move then).
   */
  flush(): void {
    const b = this.spanBuf;
    if (b === null) return;
    b.copy(this.bytes, this.spanAt, this.spanStart, this.spanEnd);
    this.spanBuf = null;
  }

  finish(h: WorkerConn, c: Conn): void {
    this.room(FINISH_NUMS);
    writeFinish(this.nums, this.used, h.id, c);
    this.used += FINISH_NUMS;
    // Events are replayed in order: the id can name the next connection at once.
    this.freeIds.push(h);
  }

  /** Sends what is left and the end; resolves with the HTTP report and findings. */
  async close(): Promise<WorkerResult> {
    try {
      this.checkFailed();
      this.room(OTHER_NUMS);
      writeOther(this.nums, this.used, this.http2, this.tls);
      this.used += OTHER_NUMS;
      this.send(this.used);
      this.send(END);
      while (this.result === null) {
        this.checkFailed();
        await new Promise<void>((r) => (this.wake = r));
      }
      return this.result;
    } finally {
      void this.worker.terminate();
    }
  }

  /** Stops the worker without a result (the run failed on this side). */
  abandon(): void {
    void this.worker.terminate();
  }
}
