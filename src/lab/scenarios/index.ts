/** The lab's scenarios by name, in the order `--scenario all` runs them. */
import type { Scenario, ScenarioName } from '../scenario.js';
import { pinning } from './pinning.js';
import { scaleUp } from './scale-up.js';
import { staleListener } from './stale-listener.js';
import { stall } from './stall.js';
import { sourceAffinity } from './source-affinity.js';
import { grpc } from './grpc.js';

export const SCENARIOS: Record<ScenarioName, Scenario> = {
  pinning,
  'scale-up': scaleUp,
  'stale-listener': staleListener,
  stall,
  'source-affinity': sourceAffinity,
  grpc,
};
