/**
 * The probe's detectors, in the order they run. The order is the order of analyse()'s output
 * (sortFindings orders findings for display, once): run-wide findings about the balancing first,
 * then the client's own limits, then errors and timing per mode, then what the path and the
 * sample allow to conclude.
 *
 *  1. keepalive-pinning       per mode (keep-alive only)
 *  2. imbalance               per mode (info when keepalive-pinning explains it)
 *  3. single-backend          run
 *  4. backend-missing         run (--expect, --expect-backends)
 *  5. late-backend-starved    run (pooled modes against later ones)
 *  6. stale-instance / backend-restarted   run, per backend name
 *  7. local-port-exhaustion   run (the probe machine's own ports)
 *  8. tls-error, all-failing, intermittent-errors, idle-timeout-reset   per mode, together, as
 *     the balancer saw it (without the connects that found no local port)
 *  9. stall-1s                per mode
 * 10. l7-proxy                run
 * 11. connection-churn        per mode (keep-alive only)
 * 12. source-affinity         per mode (new detectors plug in at the marked place below)
 * 12b. tls-cert-mismatch      run (https: a different certificate per backend)
 *     protocol-mismatch       run (what the wire showed: HTTP/2 frames to HTTP/1.1, HTTP/1 to the h2 preface, ALPN)
 * 13. no-backend-identity     run
 * 14. insufficient-data       run, always last: it reports the tests that could not decide
 *     (1-3, and any test added to its list)
 *
 * Every detector is pure (src/core/detector.ts): no detector reads another's output, so none
 * depends on this order for its result, only for its place in the list.
 */
import { allFailing } from './all-failing.js';
import { backendMissing } from './backend-missing.js';
import { connectionChurn } from './connection-churn.js';
import { eachMode, type RunDetector } from './context.js';
import { idleTimeoutReset } from './idle-timeout-reset.js';
import { imbalance } from './imbalance.js';
import { insufficientData } from './insufficient-data.js';
import { intermittentErrors } from './intermittent-errors.js';
import { keepalivePinning } from './keepalive-pinning.js';
import { l7Proxy } from './l7-proxy.js';
import { lateBackendStarved } from './late-backend-starved.js';
import { localPortExhaustion } from './local-port-exhaustion.js';
import { noBackendIdentity } from './no-backend-identity.js';
import { protocolMismatch } from './protocol-mismatch.js';
import { sourceAffinity } from './source-affinity.js';
import { decided } from './undecided.js';
import { singleBackend } from './single-backend.js';
import { staleInstance } from './stale-instance.js';
import { stall1s } from './stall-1s.js';
import { tlsCertMismatch } from './tls-cert-mismatch.js';
import { tlsError } from './tls-error.js';

export const PROBE_DETECTORS: readonly RunDetector[] = [
  eachMode(keepalivePinning),
  eachMode(imbalance),
  singleBackend,
  backendMissing,
  lateBackendStarved,
  staleInstance,
  localPortExhaustion,
  eachMode(tlsError, allFailing, intermittentErrors, idleTimeoutReset),
  eachMode(stall1s),
  l7Proxy,
  eachMode(connectionChurn),
  // ── New detectors go here: one file in this folder, one line here, a RunDetector
  //    `(modes, ctx) => Finding | Finding[] | null` or eachMode(ModeDetector); a test that can be
  //    undecided also adds its assessment in insufficient-data.ts (marked there).
  eachMode((m, ctx) => decided(sourceAffinity(m, ctx.modes))),
  tlsCertMismatch,
  protocolMismatch,
  noBackendIdentity,
  insufficientData,
];
