/**
 * `source-affinity`: a balancer that picks the backend from a hash of the client address (haproxy
 * `balance source` when installed and chosen, else the builtin layer-4 forwarder hashing the source
 * address). Probed from one address it looks like a single healthy backend (single-backend); with
 * `--source` over ten loopback addresses the probe proves source-affinity with the source x backend
 * matrix; two separate runs over five addresses each, merged, prove it too.
 */
import { startHaproxy } from '../balancers/haproxy.js';
import { startTcpForwarder } from '../balancers/tcp-forwarder.js';
import { formatEndpoint, type Balancer } from '../balancers/index.js';
import { targetOf, type LabContext } from '../context.js';
import { sharesText } from '../phrases.js';
import { judge, type LabStep, type Scenario, type ScenarioResult } from '../scenario.js';
import { ProbeMerger } from '../../merge/merge.js';
import type { ProbeReport } from '../../probe/summary.js';

export const DEFAULT_SOURCE_REQUESTS = 200;

export const sourceAffinity: Scenario = {
  name: 'source-affinity',
  title: 'a balancer hashing the client address: one client always reaches one backend',
  fix: 'balance per connection or request (roundrobin), or probe from many addresses to see it',
  async run(ctx: LabContext): Promise<ScenarioResult> {
    const { options } = ctx;
    const n = options.backends;
    const base = { name: 'source-affinity' as const, steps: [] as LabStep[] };
    if (ctx.address(20) === ctx.address(21)) {
      return { ...base, skipped: 'needs several loopback addresses (Linux: all of 127.0.0.0/8)', story: { title: sourceAffinity.title, built: [], naive: [], found: [], fix: [] }, summary: { naive: 'skipped', finding: 'skipped', fix: sourceAffinity.fix } };
    }
    const backends = await ctx.startBackends(0, n);
    const targets = backends.map(targetOf);
    const names = targets.map((t) => t.name!);
    const host = ctx.address(1);
    let lb: Balancer;
    if (options.family === 'haproxy') {
      const { freePort } = await import('../port-wait.js');
      lb = await startHaproxy({ mode: 'tcp', listen: { host, port: await freePort(host) }, backends: targets, balance: 'source' });
    } else lb = await startTcpForwarder({ listen: { host, port: 0 }, backends: targets, pick: 'source' });
    ctx.defer('source-hashing balancer', () => lb.stop());
    ctx.started.pids.push(...lb.pids);
    ctx.started.listeners.push({ ...lb.address });
    const kind = options.family === 'haproxy' ? 'haproxy-tcp balance source' : 'builtin-l4 source hash';
    const target = formatEndpoint(lb.address);
    const requests = options.requests ?? DEFAULT_SOURCE_REQUESTS;
    const ten = Array.from({ length: 10 }, (_, i) => ctx.address(20 + i));
    const steps: LabStep[] = [];

    ctx.status(`probing ${target} from one address`);
    const one = await ctx.probe({ target, mode: 'short', requests, concurrency: 4 });
    steps.push(judge({ name: 'source-affinity', step: 'one-source', balancer: kind, expected: ['single-backend'], absent: ['source-affinity'], checks: [], probe: one }));

    let many: ProbeReport | null = null;
    if (!ctx.aborted) {
      ctx.status(`probing ${target} with --source ${ten[0]}-${ten[9]}`);
      many = await ctx.probe({ target, mode: 'short', requests, concurrency: 4, sources: ten });
      const matrix = many.modes.short?.sources ?? [];
      steps.push(judge({ name: 'source-affinity', step: 'ten-sources', balancer: kind, expected: ['source-affinity'], absent: [], checks: [{ what: 'every source stayed on one backend', ok: matrix.length === 10 && matrix.every((s) => Object.keys(s.connectionBackends).length === 1) }], probe: many }));
    }

    let merged: ProbeReport | null = null;
    if (!ctx.aborted) {
      ctx.status('two runs over five addresses each, merged');
      const merger = new ProbeMerger();
      for (const [label, srcs] of [['run-a', ten.slice(0, 5)], ['run-b', ten.slice(5)]] as const) {
        const r = await ctx.probe({ target, mode: 'short', requests, concurrency: 4, sources: [...srcs], label });
        merger.add(JSON.parse(JSON.stringify(r)), label);
      }
      merged = merger.finish() as unknown as ProbeReport;
      steps.push(judge({ name: 'source-affinity', step: 'merged', balancer: kind, expected: ['source-affinity'], absent: [], checks: [], probe: merged }));
    }

    const sa = many?.findings.find((f) => f.id === 'source-affinity');
    const rows = many?.modes.short?.sources ?? [];
    return {
      ...base,
      steps,
      story: {
        title: sourceAffinity.title,
        built: [
          `${n} lbdiag whoami backends: ${targets.map((t) => `${t.name} ${formatEndpoint(t)}`).join(', ')}.`,
          `A ${kind} balancer on ${target}: the backend is chosen from the client address.`,
          `Probed with ${requests} short-lived requests from one address, then from ten (--source ${ten[0]}-${ten[9]}), then as two runs of five addresses merged.`,
        ],
        naive: [`\`curl\` in a loop from one machine: ${sharesText(one.modes.short, names)}; it looks like one healthy backend, or a broken pool.`],
        found: sa
          ? [`source-affinity: ${sa.title}.`, ...rows.map((r) => `${r.source} → ${Object.keys(r.connectionBackends).join(', ')}`)]
          : ['source-affinity not raised: not the expected result.'],
        fix: [
          'The balancer hashes the client address (haproxy balance source, nginx ip_hash, IPVS sh, Kubernetes sessionAffinity: ClientIP): a few clients, or many behind a NAT, load a few backends.',
          'If affinity is not wanted, balance round robin / least connections; to see it on your VIP: lbdiag probe VIP --mode short --source 10.0.0.5-10.0.0.20.',
        ],
      },
      summary: {
        naive: `one address: ${sharesText(one.modes.short, names)}`,
        finding: sa ? `source-affinity (${sa.metrics?.pinnedSources} of 10 sources on one backend)` : 'source-affinity not raised',
        fix: sourceAffinity.fix,
      },
    };
  },
};
