/**
 * The worker side of `--threads` (threads/http-thread.ts): replays the TCP side's HTTP events
 * (open, segment, finish: threads/event.ts), in order, from the ring of shared slots, on the same
 * HTTP layer as one thread uses. A connection's `Conn` here is made at its open event and holds
 * what the HTTP layer reads of it (threads/event.ts, CARRIED); the table of open HTTP streams is
 * indexed by the small id the TCP side gives each connection. At the end it posts the HTTP report
 * and findings, computed here exactly as the one-thread path computes them. A failure is written
 * into the control block (flag and message) for the TCP side, which may be waiting on a slot.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { HttpLayer } from '../http/layer.js';
import type { HttpStream } from '../http/stream.js';
import type { Conn } from '../connection.js';
import { HttpTallies, identityHeaders } from '../http/tallies.js';
import { httpReport } from '../http/summary.js';
import type { BackendFrom } from '../../probe/identity.js';
import { EV_FINISH, EV_OPEN, EV_OTHER, FINISH_NUMS, OPEN_NUMS, OTHER_NUMS, SEGMENT_NUMS, readFinish, readOpen, readSegmentConn, segFlags, segFromA } from './event.js';
import { CTL_BEAT, CTL_ERRLEN, CTL_FAILED, CTL_USED, EMPTY, END, ERR_BYTES, SLOTS, type RingBuffers } from './http-thread.js';

const { backendFrom, ring } = workerData as { backendFrom: BackendFrom; ring: RingBuffers };
const ctl = new Int32Array(ring.control);

function fail(e: unknown): void {
  const msg = Buffer.from(String((e as Error)?.message ?? e).split('\n')[0], 'utf8').subarray(0, ERR_BYTES);
  new Uint8Array(ring.error).set(msg);
  Atomics.store(ctl, CTL_ERRLEN, msg.length);
  Atomics.store(ctl, CTL_FAILED, 1);
  for (let i = 0; i < SLOTS; i++) Atomics.notify(ctl, i);
}

try {
  const tallies = new HttpTallies(backendFrom);
  const layer = new HttpLayer(tallies, undefined, identityHeaders(backendFrom));
  /** Open HTTP streams by their id (ids are reused after a finish). */
  const streams: (HttpStream | undefined)[] = [];
  /** The `Conn` last used under each id: reused (reset) for the next connection with that id, once the last one is finished. */
  const conns: (Conn | undefined)[] = [];
  const numSlots = ring.nums.map((b) => new Float64Array(b));
  const byteSlots = ring.bytes.map((b) => Buffer.from(b));

  const replay = (n: Float64Array, bytes: Buffer, used: number): void => {
    let beat = 0;
    for (let at = 0; at < used; ) {
      if ((++beat & 1023) === 0) Atomics.add(ctl, CTL_BEAT, 1);
      const type = n[at];
      const id = n[at + 1] | 0;
      if (type === EV_OTHER) {
        layer.counters.http2 += n[at + 1];
        layer.counters.tls += n[at + 2];
        at += OTHER_NUMS;
        continue;
      }
      if (type === EV_OPEN) {
        const c = readOpen(n, at, conns[id]);
        conns[id] = c;
        streams[id] = layer.open(c);
        at += OPEN_NUMS;
        continue;
      }
      const s = streams[id]!;
      const c = s.conn;
      if (type === EV_FINISH) {
        readFinish(c, n, at);
        streams[id] = undefined;
        layer.finish(s, c);
        at += FINISH_NUMS;
        continue;
      }
      readSegmentConn(c, n, at);
      const bo = n[at + 6];
      layer.segment(s, c, segFromA(n, at), n[at + 3], n[at + 4], n[at + 5], segFlags(n, at), n[at + 8], bytes, bo, bo + n[at + 7], n[at + 9]);
      at += SEGMENT_NUMS;
    }
    Atomics.add(ctl, CTL_BEAT, 1);
  };

  for (let i = 0; ; i = (i + 1) % SLOTS) {
    // Bounded waits: a terminate() from the TCP side (its run failed) takes effect between them.
    while (Atomics.load(ctl, i) === EMPTY) Atomics.wait(ctl, i, EMPTY, 200);
    const used = Atomics.load(ctl, CTL_USED + i);
    if (used === END) break;
    replay(numSlots[i], byteSlots[i], used);
    Atomics.store(ctl, i, EMPTY);
    Atomics.notify(ctl, i);
  }
  const r = tallies.result({});
  parentPort!.postMessage({ done: { report: httpReport(layer.counters, r), findings: r.findings } });
} catch (e) {
  fail(e);
}
