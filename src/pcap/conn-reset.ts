/**
 * Conn and Direction back to a new object's state, for the tracker's reuse of settled
 * connections (tracker.ts `recycle`). Kept out of connection.ts: a static test reads the field
 * names that file uses as fields the HTTP layer needs copied to its worker.
 */
import { NO_FRAMES, type Conn, type Direction } from './connection.js';

/** Every field as the class initializers set it. */
export function resetDirection(d: Direction): void {
  d.baseSeq = 0;
  d.baseSet = false;
  d.nextseq = 0;
  d.nextseqTime = 0;
  d.nextseqFrame = 0;
  d.lastack = 0;
  d.lastackTime = 0;
  d.window = -1;
  d.dupacknum = 0;
  d.maxseqtobeacked = 0;
  d.lastnondupack = 0;
  d.lastsegflags = 0;
  d.packets = 0;
  d.payloadBytes = 0;
  d.retransmissions = 0;
  d.synFrame = 0;
  d.synFirstRetrans = false;
  d.synTime = 0;
  d.synRetransFrames = NO_FRAMES;
  d.synRetransTimes = NO_FRAMES;
  d.synRetransCount = 0;
  d.finFrame = 0;
  d.finFirstRetrans = false;
  d.finTime = 0;
  d.finSeq = 0;
  d.finRetransFrames = NO_FRAMES;
  d.finRetransTimes = NO_FRAMES;
  d.finRetransCount = 0;
  d.finAckedFrame = 0;
  d.finAckedTime = 0;
  d.rstFrame = 0;
  d.rstTime = 0;
}

/** Every field as the class initializers set it; the two Direction objects are kept. */
export function resetConn(c: Conn): Conn {
  c.next = null;
  c.hash = 0;
  c.v6 = false;
  c.a0 = 0;
  c.a1 = 0;
  c.a2 = 0;
  c.a3 = 0;
  c.b0 = 0;
  c.b1 = 0;
  c.b2 = 0;
  c.b3 = 0;
  c.ap = 0;
  c.bp = 0;
  c.stream = 0;
  resetDirection(c.ab);
  resetDirection(c.ba);
  c.clientIsA = -1;
  c.firstFrame = 0;
  c.firstTime = 0;
  c.lastFrame = 0;
  c.lastTime = 0;
  c.activeFrame = 0;
  c.activeTime = 0;
  c.keepAlivesSinceActive = 0;
  c.packets = 0;
  c.mruSyn = 0;
  c.mruSynSet = false;
  c.firstRtt = 0;
  c.reusedPorts = false;
  c.reusedFrame = 0;
  c.previousState = '';
  c.previousStream = -1;
  c.previousLastTime = 0;
  c.synAckFrame = 0;
  c.synAckTime = 0;
  c.established = false;
  c.sawSyn = false;
  c.lastPayloadFromA = -1;
  c.requester = 0;
  c.stallCount = 0;
  c.stallGap = 0;
  c.stallFromFrame = 0;
  c.stallToFrame = 0;
  c.stallAt = 0;
  c.stallPhase = '';
  c.stallFromA = false;
  c.stallKeepAlives = 0;
  c.http = null;
  return c;
}
