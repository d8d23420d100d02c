/** What every pcap detector gets besides the connection (the `ctx` of src/core/detector.ts): thresholds and the capture's time origin. */
import { formatDuration } from '../../core/units.js';

export interface DetectorContext {
  /** Gap (seconds) that counts as a stall. */
  stallThresholdS: number;
  /** Tracker time of the capture's first packet: times are shown relative to it, like Wireshark's frame.time_relative. */
  origin: number;
}

/** `12.345s` after the capture started. */
export function at(ctx: DetectorContext, t: number): string {
  return `${(t - ctx.origin).toFixed(3)}s`;
}

/** A duration in seconds for humans. */
export function secs(s: number): string {
  return formatDuration(s * 1000);
}

/** Seconds rounded to the microsecond, for metrics. */
export function round6(s: number): number {
  return Math.round(s * 1e6) / 1e6;
}
