/**
 * The worker side of `--threads` (threads/http-thread.ts): replays the TCP side's HTTP-layer calls
 * (segment, finish, revived), in order, from the ring of shared slots, on the unchanged HTTP layer,
 * each on a local `Conn` and `Decoded` set from the copied state (threads/mirror.ts). A
 * connection's local copy lives from its first event to its last; a settled connection that comes
 * back gets a new one, as it gets a new `Conn` from the tracker. At the end it posts the HTTP
 * report and findings, computed here exactly as the one-thread path computes them. A failure is
 * written into the control block (flag and message) for the TCP side, which may be waiting on a slot.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Conn } from '../connection.js';
import { Decoded } from '../decode.js';
import { HttpLayer } from '../http/layer.js';
import { HttpTallies, identityHeaders } from '../http/tallies.js';
import { httpReport } from '../http/summary.js';
import type { BackendFrom } from '../../probe/identity.js';
import { CONN_SLOTS, CONN_STREAM, DECODED_SLOTS, readConn, readDecoded } from './mirror.js';
import { CTL_BEAT, CTL_ERRLEN, CTL_FAILED, CTL_USED, EMPTY, END, ERR_BYTES, EV_FINISH, EV_HEAD, EV_REVIVED, EV_SEGMENT, SLOTS, type RingBuffers } from './http-thread.js';

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
  const conns = new Map<number, Conn>();
  const dec = new Decoded();
  const numSlots = ring.nums.map((b) => new Float64Array(b));
  const byteSlots = ring.bytes.map((b) => Buffer.from(b));

  const replay = (n: Float64Array, bytes: Buffer, used: number): void => {
    for (let at = 0; at < used; ) {
      ctl[CTL_BEAT]++;
      const type = n[at];
      const stream = n[at + EV_HEAD + CONN_STREAM];
      let c = type === EV_REVIVED ? undefined : conns.get(stream);
      if (c === undefined) {
        c = new Conn();
        conns.set(stream, c);
      }
      readConn(c, n, at + EV_HEAD);
      if (type === EV_SEGMENT) {
        const bo = n[at + 2];
        const len = n[at + 3];
        const d = at + EV_HEAD + CONN_SLOTS;
        readDecoded(dec, n, d);
        dec.poff += bo;
        dec.rend += bo;
        layer.segment(c, dec, bytes, bo, bo + len, n[at + 1]);
        at = d + DECODED_SLOTS;
      } else {
        if (type === EV_FINISH) {
          layer.finish(c);
          // The last event of this connection (released, replaced, settled into a tombstone, or the
          // end); otherwise it stays, finished, and later segments find it as the HTTP layer would.
          if (n[at + 1] !== 0) conns.delete(stream);
        } else layer.revived(c);
        at += EV_HEAD + CONN_SLOTS;
      }
    }
  };

  for (let i = 0; ; i = (i + 1) % SLOTS) {
    while (Atomics.load(ctl, i) === EMPTY) Atomics.wait(ctl, i, EMPTY, 1000);
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
