/**
 * `keepalive-pinning`: keep-alive connections that each stay on one backend while several exist,
 * when requests reached the connections in an order that a per-request balancer would have
 * spread: the layer-4 signature. Too small a sample is undecided (see insufficient-data).
 */
import type { Finding } from '../../core/finding.js';
import type { ConnTally, ModeTally } from '../tally.js';
import type { ModeDetector, ProbeContext } from './context.js';
import { H2_FIELD, H2_REMEDY, L4_FIELD } from './field-knowledge.js';
import { POOL_MEANING, POOL_REMEDY, proxyPoolEvidence, sentence } from './upstream-pool.js';
import { connsWithOk, okBackends, shareList, sourceBackends } from './shares.js';
import { type Assessment, CHANCE_THRESHOLD, decided, fmtP } from './undecided.js';

/** The probe deals its requests to its connections in a random order; a capture's requests came in the order it shows. */
const PROBE_ORDER = 'requests went to the connections in a random order, so a per-request balancer would have spread each connection over several backends';
/** One connection (-c 1): no order across connections to speak of; consecutive requests on it are what a per-request balancer spreads. */
const PROBE_ONE = 'a per-request balancer would have spread the requests of this one connection over several backends';
const CAPTURE_ORDER =
  'in the order this capture saw the requests, round robin per request would not have kept these connections on one backend (their requests do not all fall in one round-robin slot) and a random choice per request would have spread them';

export function assessKeepalivePinning(m: ModeTally, ctx: ProbeContext): Assessment {
  const { modes, seen } = ctx;
  if (m.mode !== 'keepalive') return null;
  const k = seen.size;
  if (k < 2) return null; // one backend in the whole run: nothing to pin away from (single-backend says so)
  // Connections that carried two requests or more; if the other side closes every connection after
  // one request (connection-churn), keep-alive never happened and more requests would not help.
  // Only connections whose own client could reach several backends can show pinning: in a merge of
  // runs, a client that reached one backend in all its modes (another target, source affinity: see
  // client-pinned / source-affinity) has nothing to be pinned away from.
  // The same holds for a --source address (the client, to a balancer that hashes the client
  // address): when all its connections in the whole run reached one backend, a per-request balancer
  // hashing the address (nginx `hash $remote_addr` behind `proxy_pass`) keeps each of its
  // connections on that backend too, so they cannot tell per-connection from per-request balancing.
  const bySource = sourceBackends(modes);
  const choices = (c: ConnTally): number => Math.min(c.clientBackends ?? k, c.src !== undefined ? bySource.get(c.src) ?? k : k);
  const eligible = (min: number) => connsWithOk(m, min).filter((c) => choices(c) >= 2);
  let conns = eligible(2);
  if (conns.length === 0) {
    if (m.connectionsOpened > 2 * Math.max(1, m.lanes)) return null;
    conns = eligible(1);
    if (conns.length === 0) return null;
  }
  const single = conns.filter((c) => c.backends.size === 1);
  if (single.length / conns.length < 0.9) return null; // connections reach several backends: per-request
  // The alternative, explicitly: a per-request balancer. With the probe's random spread of requests
  // over its connections, a connection carrying n requests stays on one of k backends by chance with
  // probability about k^(1-n) (uniform or random choice per request). Strict round robin is
  // deterministic: it keeps a connection on one backend exactly when all its requests fall in the
  // same round-robin slot (k divides the gcd of their dispatch-order differences). Those
  // connections prove nothing, so only the others count as evidence.
  const okOf = (c: (typeof conns)[number]) => [...c.backends.values()].reduce((a, b) => a + b, 0);
  const multiReq = single.filter((c) => okOf(c) >= 2);
  const rrWouldPin = multiReq.filter((c) => c.orderGcd % choices(c) === 0);
  const informative = multiReq.filter((c) => c.orderGcd % choices(c) !== 0);
  let logChance = 0;
  for (const c of informative) logChance += (1 - okOf(c)) * Math.log(choices(c));
  const reqs = conns.reduce((s, c) => s + okOf(c), 0);
  const chance = Math.exp(logChance);
  if (logChance > Math.log(CHANCE_THRESHOLD)) {
    // Looks pinned, but per-request balancing could give this sample: say so, with what it needs.
    const needed = Math.max(conns.length, m.lanes) + Math.ceil(Math.log(1 / CHANCE_THRESHOLD) / Math.log(k)) + rrWouldPin.reduce((s, c) => s + okOf(c) - 1, 0);
    const why =
      rrWouldPin.length > 0
        ? `${single.length} of ${conns.length} keep-alive connections stayed on one backend, but ${rrWouldPin.length} of them carried requests that strict round robin over ${k} backends would also have sent to one backend (their place in the send order repeats every ${k}), and per-request balancing could give the rest by chance (p ≈ ${fmtP(chance)}, needs < ${CHANCE_THRESHOLD})`
        : `${single.length} of ${conns.length} keep-alive connections stayed on one backend over ${reqs} requests, which per-request balancing over ${k} backends also gives by chance (p ≈ ${fmtP(chance)}, needs < ${CHANCE_THRESHOLD})`;
    return { undecided: { test: 'keepalive-pinning', mode: 'keepalive', needed: Math.max(needed, m.requests + 1), have: m.requests, why } };
  }
  const reached = new Set<string>();
  for (const c of conns) for (const b of c.backends.keys()) reached.add(b);
  // HTTP/2 and gRPC runs: the same test on streams (each stream is a request on its connection).
  const h2 = ctx.options.protocol === 'h2' || ctx.options.protocol === 'grpc';
  const unit = h2 ? (ctx.options.protocol === 'grpc' ? 'gRPC calls (streams)' : 'streams') : 'requests';
  const evidence = [
    `keepalive: ${single.length} of ${conns.length} ${h2 ? 'HTTP/2 ' : ''}connections (${reqs} ${unit}) each reached exactly one backend; ${reached.size} of ${k} backends reached in this mode (${shareList(m)})`,
    ctx.options.source !== 'capture' && conns.length === 1 && informative.length === 1
      ? `per-request balancing ruled out: ${PROBE_ONE}; its ${okOf(informative[0])} ${unit} all stayed on one backend, which it does by chance with probability ${fmtP(chance)} (threshold ${CHANCE_THRESHOLD})`
      : `per-request balancing ruled out: ${ctx.options.source === 'capture' ? CAPTURE_ORDER : PROBE_ORDER}; ${informative.length} connection${informative.length === 1 ? '' : 's'} carrying ${informative.reduce((s, c) => s + okOf(c), 0)} requests stayed on one backend${informative.length === 1 ? '' : ' each'}, which it does by chance with probability ${fmtP(chance)} (threshold ${CHANCE_THRESHOLD})${rrWouldPin.length ? `; ${rrWouldPin.length} more connection(s) not counted (round robin would have kept them on one backend too)` : ''}`,
  ];
  // Through an HTTP proxy that pools its upstream connections, the pinned connections are the proxy's, not the client's.
  const viaPool = proxyPoolEvidence(m, modes);
  // The other side already ends the client's connections (gRPC MAX_CONNECTION_AGE's GOAWAY, a
  // request limit): each new connection is balanced again, so the fix is not to add rotation.
  const rotation = viaPool === null && ctx.options.source !== 'capture' ? serverRotation(m, ctx.options.goaways?.[m.mode]) : null;
  if (rotation !== null)
    evidence.push(
      `the other side ended the connections: ${m.connectionsOpened} opened for ${Math.max(1, m.lanes)} concurrent, ${rotation.perConn.toFixed(1)} ${unit} per connection${rotation.goaways ? `, ${rotation.goaways} GOAWAY received` : ''}: the client reconnected each time, and its connections reached ${reached.size} of ${k} backends`,
    );
  const others = modes.filter((o) => o.mode !== 'keepalive' && okBackends(o).length > 1);
  for (const o of others) {
    const note = o.mode === 'short' ? 'one new connection per request' : 'connections retired and reopened';
    evidence.push(`${o.mode} (${note}): ${okBackends(o).length} backends answered ${o.ok} requests (${shareList(o)})`);
  }
  if (others.length === 0 && reached.size < 2) evidence.push(`other modes or runs saw ${[...seen].filter((s) => !reached.has(s)).join(', ')}`);
  if (viaPool !== null) evidence.push(viaPool);
  const finding: Finding = {
    id: 'keepalive-pinning',
    severity: 'warn',
    mode: 'keepalive',
    title:
      (h2
        ? `HTTP/2 connections stick to one backend each (${single.length}/${conns.length} connections, every stream on them) while ${k} backends exist`
        : `keep-alive connections stick to one backend each (${single.length}/${conns.length} connections) while ${k} backends exist`) +
      (rotation === null ? '' : rotation.goaways ? `, until the server ends them (${rotation.goaways} GOAWAY)` : `, until the other side ends them (${m.connectionsOpened} connections for ${Math.max(1, m.lanes)} concurrent)`),
    evidence,
    explanation:
      viaPool !== null
        ? `${h2 ? H2_FIELD : L4_FIELD} Here an HTTP proxy is in the path (see l7-proxy), yet its upstream side is pinned: ${POOL_MEANING}`
        : rotation !== null
          ? `${h2 ? H2_FIELD : L4_FIELD} Here the other side already ends the connections (${rotation.goaways ? 'GOAWAY: gRPC `MAX_CONNECTION_AGE`, `lbdiag whoami --max-conn-age`, or a proxy draining' : 'a `Connection: close` after a request limit or age (nginx `keepalive_requests`, Envoy `max_requests_per_connection`), an idle timeout'}), so the client reconnects and every new connection is balanced again: each connection stays on one backend for its life (${rotation.perConn.toFixed(1)} ${unit} on average here), the shares follow how many connections each backend got and how much each carried, and backends added later get load as the older connections end.`
          : h2
          ? `${H2_FIELD} One backend per connection for every stream, when streams reach the connections in an irregular order, is the layer-4 signature.`
          : `${L4_FIELD} So a client with a few long-lived connections loads a few backends, while \`curl\` in a loop (a new connection each time) looks perfectly balanced. One backend per connection, when requests reach the connections in an irregular order, is the layer-4 signature.`,
    remedy:
      viaPool !== null
        ? sentence(POOL_REMEDY)
        : rotation !== null
          ? h2
            ? `Connection rotation is already in place (${rotation.goaways ? `${rotation.goaways} GOAWAY from the server in this run` : 'the other side ends connections'}): every new connection is balanced again. If the shares must be closer, or backends added later must get load sooner: shorten the connection life (a lower \`MAX_CONNECTION_AGE\`), or balance per stream: an L7 proxy that speaks HTTP/2 to the backends (Envoy, linkerd/Istio, haproxy \`mode http\` with \`server ... proto h2\`, nginx \`grpc_pass\`), or the gRPC client's \`round_robin\` policy over a headless Service.`
            : 'Connection rotation is already in place (the other side ends keep-alive connections): every new connection is balanced again. If the shares must be closer, or backends added later must get load sooner: end connections sooner (fewer requests or a shorter age per connection), or balance per request: an HTTP-aware (L7) virtual server or proxy (BIG-IP HTTP profile / OneConnect, haproxy `mode http`, nginx `proxy_pass`, Envoy).'
          : (h2
              ? H2_REMEDY
              : 'Balance per request: an HTTP-aware (L7) virtual server or proxy (BIG-IP HTTP profile / OneConnect, haproxy `mode http`, nginx `proxy_pass`, Envoy), or make clients rotate connections (maximum connection age or requests per connection; `lbdiag probe --mode rotate --max-conn-requests 20` shows the effect), or open more connections than there are backends.') + (overTls(modes) ? tlsL7(h2) : ''),
    metrics: { connections: conns.length, pinnedConnections: single.length, backendsReached: reached.size, backendsSeen: k, requests: reqs, chance, informativeConnections: informative.length, roundRobinAlike: rrWouldPin.length },
  };
  return { finding };
}

/** The run spoke TLS (handshakes completed): an L7 balancer then has to terminate it. */
function overTls(modes: readonly ModeTally[]): boolean {
  return modes.some((m) => m.tls.handshakes > 0);
}

/** What balancing per request (per stream) takes when the run spoke TLS. */
function tlsL7(h2: boolean): string {
  return h2
    ? ' Over TLS, a balancer sees streams only if it terminates TLS: with TLS passed through to the backends (the certificate is theirs), balancing per stream means moving the certificate to the balancer (haproxy `bind ... ssl crt ... alpn h2` with `mode http`, and `server ... ssl alpn h2` to re-encrypt towards the backends), else rotating connections or balancing in the client is the lever.'
    : ' Over TLS, a balancer sees requests only if it terminates TLS: with TLS passed through to the backends (the certificate is theirs), balancing per request means moving the certificate to the balancer (haproxy `bind ... ssl crt` with `mode http`, and `server ... ssl` to re-encrypt towards the backends), else rotating connections is the lever.';
}

/**
 * The other side ended the keep-alive connections (connection-churn's rule: more than twice as many
 * opened as the concurrent lanes, leaving out those that never got up), and mostly without a failure
 * on a reused connection (a reset or a close mid-request is a fault, not a rotation): a request
 * limit, a maximum age, GOAWAY. Null otherwise.
 */
function serverRotation(m: ModeTally, goaways: number | undefined): { perConn: number; goaways: number } | null {
  const lanes = Math.max(1, m.lanes);
  let neverUp = 0;
  for (const e of m.errorKinds.values()) neverUp += e.connectPhase + e.tlsPhase;
  const up = m.connectionsOpened - neverUp;
  if (up <= 2 * lanes) return null;
  const replaced = up - lanes;
  if (m.failedReused * 2 >= replaced) return null;
  return { perConn: m.requests / Math.max(1, m.connectionsOpened), goaways: goaways ?? 0 };
}

export const keepalivePinning: ModeDetector = (m, ctx) => decided(assessKeepalivePinning(m, ctx));
