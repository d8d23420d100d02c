/**
 * Hand-built TCP segments for tracker unit tests: one client and one server endpoint, the
 * fields the tracker reads, and a loop that feeds them in frame order.
 */
import { Decoded } from '../../src/pcap/decode.js';
import type { Tracker } from '../../src/pcap/tracker.js';

export interface SegmentEndpoints {
  /** IPv4 addresses as 32-bit numbers. */
  client: number;
  server: number;
  clientPort?: number;
  serverPort?: number;
  /** Window when the segment gives none. */
  win?: number;
}

export type SegmentBuilder = (fromClient: boolean, flags: number, seq: number, ack: number, len: number, t: number, win?: number) => Decoded;

export function segmentBuilder(e: SegmentEndpoints): SegmentBuilder {
  const cport = e.clientPort ?? 40000;
  const sport = e.serverPort ?? 80;
  return (fromClient, flags, seq, ack, len, t, win = e.win ?? 1000) => {
    const d = new Decoded();
    d.v6 = false;
    d.s0 = fromClient ? e.client : e.server;
    d.d0 = fromClient ? e.server : e.client;
    d.sport = fromClient ? cport : sport;
    d.dport = fromClient ? sport : cport;
    d.flags = flags;
    d.seq = seq >>> 0;
    d.ack = ack >>> 0;
    d.seglen = len;
    d.win = win;
    d.t = t;
    return d;
  };
}

/** Feeds the segments as frames 1..n; returns each frame's analysis flags and tcp.stream. */
export function feed(tracker: Tracker, segs: Decoded[]): { flags: number[]; streams: number[] } {
  const flags: number[] = [];
  const streams: number[] = [];
  segs.forEach((s, i) => {
    flags.push(tracker.process(s, i + 1));
    streams.push(tracker.lastStream);
  });
  tracker.flush();
  return { flags, streams };
}
