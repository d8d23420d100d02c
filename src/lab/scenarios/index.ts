/** The lab's scenarios by name, in the order `--scenario all` runs them. */
import type { Scenario, ScenarioName } from '../scenario.js';
import { pinning } from './pinning.js';

export const SCENARIOS: Record<ScenarioName, Scenario> = {
  pinning,
  'scale-up': pinning,
  'stale-listener': pinning,
  stall: pinning,
};
