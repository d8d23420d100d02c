/**
 * Per-connection state kept by the tracker: small, fixed-size except for capped frame lists.
 * One `Direction` per way (A→B and B→A, A being the lower endpoint) carries Wireshark's
 * per-flow sequence analysis state plus what the detectors need (SYN/FIN/RST frames and times).
 */

/** Frame lists in a connection are capped; counters keep the true totals. */
export const FRAME_CAP = 64;

/**
 * The shared, frozen empty list every frame list starts as: almost no connection retransmits a
 * SYN or FIN, and eight empty arrays per connection were about a sixth of its memory. The
 * tracker replaces it with a real array at the first entry.
 */
export const NO_FRAMES: number[] = Object.freeze([] as number[]) as number[];

export class Direction {
  // Wireshark's tcp_flow_t / tcp_analyze_seq_flow_info_t, the fields that decide the flags.
  // Sequence and acknowledgement numbers are kept as signed 32-bit integers (`x | 0`: the same
  // bits as the unsigned number on the wire, compared modulo 2^32 as Wireshark does): V8 keeps
  // them unboxed in the object, where unsigned ones above 2^31 need a boxed double per field.
  baseSeq = 0;
  baseSet = false;
  nextseq = 0;
  nextseqTime = 0;
  nextseqFrame = 0;
  lastack = 0;
  lastackTime = 0;
  /** -1 until the first segment this way (Wireshark starts it at G_MAXUINT32): no 16-bit window equals it. */
  window = -1;
  /** Duplicate ACKs counted; -1 after an ACK of a segment the capture missed (the next duplicate makes it 1). */
  dupacknum = 0;
  /** Highest sequence number seen without a hole (Wireshark's maxseqtobeacked; 0: unset). */
  maxseqtobeacked = 0;
  lastnondupack = 0;
  lastsegflags = 0;

  packets = 0;
  payloadBytes = 0;
  retransmissions = 0;

  /** First pure SYN seen this way (0: none). */
  synFrame = 0;
  /** The first SYN seen was itself a retransmission (by its sequence number): the original is not in the capture. */
  synFirstRetrans = false;
  synTime = 0;
  /** Every pure SYN this way flagged as a retransmission (capped), the first one seen included. */
  synRetransFrames: number[] = NO_FRAMES;
  synRetransTimes: number[] = NO_FRAMES;
  synRetransCount = 0;

  /** First FIN seen this way and the sequence number it occupies. */
  finFrame = 0;
  /** The first FIN seen was itself a retransmission (by its sequence number): the original is not in the capture. */
  finFirstRetrans = false;
  finTime = 0;
  finSeq = 0;
  /** Every FIN this way flagged as a retransmission (capped), the first one seen included. */
  finRetransFrames: number[] = NO_FRAMES;
  finRetransTimes: number[] = NO_FRAMES;
  finRetransCount = 0;
  /** Frame where the peer acknowledged this way's FIN (0: never). */
  finAckedFrame = 0;
  finAckedTime = 0;

  /** First RST sent this way (0: none). */
  rstFrame = 0;
  rstTime = 0;
}

export type StallPhase = 'handshake' | 'retransmission' | 'unacknowledged-data' | 'awaiting-response';

export class Conn {
  /** Next connection in the same hash bucket. */
  next: Conn | null = null;
  hash = 0;
  v6 = false;
  a0 = 0;
  a1 = 0;
  a2 = 0;
  a3 = 0;
  b0 = 0;
  b1 = 0;
  b2 = 0;
  b3 = 0;
  ap = 0;
  bp = 0;

  stream = 0;
  ab = new Direction();
  ba = new Direction();
  /** 1: A is the client (sent the SYN), 0: B is, -1: not seen (guessed from ports at report time). */
  clientIsA = -1;

  firstFrame = 0;
  firstTime = 0;
  lastFrame = 0;
  lastTime = 0;
  /**
   * The last packet that was not a TCP keep-alive or its ACK (Wireshark's
   * `tcp.analysis.keep_alive` / `keep_alive_ack`): stall gaps are measured from it, so a
   * keep-alive probe in the middle of a long wait does not split the gap in two.
   */
  activeFrame = 0;
  activeTime = 0;
  /** Keep-alive probes and their ACKs since activeFrame. */
  keepAlivesSinceActive = 0;
  packets = 0;

  /** Wireshark's ts_mru_syn / ts_first_rtt (seconds; 0 = unset). */
  mruSyn = 0;
  mruSynSet = false;
  firstRtt = 0;

  /** Created by a SYN with a new ISN on a 4-tuple already in use (Wireshark: reused_ports). */
  reusedPorts = false;
  reusedFrame = 0;
  /** How the previous connection on this 4-tuple had ended: 'fin', 'rst', 'open'. */
  previousState: '' | 'fin' | 'rst' | 'open' = '';
  previousStream = -1;
  previousLastTime = 0;

  synAckFrame = 0;
  synAckTime = 0;
  established = false;
  sawSyn = false;
  /** Direction of the last segment that carried payload: 1 A→B, 0 B→A, -1 none. */
  lastPayloadFromA = -1;
  /**
   * Which side asks, from the first payload (payload-kind.ts requesterOf: REQUESTER_A, _B,
   * _NONE for a protocol not known to be request/response, _UNKNOWN (0) before any payload).
   */
  requester = 0;

  stallCount = 0;
  stallGap = 0;
  stallFromFrame = 0;
  stallToFrame = 0;
  stallAt = 0;
  stallPhase: StallPhase | '' = '';
  stallFromA = false;
  /** Keep-alive probes and ACKs inside the longest stall (a connection with some is not stored compact). */
  stallKeepAlives = 0;

  /** HTTP layer state (src/pcap/http/layer.ts): null until the first payload decides. */
  http: object | null = null;
}

export function ipv4String(w: number): string {
  return `${w >>> 24}.${(w >>> 16) & 255}.${(w >>> 8) & 255}.${w & 255}`;
}

export function ipv6String(w0: number, w1: number, w2: number, w3: number): string {
  const g = [w0 >>> 16, w0 & 0xffff, w1 >>> 16, w1 & 0xffff, w2 >>> 16, w2 & 0xffff, w3 >>> 16, w3 & 0xffff];
  // IPv4-mapped addresses read best in dotted form.
  if (w0 === 0 && w1 === 0 && w2 === 0xffff) return `::ffff:${ipv4String(w3)}`;
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i > 1) (best = i), (bestLen = j - i);
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

export function endpointA(c: Conn): string {
  return c.v6 ? `[${ipv6String(c.a0, c.a1, c.a2, c.a3)}]:${c.ap}` : `${ipv4String(c.a0)}:${c.ap}`;
}

export function endpointB(c: Conn): string {
  return c.v6 ? `[${ipv6String(c.b0, c.b1, c.b2, c.b3)}]:${c.bp}` : `${ipv4String(c.b0)}:${c.bp}`;
}

/** True when A is the client: the SYN sender, else the side with the higher (ephemeral) port. */
export function clientIsA(c: Conn): boolean {
  if (c.clientIsA >= 0) return c.clientIsA === 1;
  if (c.ap !== c.bp) return c.ap > c.bp;
  return true;
}

export function clientOf(c: Conn): string {
  return clientIsA(c) ? endpointA(c) : endpointB(c);
}

export function serverOf(c: Conn): string {
  return clientIsA(c) ? endpointB(c) : endpointA(c);
}
