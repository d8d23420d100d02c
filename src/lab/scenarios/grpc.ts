/**
 * `grpc`: the pinning most teams meet today. gRPC clients multiplex every call over one long-lived
 * HTTP/2 connection, so a layer-4 balancer (kube-proxy, a cloud NLB, haproxy `mode tcp`, nginx
 * `stream`) sends a whole client to one backend, while a layer-7 HTTP/2 balancer (Envoy, haproxy
 * `mode http` with `proto h2` servers, nginx `grpc_pass`, the builtin h2 proxy) balances each call.
 *
 * Steps, all probed with `--grpc` (unary lbdiag.v1.WhoAmI/Get calls, identity from the answer):
 * - `l4`: keep-alive then short-lived through L4: keepalive-pinning (one backend per connection);
 * - `l7`: the same through L7: no keepalive-pinning, the streams of each connection spread;
 * - `pool`: a long-lived pool through L4 while the autoscaler adds a backend: late-backend-starved;
 * - `goaway`: the backends restarted with `--max-conn-age` (each connection gets GOAWAY when old),
 *   the same pool, which never retires a connection itself, reaches the new backend.
 */
import { describeKind, h2Kind, l4Kind } from '../balancer-choice.js';
import { backendName, targetOf, type LabContext } from '../context.js';
import { connectionsText, pct, sharesText } from '../phrases.js';
import { judge, type LabStep, type Scenario, type ScenarioResult } from '../scenario.js';
import { formatEndpoint, type Balancer, type BackendTarget } from '../balancers/index.js';
import type { ProbeOptions } from '../../probe/run.js';
import type { ModeReport, ProbeReport } from '../../probe/summary.js';
import { formatDuration } from '../../core/units.js';
import { sleep } from '../port-wait.js';

const GRPC_METHOD = 'lbdiag.v1.WhoAmI/Get';
const DEFAULT_GRPC_REQUESTS = 200;
/** Two client channels (two pods of a gRPC client), each multiplexing this many calls. */
const CLIENT_CONNECTIONS = 2;
const STREAMS = 4;
/**
 * The long-lived pool: at least 8 connections, and 2 x (backends + 1), the number late-backend-starved
 * needs to rule out chance (a round-robin balancer would have reached the new backend by then).
 */
function poolSize(backends: number): number {
  return Math.max(8, 2 * (backends + 1));
}
const POOL_STREAMS = 2;
/** Each pool phase lasts about this long whatever -n is (the pacing adapts). */
const PHASE_MS = 1500;
/**
 * The goaway step: longer, and at least GOAWAY_MIN_REQUESTS calls whatever -n is, so that the calls
 * made once every pre-join connection has aged out are enough to judge the new backend's share.
 */
const GOAWAY_PHASE_MS = 2000;
const GOAWAY_MIN_REQUESTS = 240;
/** The new backend joins this long after the pool is open. */
const JOIN_AFTER_MS = 400;
/** The backends' --max-conn-age in the goaway step. */
const MAX_CONN_AGE_MS = 300;
/** The pool's own connection age in the goaway step: far beyond the run, so only GOAWAY retires connections. */
const CLIENT_AGE_MS = 600_000;

export const grpc: Scenario = {
  name: 'grpc',
  title: 'gRPC (HTTP/2) multiplexes every call on one connection: a layer-4 balancer pins a whole client to one backend',
  fix: 'an L7 HTTP/2 balancer (per-stream), client-side round_robin, or server MAX_CONNECTION_AGE (GOAWAY)',
  async run(ctx: LabContext): Promise<ScenarioResult> {
    const { options } = ctx;
    const n = options.backends;
    const first = await ctx.startBackends(0, n + 1);
    const targets = first.map(targetOf);
    const names = targets.map((t) => t.name!);
    const late = backendName(n);
    const c4 = l4Kind(options.family);
    const c7 = h2Kind(options.family);
    const l4 = await ctx.startBalancer(c4.kind, targets.slice(0, n));
    const l7 = await ctx.startBalancer(c7.kind, targets.slice(0, n));
    const requests = options.requests ?? DEFAULT_GRPC_REQUESTS;
    const pool = Math.min(poolSize(n), requests);
    const base: ProbeOptions = { target: '', grpc: true, grpcMethod: GRPC_METHOD };
    const steps: LabStep[] = [];

    // 1. Two gRPC clients through L4, then through L7.
    for (const [step, lb, expected, absent] of [
      ['l4', l4, ['keepalive-pinning'], []],
      ['l7', l7, [], ['keepalive-pinning']],
    ] as const) {
      if (ctx.aborted) break;
      ctx.status(`gRPC through the ${step.toUpperCase()} balancer ${formatEndpoint(lb.address)}`);
      const probe = await ctx.probe({ ...base, target: formatEndpoint(lb.address), mode: 'both', requests, concurrency: CLIENT_CONNECTIONS, streams: STREAMS });
      steps.push(judge({ name: 'grpc', step, balancer: lb.kind, expected: [...expected], absent: [...absent], checks: [], probe }));
    }

    // 2. The autoscaler: a long-lived pool through L4, a backend added while it runs.
    const pooled = ctx.aborted ? null : await scaleUpRun(ctx, l4, targets, late, requests, pool, 'pool');
    if (pooled) {
      const lateShort = share(pooled.report.modes.short, late);
      steps.push(
        judge({
          name: 'grpc',
          step: 'pool',
          balancer: l4.kind,
          expected: ['late-backend-starved'],
          absent: [],
          checks: [{ what: `${late} answers new connections after it joined`, ok: lateShort > 0 }],
          probe: pooled.report,
        }),
      );
    }

    // 3. The same pool against backends that send GOAWAY at --max-conn-age.
    let aged: Awaited<ReturnType<typeof scaleUpRun>> = null;
    let lateShareAged: { share: number; calls: number } | null = null;
    let agedL4: Balancer | null = null;
    if (!ctx.aborted) {
      ctx.status(`restarting the backends with --max-conn-age ${formatDuration(MAX_CONN_AGE_MS)}`);
      await Promise.all(first.map((w) => w.close()));
      const second = await ctx.startBackends(0, n + 1, { maxConnAgeMs: MAX_CONN_AGE_MS });
      const t2 = second.map(targetOf);
      agedL4 = await ctx.startBalancer(c4.kind, t2.slice(0, n));
      aged = await scaleUpRun(ctx, agedL4, t2, late, Math.max(requests, GOAWAY_MIN_REQUESTS), pool, 'goaway');
      if (aged) {
        const rot = aged.report.modes.rotate;
        const fair = 1 / (n + 1);
        // Judged once every connection opened before the join is older than the backends' max age.
        const after = shareAfter(rot, late, aged.joinedAt === null ? null : aged.joinedAt + MAX_CONN_AGE_MS);
        lateShareAged = after;
        const goaways = rot?.http2?.goaways ?? 0;
        steps.push(
          judge({
            name: 'grpc',
            step: 'goaway',
            balancer: agedL4.kind,
            expected: [],
            absent: ['late-backend-starved'],
            checks: [
              { what: `the backends' GOAWAY retired pooled connections (${goaways} received)`, ok: goaways > 0 },
              { what: `${late} gets at least half its fair share (${pct(fair)}) of the calls once the connections opened before it joined are ${formatDuration(MAX_CONN_AGE_MS)} old (GOAWAY)`, ok: after !== null && after.share >= fair / 2 },
            ],
            probe: aged.report,
          }),
        );
      }
    }

    const by = (s: string) => steps.find((x) => x.step === s)?.probe ?? null;
    const r4 = by('l4');
    const r7 = by('l7');
    const rp = by('pool');
    const rg = by('goaway');
    const found: string[] = [];
    if (r4) {
      const pinned = r4.findings.some((f) => f.id === 'keepalive-pinning');
      found.push(
        pinned
          ? `keepalive-pinning through L4: ${connectionsText(r4.modes.keepalive)}, ${STREAMS} calls in flight on each; the calls' shares: ${sharesText(r4.modes.keepalive, names.slice(0, n))}.`
          : `no keepalive-pinning through L4 this time (${connectionsText(r4.modes.keepalive)}): not the expected result.`,
      );
    }
    if (r7) {
      const pinned = r7.findings.some((f) => f.id === 'keepalive-pinning');
      found.push(
        pinned
          ? 'keepalive-pinning through L7 too: not the expected result.'
          : `no pinning through L7: ${connectionsText(r7.modes.keepalive)}; shares ${sharesText(r7.modes.keepalive, names.slice(0, n))} (the balancer opens its own HTTP/2 connections to the backends and sends each stream to the next one).`,
      );
    }
    if (rp) {
      const starved = rp.findings.find((f) => f.id === 'late-backend-starved');
      const kept = rp.modes.keepalive?.backends.find((b) => b.name === late)?.count ?? 0;
      found.push(
        starved
          ? `late-backend-starved: ${starved.title}. The pool's ${pool} connections were opened before ${late} joined; ${late} answered ${kept} of their ${rp.modes.keepalive?.ok ?? 0} calls.`
          : `late-backend-starved was not raised (${late} answered ${kept} pooled calls): not the expected result.`,
      );
    }
    if (rg) {
      const rot = rg.modes.rotate;
      found.push(
        `With the backends sending GOAWAY at ${formatDuration(MAX_CONN_AGE_MS)} the same pool (it never retires a connection itself) opened ${rot?.connections ?? 0} connections (${rot?.http2?.goaways ?? 0} GOAWAY received): ${sharesText(rot, names)} over the whole run, ${late} ${lateShareAged ? `${pct(lateShareAged.share)} of the ${lateShareAged.calls} calls made once every connection opened before it joined had reached that age` : '(join time unknown)'}${rg.findings.some((f) => f.id === 'late-backend-starved') ? '; late-backend-starved still raised: not the expected result' : ''}.`,
      );
    }
    return {
      name: 'grpc',
      steps,
      story: {
        title: grpc.title,
        built: [
          `${n} lbdiag whoami backends answering gRPC over h2c on their HTTP port: ${targets.slice(0, n).map((t) => `${t.name} ${formatEndpoint(t)}`).join(', ')}; ${late} (${formatEndpoint(targets[n])}) waits for the autoscaler.`,
          `L4 on ${formatEndpoint(l4.address)}: ${describeKind(c4.kind)}.${c4.note ? ` (${c4.note})` : ''}`,
          `L7 on ${formatEndpoint(l7.address)}: ${describeKind(c7.kind)}.${c7.note ? ` (${c7.note})` : ''}`,
          `Each is probed with ${requests} unary calls (lbdiag probe --grpc --grpc-method ${GRPC_METHOD}) over ${CLIENT_CONNECTIONS} HTTP/2 connections with ${STREAMS} calls in flight on each (--streams ${STREAMS}), then ${requests} calls on a new connection each.`,
          `Then a pool of ${pool} connections (--streams ${POOL_STREAMS}) through L4; ${formatDuration(JOIN_AFTER_MS)} after it is open the autoscaler adds ${late}${l4.kind.startsWith('builtin') ? '' : ' (a reload)'}.`,
          `Finally every backend restarted with --max-conn-age ${formatDuration(MAX_CONN_AGE_MS)} (GOAWAY, like gRPC MAX_CONNECTION_AGE) and the same scale-up (${Math.max(requests, GOAWAY_MIN_REQUESTS)} calls), the pool retiring a connection only when the server says so (--mode rotate --max-conn-age ${formatDuration(CLIENT_AGE_MS)}).`,
        ],
        naive: r4
          ? [
              `grpcurl or a gRPC health check opens a new connection per call: through the L4 balancer that shows ${sharesText(r4.modes.short, names.slice(0, n))}, round robin as configured.`,
              'So the Service "balances", yet one pod per client runs hot and a pod added by the autoscaler idles.',
            ]
          : ['(not measured: the run was interrupted)'],
        found,
        fix: [
          'HTTP/2 multiplexes every call of a client on one long-lived connection, and a layer-4 balancer chooses a backend per connection: one client, one backend, for as long as the connection lives.',
          'Balance per stream with an HTTP/2-aware (L7) proxy (Envoy, haproxy `mode http` with `server … proto h2`, nginx `grpc_pass`, a service mesh), or balance in the client (gRPC `round_robin` over a headless Service), or bound connection life on the server (gRPC MAX_CONNECTION_AGE, `lbdiag whoami --max-conn-age`): GOAWAY makes clients reconnect and reach new backends.',
          'Check your own service: lbdiag probe VIP --grpc --streams 8 -c 2, and after a scale-up lbdiag probe VIP --grpc --mode rotate --max-conn-age 10m (only GOAWAY retires connections)',
        ],
      },
      summary: {
        naive: r4 ? `new connection per call via L4: ${sharesText(r4.modes.short, names.slice(0, n))}` : 'not measured',
        finding: r4?.findings.some((f) => f.id === 'keepalive-pinning')
          ? `keepalive-pinning via L4, none via L7; ${late} starved until GOAWAY (then ${lateShareAged ? pct(lateShareAged.share) : '?'} of calls)`
          : 'keepalive-pinning not raised',
        fix: grpc.fix,
      },
    };
  },
};

function share(m: ModeReport | undefined, name: string): number {
  return m?.backends.find((b) => b.name === name)?.share ?? 0;
}

/**
 * `name`'s share of the identified calls in the timeline buckets that start after `joinedAt` (ms
 * from the probe's start, as the mode's startMs): what a backend gets once it exists, not diluted by
 * the time before it did. Null without a join time or calls after it.
 */
export function shareAfter(m: ModeReport | undefined, name: string, joinedAt: number | null): { share: number; calls: number } | null {
  if (!m || joinedAt === null) return null;
  let mine = 0;
  let all = 0;
  for (const bk of m.timeline.buckets) {
    if (m.startMs + bk.t < joinedAt) continue;
    for (const [b, c] of Object.entries(bk.backends)) {
      all += c;
      if (b === name) mine += c;
    }
  }
  return all > 0 ? { share: mine / all, calls: all } : null;
}

/**
 * A pool of `pool` gRPC connections through `lb` (first n targets); once every pooled connection is
 * open and JOIN_AFTER_MS later, the last target joins. `pool`: keep-alive then short-lived (the
 * new backend shows on new connections); `goaway`: rotate with a client age far beyond the run, so
 * only the servers' GOAWAY retires connections. Null when interrupted before it ran.
 */
async function scaleUpRun(ctx: LabContext, lb: Balancer, targets: BackendTarget[], late: string, requests: number, pool: number, kind: 'pool' | 'goaway'): Promise<{ report: ProbeReport; joinedAt: number | null } | null> {
  if (ctx.aborted) return null;
  const vip = formatEndpoint(lb.address);
  const mode = kind === 'pool' ? 'both' : 'rotate';
  const interval = Math.max(2, Math.round(((kind === 'pool' ? PHASE_MS : GOAWAY_PHASE_MS) * pool) / requests));
  ctx.status(`gRPC pool of ${pool} connections on ${vip}; ${late} joins ${formatDuration(JOIN_AFTER_MS)} after it is open`);
  let poolOpen: () => void = () => {};
  const opened = new Promise<void>((r) => (poolOpen = r));
  const probe = ctx.probe(
    {
      target: vip,
      grpc: true,
      grpcMethod: GRPC_METHOD,
      mode,
      requests,
      concurrency: pool,
      streams: POOL_STREAMS,
      intervalMs: interval,
      ...(kind === 'goaway' ? { maxConnAgeMs: CLIENT_AGE_MS } : {}),
    },
    (p) => {
      if ((p.mode === 'keepalive' || p.mode === 'rotate') && p.done >= pool) poolOpen();
    },
  );
  let joinedAt: number | null = null;
  const t0 = Date.now();
  const join = (async () => {
    await Promise.race([opened, probe.then(() => undefined, () => undefined)]);
    await sleep(JOIN_AFTER_MS, ctx.signal);
    if (ctx.aborted) return;
    ctx.status(`${late} joins the pool of ${lb.kind}`);
    await lb.setBackends(targets);
    joinedAt = Date.now() - t0;
  })();
  const [report] = await Promise.all([probe, join]);
  ctx.started.pids.push(...lb.pids.filter((p) => !ctx.started.pids.includes(p)));
  return { report, joinedAt };
}
