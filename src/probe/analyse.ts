/**
 * The probe's diagnosis: tallies in, findings out, by the detectors in ./detectors/ (one file per
 * finding id or closely related group), run in the registry's documented order. Pure (no I/O, no
 * clock), so every finding is unit-tested on hand-made tallies. Finding ids are a stable contract
 * (see the README). The findings come in detector order; sortFindings orders them for display.
 */
import { runDetectors } from '../core/detector.js';
import type { Finding } from '../core/finding.js';
import { probeContext, type AnalyseOptions } from './detectors/context.js';
import { PROBE_DETECTORS } from './detectors/index.js';
import type { ModeTally } from './tally.js';

export type { AnalyseOptions };

export function analyse(modes: readonly ModeTally[], options: AnalyseOptions = {}): Finding[] {
  return runDetectors(PROBE_DETECTORS, modes, probeContext(modes, options));
}
