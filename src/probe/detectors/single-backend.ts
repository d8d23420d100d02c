/**
 * `single-backend`: one backend answered every identified request of the run (unless the user
 * expects exactly one). Fewer answers than the test needs is undecided (see insufficient-data).
 */
import net from 'node:net';
import type { ModeTally } from '../tally.js';
import type { ProbeContext, RunDetector } from './context.js';
import { okBackends } from './shares.js';
import { type Assessment, CHANCE_THRESHOLD, decided, fmtP } from './undecided.js';

export function assessSingleBackend(modes: readonly ModeTally[], ctx: ProbeContext): Assessment {
  const { seen, options: o } = ctx;
  if (seen.size !== 1) return null;
  if (o.expect === 1 || o.expectBackends?.length === 1) return null;
  const ok = modes.reduce((s, m) => s + (okBackends(m)[0]?.ok ?? 0), 0);
  const name = [...seen][0];
  // With two or more backends sharing the load, n answers all come from one with probability at
  // most 2^(1-n): the test needs that below the threshold.
  const needed = 1 + Math.ceil(Math.log2(1 / CHANCE_THRESHOLD));
  if (ok < needed) {
    return { undecided: { test: 'single-backend', needed, have: ok, why: `all ${ok} answers came from ${name}; a balancer spreading over 2 or more backends does that by chance with probability up to ${fmtP(2 ** (1 - ok))}` } };
  }
  const src = clientSources(modes);
  const evidence = modes.filter((m) => m.requests > 0).map((m) => `${m.mode}: ${m.ok} ok of ${m.requests} requests over ${m.connectionsOpened} connections, all from ${name}`);
  let explanation = oneSourceMeaning('all probe connections came from one address');
  let remedy = oneSourceFix('several client addresses');
  if (src.count >= 2) {
    evidence.push(`the connections came from ${src.count} ${src.kind === 'clients' ? 'client runs (lbdiag merge)' : 'source addresses'}${src.slash24 ? `, all in ${src.slash24}` : ''}`);
    if (src.slash24) {
      // nginx ip_hash keys on the first three octets of an IPv4 address: one /24 is one client to it.
      explanation = `Either only one backend is in service (others failing health checks, drained, or not in the pool), or the balancer hashes something these ${src.count} source addresses share: nginx \`ip_hash\` keys on the first three octets of an IPv4 address only, so every address in ${src.slash24} is the same client to it; a hash on the /24 or a constant (URI, Host, a header or cookie the probe does not vary) does the same. A balancer hashing the whole address (haproxy \`balance source\`, IPVS \`sh\`, Kubernetes \`sessionAffinity: ClientIP\`) would most likely have spread ${src.count} addresses over several backends.`;
      remedy = `Check the pool members' health and state on the balancer; to tell a /24 hash from a single healthy backend, probe from addresses in different /24 networks: \`lbdiag probe VIP --mode short -n 300 --source ${spreadExample(src.first)}\` (on loopback all of 127.0.0.0/8 is local), or from several machines and \`lbdiag merge\`; source-affinity then proves the hash. Pass --expect N to make a missing backend an error.`;
    } else if (2 ** (1 - src.count) > 0.05) {
      // Too few clients: a hash on the client address lands them all on one backend quite often.
      explanation = oneSourceMeaning(`the probe's ${src.count} client addresses all hashed to it, which happens with probability about ${fmtP(2 ** (1 - src.count))} for 2 or more backends`);
      remedy = oneSourceFix('more client addresses (10 or more)');
    } else {
      // Distinct clients reached one backend: affinity by client address alone would most likely have spread them.
      const p = fmtP(2 ** (1 - src.count));
      explanation = `Only one backend seems to be in service (others failing health checks, drained, or not in the pool), or the balancer hashes something all these clients share (a URI, the Host header, a header or cookie the probe does not vary), or a rule routes them all to one backend. Source-address affinity alone is unlikely to explain it: a balancer hashing the client address would spread ${src.count} different ${src.kind === 'clients' ? 'clients' : 'addresses'} over its backends${src.kind === 'clients' ? '' : ' (nginx `ip_hash` keys on the first three octets; these span several /24 networks)'}; all of them landing on one of 2 or more backends has probability about ${p} for a uniform hash.`;
      remedy = 'Check the pool members\' health and state on the balancer (haproxy `show servers state`, nginx upstream status, `ipvsadm -Ln`, `kubectl get endpointslices`), and the routing rules (a hash on the URI or a header sends one URL to one backend). Pass --expect N to make a missing backend an error.';
    }
  }
  return {
    finding: {
      id: 'single-backend',
      severity: 'warn',
      backend: name,
      title: `one backend (${name}) answered all ${ok} identified requests`,
      evidence,
      explanation,
      remedy,
      metrics: { backend: name, requests: ok },
    },
  };
}

/** The meaning when the clients' addresses cannot rule source affinity out; `who` says how the probe's connections came to share a hash. */
const oneSourceMeaning = (who: string): string =>
  `Either only one backend is in service (others failing health checks, drained, or not in the pool), or every connection and request is sent to the same one: source-address affinity (the balancer hashes the client address - haproxy \`balance source\`, nginx \`ip_hash\`, IPVS \`sh\`, Kubernetes \`sessionAffinity: ClientIP\` - and ${who}), a hash on something constant, or a single keep-alive connection through a layer-4 balancer.`;
/** The fix for the same case; `sources` says which client addresses to probe from next. */
const oneSourceFix = (sources: string): string =>
  `Check the pool members' health and state on the balancer; try --mode short with -c larger than the backend count; to tell source affinity from a single healthy backend, probe from ${sources} in different /24 networks (nginx \`ip_hash\` hashes only the first three octets): \`lbdiag probe VIP --mode short -n 300 --source ${spreadExample('127.0.0.1')}\` on loopback, or \`--source\` over addresses of this host (source-affinity then proves it). Pass --expect N to make a missing backend an error.`;

interface ClientSources {
  /** Distinct --source addresses (or merged client runs) that sent requests. */
  count: number;
  kind: 'addresses' | 'clients';
  /** All IPv4 and in one /24 ("a.b.c.0/24"), else ''. */
  slash24: string;
  first: string;
}

/** The client addresses the run's connections came from (--source), or the client runs merged. */
function clientSources(modes: readonly ModeTally[]): ClientSources {
  const all = new Set<string>();
  for (const m of modes) for (const [s, t] of m.sources) if (t.requests > 0) all.add(s);
  const list = [...all];
  const clients = list.filter((s) => s.startsWith('client:'));
  if (clients.length > 0 && clients.length === list.length) return { count: list.length, kind: 'clients', slash24: '', first: '' };
  const addrs = list.filter((s) => !s.startsWith('client:'));
  const nets = new Set(addrs.map((a) => (net.isIPv4(a) ? a.slice(0, a.lastIndexOf('.')) : `v6 ${a}`)));
  const only = [...nets][0];
  const slash24 = nets.size === 1 && addrs.length > 1 && !only.startsWith('v6 ') ? `${only}.0/24` : '';
  return { count: addrs.length, kind: 'addresses', slash24, first: addrs[0] ?? '' };
}

/** Ten IPv4 addresses like `a` in different /24 networks (a.b.1.1, a.b.2.1, ...): the --source to try next. */
function spreadExample(a: string): string {
  const [x, y] = a.split('.');
  return Array.from({ length: 10 }, (_, k) => `${x}.${y}.${k + 1}.1`).join(',');
}
export const singleBackend: RunDetector = (modes, ctx) => decided(assessSingleBackend(modes, ctx));
