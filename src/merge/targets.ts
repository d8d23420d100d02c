/**
 * `mixed-targets` (merge, info): the merged runs probed different targets. lbdiag merge adds them
 * as one service, which is right when the names are one VIP seen from different places (a DNS name
 * and its address, a Service name per namespace) and wrong when they are different services. Each
 * client's connections are judged against the backends that client could reach (see
 * ConnTally.clientBackends), so a client that reached one backend is not taken for pinning; the
 * finding says which client probed which target so the reader can tell the two cases apart.
 */
import type { Finding } from '../core/finding.js';

export interface TargetRun {
  client: string;
  target: string;
}

export function mixedTargets(runs: readonly TargetRun[]): Finding[] {
  const byTarget = new Map<string, string[]>();
  for (const r of runs) byTarget.set(r.target, [...(byTarget.get(r.target) ?? []), r.client]);
  if (byTarget.size < 2) return [];
  const list = [...byTarget.entries()];
  return [
    {
      id: 'mixed-targets',
      severity: 'info',
      title: `the merged runs probed ${byTarget.size} different targets: merged as one service`,
      evidence: list.slice(0, 10).map(([t, clients]) => `${t}: ${clients.length} run(s) (${clients.slice(0, 5).join(', ')}${clients.length > 5 ? ', …' : ''})`),
      explanation:
        'lbdiag merge adds every run as if all probed one service. That holds when the targets are one VIP under different names (a DNS name and its address, a Service name seen from several namespaces, per-zone endpoints of one balancer); it does not when they are different services, and then the merged shares and the source × backend table mix them. Keep-alive pinning is judged per client against the backends that client itself reached, so a client whose target had one backend is not taken for pinning.',
      remedy: 'If these are different services, merge the runs of each target apart (one lbdiag merge per target); if they are one VIP under several names, read the merged report as one.',
      metrics: { targets: list.map(([t]) => t), runs: runs.length },
    },
  ];
}
