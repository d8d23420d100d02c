/**
 * `single-backend`: one backend answered every identified request of the run (unless the user
 * expects exactly one). Fewer answers than the test needs is undecided (see insufficient-data).
 *
 * What it can mean depends on the client addresses the requests came from: from one address,
 * source-address affinity is as likely as a single backend in service; from several addresses in
 * one IPv4 /24, nginx `ip_hash` (first three octets only) still sees one client; from enough
 * addresses across /24 networks, a hash on the client address would most likely have spread them.
 * The addresses are the probe's `--source` list, the merged client runs, or a capture's clients.
 */
import net from 'node:net';
import type { ModeTally } from '../tally.js';
import type { AnalyseOptions, ProbeContext, RunDetector } from './context.js';
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
  const src = clientSources(modes, o);
  const evidence = modes.filter((m) => m.requests > 0).map((m) => `${m.mode}: ${m.ok} ok of ${m.requests} requests over ${m.connectionsOpened} connections, all from ${name}`);
  if (src.kind === 'capture' || src.count >= 2) evidence.push(`${src.kind === 'capture' ? 'the requests' : 'the connections'} came from ${sourcesText(src)}`);
  const w = wording(src);
  // Over TLS an SNI router chooses the backends by the name in the handshake: a name (or no name)
  // routed to one backend is one backend by design, which nothing above would tell.
  const sni = snisSent(modes, name);
  if (sni !== null) evidence.push(sni.size === 0 ? 'over TLS with no SNI (the target is an IP address; an SNI router sends such handshakes to its default backend)' : `over TLS with SNI ${[...sni].map((x) => `"${x}"`).join(', ')} (an SNI router picks the backends by this name)`);
  const explanation = sni === null ? w.explanation : `${w.explanation} ${SNI_MEANING}`;
  const remedy = sni === null ? w.remedy : `${w.remedy} ${sniRemedy(sni)}`;
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

export const singleBackend: RunDetector = (modes, ctx) => decided(assessSingleBackend(modes, ctx));

/** The SNI names the run's TLS handshakes to `backend` sent (empty: none sent); null when the run did not use TLS. */
function snisSent(modes: readonly ModeTally[], backend: string): Set<string> | null {
  let tls = false;
  const names = new Set<string>();
  for (const m of modes) {
    const b = m.tls.backends.get(backend);
    if (!b) continue;
    tls = true;
    for (const [n, c] of b.snis) if (c > 0 && n !== '') names.add(n);
  }
  return tls ? names : null;
}

const SNI_MEANING =
  'Over TLS there is one more reading: an SNI router (haproxy `mode tcp` with `req.ssl_sni` / `use_backend`, nginx `stream` with `ssl_preread`, a Kubernetes ingress or gateway in TLS passthrough) chooses the backend set from the server name in the handshake, not from `Host`, so a name routed to a single backend (or a handshake without SNI sent to the default backend) reaches one backend by design, whatever the balancing behind other names.';

function sniRemedy(sni: ReadonlySet<string>): string {
  return sni.size === 0
    ? 'To tell an SNI route from the rest: probe again with `--sni` set to the name your clients use (an IP target sends no SNI), and check which backends the router maps that name to.'
    : `To tell an SNI route from the rest: check which backends the router maps ${[...sni].map((x) => `"${x}"`).join(', ')} to (haproxy \`use_backend\` rules, nginx \`map $ssl_preread_server_name\`), and probe with \`--sni\` set to another name it serves to compare.`;
}

interface ClientSources {
  /** Distinct client addresses (or merged client runs) that sent requests; 0 or 1: one address. */
  count: number;
  /** There were more than `count` (a capture keeps so many). */
  atLeast: boolean;
  /** probe: --source addresses (none: the machine's one address); clients: lbdiag merge runs; capture: the client addresses a capture shows. */
  kind: 'probe' | 'clients' | 'capture';
  /** Several addresses, all IPv4 and in one /24 ("a.b.c.0/24"), else ''. */
  slash24: string;
  /** One of the addresses ('' for merged runs). */
  first: string;
}

/** The client addresses the requests came from. */
function clientSources(modes: readonly ModeTally[], o: AnalyseOptions): ClientSources {
  if (o.captureClients) {
    const c = o.captureClients;
    return { count: c.count, atLeast: c.atLeast, kind: 'capture', slash24: c.count > 1 ? c.slash24 : '', first: c.first };
  }
  const all = new Set<string>();
  for (const m of modes) for (const [s, t] of m.sources) if (t.requests > 0) all.add(s);
  const list = [...all];
  const addrs = list.filter((s) => !s.startsWith('client:'));
  if (list.length > 0 && addrs.length === 0) return { count: list.length, atLeast: false, kind: 'clients', slash24: '', first: '' };
  return { count: addrs.length, atLeast: false, kind: 'probe', slash24: slash24Of(addrs), first: addrs[0] ?? '' };
}

/** "a.b.c.0/24" when every address is IPv4 and in that /24 (and there are at least two), else ''. */
export function slash24Of(addrs: readonly string[]): string {
  if (addrs.length < 2 || !addrs.every((a) => net.isIPv4(a))) return '';
  const nets = new Set(addrs.map((a) => a.slice(0, a.lastIndexOf('.'))));
  return nets.size === 1 ? `${[...nets][0]}.0/24` : '';
}

function sourcesText(s: ClientSources): string {
  if (s.kind === 'clients') return `${s.count} client runs (lbdiag merge)`;
  if (s.count <= 1) return `one client address${s.first ? ` (${s.first})` : ''}`;
  return `${s.atLeast ? 'over ' : ''}${s.count} ${s.kind === 'capture' ? 'client' : 'source'} addresses${s.slash24 ? `, all in ${s.slash24}` : ''}`;
}

const AFFINITY = 'haproxy `balance source`, nginx `ip_hash`, IPVS `sh`, Kubernetes `sessionAffinity: ClientIP`';
const EXPECT = ' Pass --expect N to make a missing backend an error.';

/** The meaning and fix for the client addresses seen. */
function wording(s: ClientSources): { explanation: string; remedy: string } {
  const capture = s.kind === 'capture';
  const expect = capture ? '' : EXPECT;
  // The next run that tells source affinity from a single backend in service.
  const next = (how: string): string =>
    `to tell source affinity from a single healthy backend, probe from ${how} in different /24 networks (nginx \`ip_hash\` hashes only the first three octets): \`lbdiag probe VIP --mode short -n 300 --source ${spreadExample()}\` on loopback, or \`--source\` over addresses of this host (source-affinity then proves it)`;
  if (s.count >= 2 && s.slash24) {
    // nginx ip_hash keys on the first three octets of an IPv4 address: one /24 is one client to it.
    return {
      explanation: `Either only one backend is in service (others failing health checks, drained, or not in the pool), or the balancer hashes something these ${s.count} client addresses share: nginx \`ip_hash\` keys on the first three octets of an IPv4 address only, so every address in ${s.slash24} is the same client to it; a hash on the /24 or on a constant (URI, Host, a header or cookie ${capture ? 'the clients all send' : 'the probe does not vary'}) does the same, and so does a fill-first algorithm (haproxy \`balance first\`: the next backend only once this one has its maxconn). A balancer hashing the whole address (haproxy \`balance source\`, IPVS \`sh\`, Kubernetes \`sessionAffinity: ClientIP\`) would most likely have spread ${s.count} addresses over several backends.`,
      remedy: `Check the pool members' health and state on the balancer; ${next('addresses')}, or from several machines and \`lbdiag merge\`.${expect}`,
    };
  }
  if (s.count >= 2 && 2 ** (1 - s.count) <= 0.05) {
    // Enough distinct clients across /24 networks: affinity by client address alone would most likely have spread them.
    const what = s.kind === 'clients' ? 'clients' : 'addresses';
    return {
      explanation: `Only one backend seems to be in service (others failing health checks, drained, or not in the pool), or the balancer hashes something all these clients share (a URI, the Host header, a header or cookie), or a rule routes them all to one backend, or a fill-first algorithm (haproxy \`balance first\`: the next backend only once this one has its maxconn). Source-address affinity alone is unlikely to explain it: a balancer hashing the client address would spread ${s.count} different ${what} over its backends${s.kind === 'clients' ? '' : ' (nginx `ip_hash` keys on the first three octets; these span several /24 networks)'}; all of them landing on one of 2 or more backends has probability at most ${fmtP(2 ** (1 - s.count))} for a uniform hash.`,
      remedy: `Check the pool members' health and state on the balancer (haproxy \`show servers state\`, nginx upstream status, \`ipvsadm -Ln\`, \`kubectl get endpointslices\`), and the routing rules (a hash on the URI or a header sends one URL to one backend).${expect}`,
    };
  }
  // One address, or too few to rule a hash on the client address out.
  const who =
    s.count >= 2
      ? `the ${s.count} client ${s.kind === 'clients' ? 'runs' : 'addresses'} all hashed to it, which a uniform hash does with probability up to ${fmtP(2 ** (1 - s.count))} (2 backends; less with more)`
      : capture
        ? 'every request in the capture came from one client address'
        : 'all probe connections came from one address';
  return {
    explanation: `Either only one backend is in service (others failing health checks, drained, or not in the pool), or every connection and request is sent to the same one: source-address affinity (the balancer hashes the client address - ${AFFINITY} - and ${who}), a hash on something constant, a fill-first algorithm (haproxy \`balance first\`: the next backend only once this one has its maxconn), or a single keep-alive connection through a layer-4 balancer.`,
    remedy: capture
      ? `Check the pool members' health and state on the balancer; ${next('several client addresses')}; or capture the traffic of more clients.`
      : `Check the pool members' health and state on the balancer; try --mode short with -c larger than the backend count; ${next(s.count >= 2 ? 'more client addresses (10 or more)' : 'several client addresses')}.${expect}`,
  };
}

/** Ten loopback addresses in different /24 networks (127.0.1.1, 127.0.2.1, ...): the --source to try next. */
function spreadExample(): string {
  return Array.from({ length: 10 }, (_, k) => `127.0.${k + 1}.1`).join(',');
}
