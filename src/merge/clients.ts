/**
 * The per-client comparison of `lbdiag merge`: what each client (run, `--label`) saw, and the
 * finding `client-pinned` when one client's answers all came from one backend while other clients
 * reached several: that client is held on one backend (a kept-alive connection through a layer-4
 * balancer, source-address affinity, or a different pool / DNS answer for it).
 */
import type { Finding } from '../core/finding.js';
import type { ProbeMode } from '../probe/record.js';

export interface ClientModeSummary {
  requests: number;
  ok: number;
  errors: number;
  connections: number;
  /** Successful answers per backend. */
  backends: Record<string, number>;
  /** Connections (keep-alive, rotate) whose answers all came from one backend, of those with answers. */
  connectionsOneBackend: number;
  connectionsWithAnswers: number;
}

export interface ClientSummary {
  client: string;
  file: string;
  startedAt: string;
  modes: Partial<Record<ProbeMode, ClientModeSummary>>;
  /** Finding ids of that run's own report. */
  findings: string[];
}

/** n answers all from one backend happen by chance, with 2 or more backends sharing, with probability at most 2^(1-n). */
const CHANCE = 1e-3;
const NEEDED = 1 + Math.ceil(Math.log2(1 / CHANCE)); // 11

export function clientComparison(clients: readonly ClientSummary[]): Finding[] {
  if (clients.length < 2) return [];
  // Per client, all modes together: backends reached.
  const per = clients.map((c) => {
    const b = new Map<string, number>();
    let ok = 0;
    for (const m of Object.values(c.modes)) for (const [k, n] of Object.entries(m!.backends)) {
      b.set(k, (b.get(k) ?? 0) + n);
      ok += n;
    }
    return { c, b, ok };
  });
  const spread = per.filter((p) => p.b.size >= 2);
  const pinned = per.filter((p) => p.b.size === 1 && p.ok >= NEEDED);
  if (spread.length === 0 || pinned.length === 0) return [];
  const line = (p: (typeof per)[number]): string =>
    `${p.c.client}: ${p.ok} answers from ${[...p.b.entries()].sort((x, y) => y[1] - x[1]).map(([k, n]) => `${k} ${n}`).join(', ')}${Object.entries(p.c.modes).map(([mode, m]) => (m!.connectionsWithAnswers ? `; ${mode}: ${m!.connectionsOneBackend} of ${m!.connectionsWithAnswers} connections on one backend` : '')).join('')}${p.c.findings.length ? ` (its own findings: ${p.c.findings.join(', ')})` : ''}`;
  return [
    {
      id: 'client-pinned',
      severity: 'warn',
      title: `${pinned.length} of ${per.length} clients reached one backend only while ${spread.length} reached several: ${pinned.map((p) => p.c.client).slice(0, 5).join(', ')}`,
      evidence: [
        ...pinned.map((p) => `pinned: ${line(p)}; by chance with 2 or more backends sharing at most ${(2 ** (1 - p.ok)).toExponential(1)}`),
        ...spread.slice(0, 10).map((p) => `spread: ${line(p)}`),
        ...(spread.length > 10 ? [`(${spread.length - 10} more clients spread; all in --json clients)`] : []),
      ],
      explanation:
        'The backends are there (other clients reach them), but these clients stay on one: either their traffic rides one kept-alive connection through a layer-4 balancer (see keepalive-pinning in that run), or the balancer hashes their address (source affinity: haproxy `balance source`, nginx `ip_hash`, IPVS `sh`, Kubernetes `sessionAffinity: ClientIP`; NAT gateways make whole zones one address), or they resolve or route to a different pool.',
      remedy:
        'Compare that client\'s run modes: pinned only in keepalive mode is connection pinning (rotate connections: --mode rotate shows the effect); pinned with short connections too is the client address (probe from it with --source over several of its addresses) or a different pool (check its DNS answer and route to the VIP).',
      metrics: { pinned: pinned.map((p) => p.c.client), spread: spread.map((p) => p.c.client), clients: per.length },
    },
  ];
}
