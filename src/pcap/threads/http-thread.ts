/**
 * `--threads 2` and more: the HTTP layer runs in a worker thread (threads/http-worker.ts) while
 * this thread reads, decodes and tracks TCP. The packet loop and the tracker call this class
 * exactly where they call the HTTP layer in one thread (segment, finish, revived); it writes each
 * call, with a copy of the connection's and the segment's state (threads/mirror.ts) and the
 * segment's captured bytes, into a slot of a ring of SharedArrayBuffers. The worker replays the
 * calls in the same order on the unchanged HTTP layer, so the result is the same as in one thread.
 *
 * The ring has SLOTS slots, each EMPTY or FULL (an Int32Array of states, Atomics.wait/notify both
 * ways): nothing is allocated per batch, and when the worker is SLOTS batches behind this thread
 * waits for it, so memory stays bounded however far the TCP side could run ahead. A worker that
 * fails sets a flag and a message in the control block; a worker that stops moving for
 * STALL_LIMIT_MS is given up on. Either way the run ends with one error line, never a hang.
 */
import { Worker } from 'node:worker_threads';
import type { Conn } from '../connection.js';
import type { Decoded } from '../decode.js';
import type { Finding } from '../../core/finding.js';
import type { BackendFrom } from '../../probe/identity.js';
import type { HttpReport } from '../http/summary.js';
import { COPIED, CONN_SLOTS, DECODED_SLOTS, writeConn, writeDecoded } from './mirror.js';

export const EV_SEGMENT = 0;
export const EV_FINISH = 1;
export const EV_REVIVED = 2;
/** Numbers before the copied state: event type, frame (finish: 1 when it is the last event), payload offset in the slot's bytes, payload length. */
export const EV_HEAD = 4;
/** Where poff and rend sit among the copied Decoded fields. */
export const POFF = COPIED.decoded.indexOf('poff');
export const REND = COPIED.decoded.indexOf('rend');

export const SLOTS = 8;
/** Numbers per slot (a segment takes 72: about 450 segments a slot). */
export const NUMS = 32 * 1024;
/**
 * Payload bytes per slot: above the largest record a link type that carries TCP may hold
 * (reader.ts: MAX_PACKET_STANDARD, 256 KiB), so every segment fits in an empty slot.
 */
export const BYTES = 1024 * 1024;
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

/**
 * `Conn.http` on this side (the HTTP layer's own state lives in the worker): the worker has heard
 * of this connection.
 */
const SENT: object = Object.freeze({ sentToWorker: true });

export class HttpThread {
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
    this.worker = new Worker(new URL('./http-worker.js', import.meta.url), { workerData: { backendFrom, ring } });
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

  private room(numbers: number, bytes: number): void {
    if (this.used + numbers > NUMS || this.bused + bytes > BYTES) this.send(this.used);
    if (bytes > BYTES) throw new HttpThreadError(`a TCP segment of ${bytes} captured bytes is larger than the HTTP thread's ${BYTES}-byte slot`);
  }

  /** A TCP segment with payload, FIN or RST (the packet loop's PayloadHook). */
  segment(c: Conn, p: Decoded, buf: Buffer, poff: number, end: number, frame: number): void {
    const len = end > poff ? end - poff : 0;
    c.http = SENT;
    this.room(EV_HEAD + CONN_SLOTS + DECODED_SLOTS, len);
    const n = this.nums;
    const at = this.used;
    n[at] = EV_SEGMENT;
    n[at + 1] = frame;
    n[at + 2] = this.bused;
    n[at + 3] = len;
    writeConn(c, n, at + EV_HEAD);
    const d = at + EV_HEAD + CONN_SLOTS;
    writeDecoded(p, n, d);
    // Offsets into the record's buffer become offsets from the payload's start.
    n[d + POFF] -= poff;
    n[d + REND] -= poff;
    if (len > 0) buf.copy(this.bytes, this.bused, poff, end);
    this.bused += len;
    this.used = d + DECODED_SLOTS;
  }

  /**
   * The tracker is done with `c` for the HTTP layer; `last`: no event for this `Conn` follows (it
   * was released, replaced, or settled into a tombstone). Not sent for a connection the worker
   * never heard of: there the HTTP layer's finish does nothing.
   */
  finish(c: Conn, last: boolean): void {
    if (c.http !== SENT) return;
    this.event(EV_FINISH, c, last ? 1 : 0);
  }

  revived(c: Conn): void {
    this.event(EV_REVIVED, c, 0);
  }

  private event(type: number, c: Conn, last: number): void {
    c.http = SENT;
    this.room(EV_HEAD + CONN_SLOTS, 0);
    const n = this.nums;
    const at = this.used;
    n[at] = type;
    n[at + 1] = last;
    n[at + 2] = 0;
    n[at + 3] = 0;
    writeConn(c, n, at + EV_HEAD);
    this.used = at + EV_HEAD + CONN_SLOTS;
  }

  /** Sends what is left and the end; resolves with the HTTP report and findings. */
  async close(): Promise<WorkerResult> {
    try {
      this.checkFailed();
      if (this.used > 0) this.send(this.used);
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
