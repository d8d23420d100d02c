/**
 * The one shape of a diagnosis step, for every source: probe tallies, the connections a capture
 * holds, and whatever feeds the same records later. A detector takes plain data (`input`) and what
 * every detector of its source shares (`ctx`: thresholds, options, the whole run), and returns the
 * findings that data proves: one, several, or none (null or []).
 *
 * Detectors are pure: no I/O, no clock, no randomness, no state kept between calls, and they never
 * change their input. So each is unit-tested on hand-made data, and a caller may run one twice on
 * the same input (pcap asks its detectors whether a settled connection will ever report).
 * Detectors do not sort: `sortFindings` (./finding.ts) orders findings once, where they are shown.
 */
import type { Finding } from './finding.js';

/** What a detector returns: one finding, several, or none (null or []). */
export type Detected = Finding | readonly Finding[] | null;

/** A pure diagnosis step: `input` in, findings out. `Out` narrows the result (pcap's return one or null). */
export type Detector<In, Ctx, Out extends Detected = Detected> = (input: In, ctx: Ctx) => Out;

/** A detector's result as a list (null gives none). */
export function findingsOf(d: Detected): Finding[] {
  if (d === null) return [];
  return Array.isArray(d) ? [...(d as readonly Finding[])] : [d as Finding];
}

/** Runs a registry in its order on one input: the findings in detector order, each detector's in its own order. */
export function runDetectors<In, Ctx>(detectors: readonly Detector<In, Ctx>[], input: In, ctx: Ctx): Finding[] {
  const out: Finding[] = [];
  for (const d of detectors) out.push(...findingsOf(d(input, ctx)));
  return out;
}
