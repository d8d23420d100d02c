/**
 * `no-backend-identity` (info): at least half the responses named no backend, so balancing
 * cannot be judged.
 */
import type { Finding } from '../../core/finding.js';
import type { RunDetector } from './context.js';

export const noBackendIdentity: RunDetector = (modes): Finding | null => {
  let responses = 0;
  for (const m of modes) for (const n of m.statuses.values()) responses += n;
  const unidentified = modes.reduce((s, m) => s + m.unidentified, 0);
  if (responses === 0 || unidentified < responses * 0.5) return null;
  return {
    id: 'no-backend-identity',
    severity: 'info',
    title: `${unidentified} of ${responses} responses did not say which backend answered`,
    evidence: [`no X-Lbdiag-Backend header, lbdiag JSON, \`Hostname:\` line or short plain body in ${unidentified} responses`],
    explanation: 'Without knowing which backend answered, the probe can count errors and latency but not balancing.',
    remedy: 'Run `lbdiag whoami` on the backends, or point the probe at something backend-specific: --backend-from header:X-Served-By, json:path.to.name, regex:\'server=(\\w+)\' or body.',
    metrics: { responses, unidentified },
  };
};
