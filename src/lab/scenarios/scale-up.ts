/**
 * `scale-up`: a keep-alive pool (a gateway's connections to a Kubernetes Service, say) is running
 * through a layer-4 balancer when a new backend joins. The pool's connections were all made before
 * it existed, so it gets (almost) nothing: late-backend-starved. Then the same traffic with
 * connections retired by age (`--mode rotate --max-conn-age`) reaches it.
 */
import { describeKind, l4Kind } from '../balancer-choice.js';
import { backendName, targetOf, type LabContext } from '../context.js';
import { pct, sharesText } from '../phrases.js';
import { judge, type LabStep, type Scenario, type ScenarioResult } from '../scenario.js';
import { formatEndpoint } from '../balancers/index.js';
import { formatDuration } from '../../core/units.js';
import { sleep } from '../port-wait.js';

const DEFAULT_SCALE_UP_REQUESTS = 240;
/** Keep-alive pool size: more connections than backends, as a real pool has. */
const POOL = 8;
/** Each phase lasts about this long whatever -n is (the pacing adapts). */
const PHASE_MS = 1200;
/** The new backend joins this long after the pool started. */
const JOIN_AFTER_MS = 400;
const MAX_CONN_AGE_MS = 200;

export const scaleUp: Scenario = {
  name: 'scale-up',
  title: 'a backend added while a keep-alive pool runs gets almost nothing until connections are rotated',
  fix: 'a maximum connection age or requests per connection on the client pool',
  async run(ctx: LabContext): Promise<ScenarioResult> {
    const { options } = ctx;
    const n = options.backends;
    const all = await ctx.startBackends(0, n + 1);
    const targets = all.map(targetOf);
    const names = targets.map((t) => t.name!);
    const late = backendName(n);
    const choice = l4Kind(options.family);
    const lb = await ctx.startBalancer(choice.kind, targets.slice(0, n));
    const vip = formatEndpoint(lb.address);
    const requests = options.requests ?? DEFAULT_SCALE_UP_REQUESTS;
    const poolInterval = Math.max(2, Math.round((PHASE_MS * POOL) / requests));
    const steps: LabStep[] = [];

    ctx.status(`keep-alive pool on ${vip}; ${late} joins in ${formatDuration(JOIN_AFTER_MS)}`);
    // The pool must exist before the new backend joins (a gateway's pool made before a scale-up):
    // the join waits until the pool has carried POOL requests (the probe opens every pooled
    // connection before reusing one), not for a fixed time that a slow start could outlast.
    let poolOpen: () => void = () => {};
    const opened = new Promise<void>((r) => (poolOpen = r));
    const pool = ctx.probe({ target: vip, mode: 'both', requests, concurrency: POOL, intervalMs: poolInterval }, (p) => {
      if (p.mode === 'keepalive' && p.done >= POOL) poolOpen();
    });
    let joinedAt: number | null = null;
    const t0 = Date.now();
    const join = (async () => {
      await Promise.race([opened, pool.then(() => undefined, () => undefined)]);
      await sleep(JOIN_AFTER_MS, ctx.signal);
      if (ctx.aborted) return;
      ctx.status(`${late} joins the pool of ${choice.kind}`);
      await lb.setBackends(targets);
      joinedAt = Date.now() - t0;
    })();
    const [poolReport] = await Promise.all([pool, join]);
    ctx.started.pids.push(...lb.pids.filter((p) => !ctx.started.pids.includes(p)));
    const lateShort = poolReport.modes.short?.backends.find((b) => b.name === late)?.share ?? 0;
    const lateKeep = poolReport.modes.keepalive?.backends.find((b) => b.name === late)?.count ?? 0;
    steps.push(
      judge({
        name: 'scale-up',
        step: 'pool',
        balancer: lb.kind,
        expected: ['late-backend-starved'],
        absent: [],
        checks: [{ what: `${late} answers new connections after it joined`, ok: lateShort > 0 }],
        probe: poolReport,
      }),
    );

    let rotateShare = 0;
    if (!ctx.aborted) {
      ctx.status(`the same pool with connections retired after ${formatDuration(MAX_CONN_AGE_MS)}`);
      const rotInterval = Math.max(2, Math.round((PHASE_MS * 4) / requests));
      const rot = await ctx.probe({ target: vip, mode: 'rotate', requests, concurrency: 4, intervalMs: rotInterval, maxConnAgeMs: MAX_CONN_AGE_MS });
      rotateShare = rot.modes.rotate?.backends.find((b) => b.name === late)?.share ?? 0;
      const fair = 1 / (n + 1);
      steps.push(
        judge({
          name: 'scale-up',
          step: 'rotate',
          balancer: lb.kind,
          expected: [],
          absent: ['late-backend-starved'],
          checks: [{ what: `${late} gets at least half its fair share (${pct(fair)}) once connections rotate`, ok: rotateShare >= fair / 2 }],
          probe: rot,
        }),
      );
    }
    const [pStep, rStep] = steps;
    const starved = pStep.probe?.findings.find((f) => f.id === 'late-backend-starved' && f.backend === late) ?? pStep.probe?.findings.find((f) => f.id === 'late-backend-starved');
    const found = [
      starved
        ? `late-backend-starved: ${starved.title}. The pool's ${POOL} connections were opened before ${late} joined; ${late} answered ${lateKeep} of their ${poolReport.modes.keepalive?.ok ?? 0} requests.`
        : `late-backend-starved was not raised this time (${late} answered ${lateKeep} keep-alive requests): not the expected result.`,
    ];
    if (rStep?.probe) {
      found.push(`With connections retired after ${formatDuration(MAX_CONN_AGE_MS)} (${rStep.probe.modes.rotate?.connections ?? 0} connections opened in ${formatDuration(rStep.probe.modes.rotate?.durationMs ?? 0)}): ${sharesText(rStep.probe.modes.rotate, names)}.`);
    }
    return {
      name: 'scale-up',
      steps,
      story: {
        title: scaleUp.title,
        built: [
          `${n} lbdiag whoami backends (${names.slice(0, n).join(', ')}) behind ${describeKind(choice.kind)} on ${vip}.${choice.note ? ` (${choice.note})` : ''}`,
          `A keep-alive pool of ${POOL} connections sends a request every ${formatDuration(poolInterval)} on each (${requests} requests), like a gateway's pool to a Kubernetes Service.`,
          `${formatDuration(JOIN_AFTER_MS)} in, the autoscaler adds ${late} (${formatEndpoint(targets[n])}) to the balancer${lb.kind.startsWith('builtin') ? '' : ' (a reload, as a controller would do)'}${joinedAt !== null ? `; it was in the pool ${formatDuration(joinedAt)} after the start` : ''}.`,
          `Then ${requests} short-lived requests, and finally the same pool with each connection retired after ${formatDuration(MAX_CONN_AGE_MS)} (--mode rotate --max-conn-age).`,
        ],
        naive: [
          `\`curl\` in a loop after the scale-up opens new connections, so it reaches ${late}: ${sharesText(poolReport.modes.short, names)}.`,
          `The new pod is "in the pool" and healthy, yet its CPU graph stays flat while the old pods stay hot.`,
        ],
        found,
        fix: [
          'Connections are balanced when they are opened; a pool that never reconnects never sees a backend added later (nor leaves one removed gracefully).',
          'Give client connections a maximum age or request count: gRPC MAX_CONNECTION_AGE, Envoy max_connection_duration / max_requests_per_connection, fasthttp MaxConnDuration, or a server-side Connection: close after N requests; or use an L7 balancer.',
          `Check it on your own service: lbdiag probe VIP --mode rotate --max-conn-age 2s`,
        ],
      },
      summary: {
        naive: `curl loop after scale-up: ${late} ${pct(lateShort)}`,
        finding: starved ? `late-backend-starved: ${late} ${lateKeep} keep-alive requests; rotate by age: ${late} ${pct(rotateShare)}` : 'late-backend-starved not raised',
        fix: scaleUp.fix,
      },
    };
  },
};
