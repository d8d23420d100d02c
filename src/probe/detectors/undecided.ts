/**
 * Tests that can be too small to decide (keepalive-pinning, imbalance, single-backend) say what
 * they would need instead of a finding; `insufficient-data` gathers those needs.
 */
import type { Finding } from '../../core/finding.js';
import type { ProbeMode } from '../record.js';

/** Evidence threshold shared by the pinning and single-backend tests: chance under the alternative. */
export const CHANCE_THRESHOLD = 1e-3;

/** A test the sample was too small to decide: what it would need. Gathered into `insufficient-data`. */
export interface Undecided {
  test: string;
  mode?: ProbeMode;
  /** Requests (in the mode) the test needs at least. */
  needed: number;
  have: number;
  why: string;
}

/** A test's outcome: a finding, a sample too small to decide, or nothing to report (null or {}). */
export type Assessment = { finding?: Finding; undecided?: Undecided } | null;

/** The finding of a decided test, else null. */
export function decided(a: Assessment): Finding | null {
  return a?.finding ?? null;
}

/** What an undecided test needs, else null. */
export function undecidedOf(a: Assessment): Undecided | null {
  return a?.undecided ?? null;
}

/** A probability for humans: `< 1e-12`, `0.25`, `3.1e-4`. */
export function fmtP(p: number): string {
  return p < 1e-12 ? '< 1e-12' : p >= 0.01 ? p.toFixed(2) : p.toExponential(1);
}
