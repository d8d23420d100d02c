/**
 * The events the TCP side hands the HTTP worker (`--threads`, threads/http-thread.ts), as numbers
 * in a slot of the shared ring, and what the worker makes of them (threads/http-worker.ts). Only
 * connections that are HTTP/1.x (http/front.ts decides on the TCP side) cross, in three events:
 *
 * - OPEN: the connection became HTTP: its stream number, addresses and ports (they never change).
 *   The worker makes its own `Conn` for it, which the HTTP layer and the tallies read.
 * - SEGMENT: a segment with payload, FIN or RST: flags, which endpoint sent it, the connection's
 *   `clientIsA` now, the direction's base sequence number, sequence number, TCP payload length,
 *   where its captured payload bytes are in the slot's byte area and how many, time, frame.
 * - FINISH: the tracker is done with it: `clientIsA`, the time of its last packet, and of both
 *   directions the FIN/RST frames, base sequence number and last acknowledgement, as stream.ts's
 *   finish() and the tallies' connectionDone() read them. These direction fields are carried
 *   with FINISH only: the HTTP layer reads them when a connection is finished, never per segment
 *   (test/pcap-threads.test.ts checks that on every fixture).
 * - OTHER: once, at the end: streams that are not HTTP/1.x by kind (the HTTP layer's counters).
 *
 * So each side's `Conn` holds the same value of every field in `CARRIED` whenever the HTTP layer
 * runs: test/pcap-threads.test.ts fails when src/pcap/http/ (the front excepted, which runs on the
 * TCP side) or connection.ts's helpers name a field of `Conn` or `Direction` not in `CARRIED`,
 * and checks that the functions below carry each listed field.
 */
import { Conn, Direction } from '../connection.js';
import { resetConn } from '../conn-reset.js';

export const EV_OPEN = 0;
export const EV_SEGMENT = 1;
export const EV_FINISH = 2;
/** At the end: the streams the TCP side found not to be HTTP/1.x, by kind (HTTP/2, TLS). */
export const EV_OTHER = 3;

/** Numbers per event. */
export const OPEN_NUMS = 14;
export const SEGMENT_NUMS = 10;
export const FINISH_NUMS = 14;
export const OTHER_NUMS = 3;
/** The most numbers one event takes. */
export const MAX_NUMS = OPEN_NUMS;

/** Fields of each side's `Conn` that are the same in the worker whenever the HTTP layer reads them. */
export const CARRIED = {
  conn: ['stream', 'v6', 'a0', 'a1', 'a2', 'a3', 'b0', 'b1', 'b2', 'b3', 'ap', 'bp', 'clientIsA', 'lastTime'],
  direction: ['finFrame', 'rstFrame', 'baseSeq', 'baseSet', 'lastack'],
};
/** Of those, what FINISH alone carries (read by the HTTP layer when a connection is finished only). */
export const AT_FINISH = { conn: [] as string[], direction: ['finFrame', 'rstFrame', 'baseSeq', 'baseSet', 'lastack'] };
/**
 * Fields that are the TCP side's own: the hash chain, the directions (their fields are listed
 * under `direction`), the HTTP state marker (http/front.ts).
 */
export const NOT_CARRIED = { conn: ['next', 'ab', 'ba', 'http'] };

/** The classes whose fields are checked (for the test). */
export const MIRRORED = { Conn, Direction };

/** Sent-by-A and `clientIsA` (-1, 0, 1) packed with the TCP flags (8 bits) into one number. */
const FROM_A = 0x100;
const CLIENT_SHIFT = 9;

export function writeOpen(to: Float64Array, at: number, id: number, c: Conn): void {
  to[at] = EV_OPEN;
  to[at + 1] = id;
  to[at + 2] = c.stream;
  to[at + 3] = c.v6 ? 1 : 0;
  to[at + 4] = c.a0;
  to[at + 5] = c.a1;
  to[at + 6] = c.a2;
  to[at + 7] = c.a3;
  to[at + 8] = c.b0;
  to[at + 9] = c.b1;
  to[at + 10] = c.b2;
  to[at + 11] = c.b3;
  to[at + 12] = c.ap;
  to[at + 13] = c.bp;
}

/** A new `Conn` with the fields OPEN carries; given `into` (a finished connection's), that one made new (resetConn) and filled instead. */
export function readOpen(from: Float64Array, at: number, into?: Conn): Conn {
  const c = into === undefined ? new Conn() : resetConn(into);
  c.stream = from[at + 2];
  c.v6 = from[at + 3] !== 0;
  c.a0 = from[at + 4];
  c.a1 = from[at + 5];
  c.a2 = from[at + 6];
  c.a3 = from[at + 7];
  c.b0 = from[at + 8];
  c.b1 = from[at + 9];
  c.b2 = from[at + 10];
  c.b3 = from[at + 11];
  c.ap = from[at + 12];
  c.bp = from[at + 13];
  return c;
}

/** The captured payload is `captured` bytes at `bytesAt` in the slot's byte area. */
export function writeSegment(to: Float64Array, at: number, id: number, c: Conn, sIsA: boolean, baseSeq: number, seq: number, len: number, flags: number, t: number, bytesAt: number, captured: number, frame: number): void {
  to[at] = EV_SEGMENT;
  to[at + 1] = id;
  to[at + 2] = flags | (sIsA ? FROM_A : 0) | ((c.clientIsA + 1) << CLIENT_SHIFT);
  to[at + 3] = baseSeq;
  to[at + 4] = seq;
  to[at + 5] = len;
  to[at + 6] = bytesAt;
  to[at + 7] = captured;
  to[at + 8] = t;
  to[at + 9] = frame;
}

/** Sets what SEGMENT carries of the connection (`clientIsA`; `lastTime` is the segment's time, as the tracker has just set it). */
export function readSegmentConn(c: Conn, from: Float64Array, at: number): void {
  c.clientIsA = ((from[at + 2] >> CLIENT_SHIFT) & 3) - 1;
  c.lastTime = from[at + 8];
}

export const segFlags = (from: Float64Array, at: number): number => from[at + 2] & 0xff;
export const segFromA = (from: Float64Array, at: number): boolean => (from[at + 2] & FROM_A) !== 0;

export function writeFinish(to: Float64Array, at: number, id: number, c: Conn): void {
  to[at] = EV_FINISH;
  to[at + 1] = id;
  to[at + 2] = c.clientIsA;
  to[at + 3] = c.lastTime;
  to[at + 4] = c.ab.finFrame;
  to[at + 5] = c.ab.rstFrame;
  to[at + 6] = c.ba.finFrame;
  to[at + 7] = c.ba.rstFrame;
  to[at + 8] = c.ab.baseSeq;
  to[at + 9] = c.ab.baseSet ? 1 : 0;
  to[at + 10] = c.ab.lastack;
  to[at + 11] = c.ba.baseSeq;
  to[at + 12] = c.ba.baseSet ? 1 : 0;
  to[at + 13] = c.ba.lastack;
}

export function readFinish(c: Conn, from: Float64Array, at: number): void {
  c.clientIsA = from[at + 2];
  c.lastTime = from[at + 3];
  c.ab.finFrame = from[at + 4];
  c.ab.rstFrame = from[at + 5];
  c.ba.finFrame = from[at + 6];
  c.ba.rstFrame = from[at + 7];
  c.ab.baseSeq = from[at + 8];
  c.ab.baseSet = from[at + 9] !== 0;
  c.ab.lastack = from[at + 10];
  c.ba.baseSeq = from[at + 11];
  c.ba.baseSet = from[at + 12] !== 0;
  c.ba.lastack = from[at + 13];
}

export function writeOther(to: Float64Array, at: number, http2: number, tls: number): void {
  to[at] = EV_OTHER;
  to[at + 1] = http2;
  to[at + 2] = tls;
}
