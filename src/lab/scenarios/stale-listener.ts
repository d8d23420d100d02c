/**
 * `stale-listener`: two generations of a balancer share the listening port, the old one answering
 * 503 (an haproxy reload with SO_REUSEPORT whose old process never exited). The kernel hashes each
 * new connection to one listener, so fresh connections fail about half the time, while a keep-alive
 * connection keeps the generation it landed on. Real haproxy when chosen (or, with no --balancer,
 * when installed); otherwise the builtin stand-in (stale-generations.ts).
 */
import { haproxyInstalled, formatEndpoint } from '../balancers/index.js';
import { describeKind } from '../balancer-choice.js';
import { targetOf, type LabContext } from '../context.js';
import { errorsText, pct } from '../phrases.js';
import { judge, type Scenario, type ScenarioResult } from '../scenario.js';
import { startStaleGenerations } from '../stale-generations.js';

const DEFAULT_STALE_REQUESTS = 200;

export const staleListener: Scenario = {
  name: 'stale-listener',
  title: 'an old balancer process still listens on the port after a reload: about half of the new connections get 503',
  fix: 'find and stop the stale listener (ss -ltnp), hard-stop-after / master-worker reloads',
  async run(ctx: LabContext): Promise<ScenarioResult> {
    const { options } = ctx;
    const n = options.backends;
    const backends = await ctx.startBackends(0, n);
    const targets = backends.map(targetOf);
    const useHaproxy = options.family === 'haproxy' || (!options.familyExplicit && haproxyInstalled());
    let kind: string;
    let vip: string;
    let note = '';
    if (useHaproxy) {
      const lb = await ctx.startBalancer('haproxy-stale', targets);
      kind = lb.kind;
      vip = formatEndpoint(lb.address);
    } else {
      const host = ctx.address(1);
      ctx.status(`starting two builtin balancer generations on ${host}`);
      const pair = await startStaleGenerations({ listen: { host, port: 0 }, backends: targets });
      ctx.defer('builtin stale generations', () => pair.stop());
      ctx.started.listeners.push({ ...pair.address }, { ...pair.generations.old }, { ...pair.generations.new });
      kind = pair.kind;
      vip = formatEndpoint(pair.address);
      note =
        'Node before 22.12 cannot bind two listeners to one port (no `reusePort`), so a front listener does the kernel\'s part: it hashes each new connection\'s address and port to a generation.' +
        (options.family === 'nginx' ? ' (nginx reloads leave stale workers the same way; this scenario uses the builtin pair with --balancer nginx.)' : '') +
        (!haproxyInstalled() ? ' With haproxy installed, `--balancer haproxy` shows it with two real processes.' : '');
    }
    const requests = options.requests ?? DEFAULT_STALE_REQUESTS;
    ctx.status(`probing ${vip}`);
    const probe = await ctx.probe({ target: vip, mode: 'both', requests, concurrency: 4 });
    const short = probe.modes.short;
    const rate = short && short.requests ? short.errors / short.requests : 0;
    const step = judge({
      name: 'stale-listener',
      step: 'fresh',
      balancer: kind,
      expected: ['intermittent-errors'],
      absent: [],
      checks: [{ what: 'fresh connections fail about half the time (30% to 70%)', ok: rate >= 0.3 && rate <= 0.7 }],
      probe,
    });
    const keep = probe.modes.keepalive;
    const keepConns = keep?.perConnection ?? [];
    const failedConns = keepConns.filter((c) => c.errors > 0 && c.errors === c.requests).length;
    const cleanConns = keepConns.filter((c) => c.errors === 0).length;
    const mixedConns = keepConns.length - failedConns - cleanConns;
    const f = probe.findings.find((x) => x.id === 'intermittent-errors' && x.mode === 'short') ?? probe.findings.find((x) => x.id === 'intermittent-errors');
    return {
      name: 'stale-listener',
      steps: [step],
      story: {
        title: staleListener.title,
        built: [
          `${n} lbdiag whoami backends (${targets.map((t) => t.name).join(', ')}).`,
          `On ${vip}: ${describeKind(kind)}.`,
          ...(note ? [note] : []),
          `Probed with ${requests} requests over 4 keep-alive connections, then ${requests} on a new connection each.`,
        ],
        naive: [
          `\`curl\` in a loop: ${errorsText(short)}, the rest answered by the backends; every backend answers when curled directly and the balancer's config and stats show all servers up.`,
          'It looks like random flakiness: retry and it works, so it is blamed on the network or the application.',
        ],
        found: [
          f ? `intermittent-errors: ${f.title}.` : 'intermittent-errors was not raised: not the expected result.',
          ...(f?.evidence.filter((e) => /1 in|SO_REUSEPORT|on new connections/.test(e)) ?? []),
          keep
            ? `Keep-alive connections keep the generation they landed on: ${failedConns} of ${keepConns.length} got only 503s, ${cleanConns} only answers${mixedConns ? `, ${mixedConns} both` : ''} (${errorsText(keep)}).`
            : '',
        ].filter(Boolean),
        fix: [
          'With SO_REUSEPORT the kernel spreads new connections over every process listening on the port, so 1 in N fail when one of N listeners is stale.',
          "List the listeners on the balancer host: ss -ltnp 'sport = :PORT'. More processes than expected are leftovers from reloads: stop them. Prevent it with haproxy's master-worker mode and hard-stop-after (or nginx's graceful reload finishing), and alert on the number of listeners.",
        ],
      },
      summary: {
        naive: `curl loop: ${pct(rate)} of requests get 503, looks random`,
        finding: f ? `intermittent-errors: ${pct(rate)} of fresh connections fail${f.metrics?.oneInN ? ` (about 1 in ${f.metrics.oneInN})` : ''}` : 'intermittent-errors not raised',
        fix: staleListener.fix,
      },
    };
  },
};
