/**
 * `pinning` (the default): the same backends behind a layer-4 and a layer-7 balancer, probed with
 * keep-alive and short-lived traffic. Keep-alive pins to one backend per connection through L4 and
 * spreads through L7; short-lived spreads through both. Expected: keepalive-pinning on L4 only.
 */
import { describeKind, l4Kind, l7Kind } from '../balancer-choice.js';
import { targetOf, type LabContext } from '../context.js';
import { connectionsText, sharesText } from '../phrases.js';
import { judge, type LabStep, type Scenario, type ScenarioResult } from '../scenario.js';
import { formatEndpoint } from '../balancers/index.js';

const DEFAULT_PINNING_REQUESTS = 200;

export const pinning: Scenario = {
  name: 'pinning',
  title: 'keep-alive traffic through a layer-4 balancer sticks to one backend per connection',
  fix: 'an L7 (HTTP-aware) balancer, or rotate client connections',
  async run(ctx: LabContext): Promise<ScenarioResult> {
    const { options } = ctx;
    const n = options.backends;
    const backends = await ctx.startBackends(0, n);
    const targets = backends.map(targetOf);
    const names = targets.map((t) => t.name!);
    const c4 = l4Kind(options.family);
    const c7 = l7Kind(options.family);
    const l4 = await ctx.startBalancer(c4.kind, targets);
    const l7 = await ctx.startBalancer(c7.kind, targets);
    const requests = options.requests ?? DEFAULT_PINNING_REQUESTS;
    const concurrency = Math.min(16, n + 1);
    const steps: LabStep[] = [];
    for (const [step, lb, expected, absent] of [
      ['l4', l4, ['keepalive-pinning'], []],
      ['l7', l7, [], ['keepalive-pinning']],
    ] as const) {
      if (ctx.aborted) break;
      ctx.status(`probing the ${step.toUpperCase()} balancer ${formatEndpoint(lb.address)}`);
      const probe = await ctx.probe({ target: formatEndpoint(lb.address), mode: 'both', requests, concurrency });
      steps.push(judge({ name: 'pinning', step, balancer: lb.kind, expected: [...expected], absent: [...absent], checks: [], probe }));
    }
    const [s4, s7] = steps;
    const r4 = s4?.probe ?? null;
    const r7 = s7?.probe ?? null;
    const pinned = r4?.findings.find((f) => f.id === 'keepalive-pinning');
    const found: string[] = [];
    if (r4) {
      found.push(
        pinned
          ? `keepalive-pinning on the L4 balancer: ${connectionsText(r4.modes.keepalive)}; keep-alive shares ${sharesText(r4.modes.keepalive, names)}.`
          : `no keepalive-pinning on the L4 balancer this time (${connectionsText(r4.modes.keepalive)}): not the expected result.`,
      );
    }
    if (r7) {
      const l7pin = r7.findings.some((f) => f.id === 'keepalive-pinning');
      found.push(
        l7pin
          ? 'keepalive-pinning on the L7 balancer too: not the expected result.'
          : `no pinning on the L7 balancer: ${connectionsText(r7.modes.keepalive)}; keep-alive shares ${sharesText(r7.modes.keepalive, names)}${r7.findings.some((f) => f.id === 'l7-proxy') ? ' (l7-proxy: the backends saw the proxy\'s own connections)' : ''}.`,
      );
    }
    return {
      name: 'pinning',
      steps,
      story: {
        title: pinning.title,
        built: [
          `${n} lbdiag whoami backends: ${targets.map((t) => `${t.name} ${formatEndpoint(t)}`).join(', ')}.`,
          `L4 on ${formatEndpoint(l4.address)}: ${describeKind(c4.kind)}.${c4.note ? ` (${c4.note})` : ''}`,
          `L7 on ${formatEndpoint(l7.address)}: ${describeKind(c7.kind)}.`,
          `Each is probed with ${requests} requests over ${concurrency} keep-alive connections, then ${requests} requests on a new connection each.`,
        ],
        naive: r4
          ? [
              `\`curl\` in a loop opens a new connection per request: through the L4 balancer it shows ${sharesText(r4.modes.short, names)}, round robin as configured.`,
              'So the balancer "works", and the application team is told to look elsewhere.',
            ]
          : ['(not measured: the run was interrupted)'],
        found,
        fix: [
          'A layer-4 balancer chooses a backend per TCP connection; a client that keeps its connections open sends all their requests to the backends it happened to get.',
          'Balance requests, not connections: an HTTP-aware (layer-7) virtual server (haproxy mode http, nginx proxy_pass, an L7 Service mesh), or let clients rotate connections (maximum age or requests per connection).',
          `Prove it on your own VIP: lbdiag probe VIP --mode rotate --max-conn-requests 10`,
        ],
      },
      summary: {
        naive: r4 ? `curl loop via L4: ${sharesText(r4.modes.short, names)}` : 'not measured',
        finding: pinned ? `keepalive-pinning on L4 (${sharesText(r4?.modes.keepalive, names)}), none on L7` : 'keepalive-pinning not raised',
        fix: pinning.fix,
      },
    };
  },
};

