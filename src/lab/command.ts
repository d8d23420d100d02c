import { Option, type Command } from 'commander';
import { action } from '../core/action.js';
import { EXIT_FINDINGS, EXIT_INTERRUPTED, EXIT_OK, UsageError } from '../core/errors.js';
import { onInterrupt } from '../core/interrupt.js';
import { ProgressLine } from '../core/progress.js';
import { renderJson, verbosityFromFlags } from '../core/output-flags.js';
import { makeChalk } from '../core/style.js';
import { formatDuration, parseCount } from '../core/units.js';
import { BALANCER_FAMILIES, requireFamily } from './balancer-choice.js';
import type { LabOptions } from './context.js';
import { runLab } from './run.js';
import { SCENARIO_NAMES, type ScenarioName } from './scenario.js';
import type { BalancerFamily } from './balancer-choice.js';
import { renderScenario, renderSummary } from './story.js';
import { HTML_OPTION_HELP, checkHtmlPath } from '../html/option.js';

interface Flags {
  scenario: string;
  backends: string;
  balancer?: string;
  requests?: string;
  addresses: string;
  json?: boolean;
  html?: string;
  quiet?: boolean;
  verbose?: boolean;
  explain?: boolean;
}

const DEFAULT_ADDRESSES = '127.0.77';

/** Validates the flags into LabOptions and the scenario list; UsageError (exit 2) on bad input. */
function labOptionsFromFlags(f: Flags): { names: ScenarioName[]; options: LabOptions } {
  const names: ScenarioName[] = f.scenario === 'all' ? [...SCENARIO_NAMES] : [f.scenario as ScenarioName];
  const family = (f.balancer ?? 'builtin') as BalancerFamily;
  if (!BALANCER_FAMILIES.includes(family)) throw new UsageError(`invalid --balancer "${f.balancer}" (builtin, haproxy or nginx)`);
  requireFamily(family);
  const m = /^127\.(\d{1,3})\.(\d{1,3})$/.exec(f.addresses);
  if (!m || Number(m[1]) > 255 || Number(m[2]) > 255) throw new UsageError(`invalid --addresses "${f.addresses}" (the first three numbers of a loopback /24, e.g. 127.0.77)`);
  return {
    names,
    options: {
      family,
      familyExplicit: f.balancer !== undefined,
      backends: parseCount(f.backends, '--backends', 2, 12),
      requests: f.requests !== undefined ? parseCount(f.requests, '-n/--requests', 20, 100_000) : undefined,
      prefix: f.addresses,
    },
  };
}

export function registerLab(program: Command): void {
  program
    .command('lab')
    .description('reproduce the classic balancer failures on this machine (loopback only) and diagnose them with the probe')
    .addOption(new Option('-s, --scenario <name>', 'pinning | scale-up | stale-listener | stall | source-affinity | grpc | all').choices([...SCENARIO_NAMES, 'all']).default('pinning'))
    .option('-b, --backends <n>', 'lbdiag whoami backends to start (2 to 12)', '3')
    .option('--balancer <kind>', 'builtin (needs nothing installed) | haproxy | nginx: run the real one with a generated config (default builtin)')
    .option('-n, --requests <n>', 'requests per probe mode (default: each scenario\'s own, 200 to 240)')
    .option('--addresses <prefix>', 'the loopback /24 to use: balancers on .1, backends on .2, .3, ... (ports from the kernel)', DEFAULT_ADDRESSES)
    .option('-q, --quiet', 'per scenario only the summary lines, findings and result (no story, no tables)')
    .option('-v, --verbose', 'the full probe reports (tables, timelines, latency, every finding in full)')
    .option('--explain', 'every finding in full with its meaning (the steps stay compact; -v for the full reports)')
    .option('--json', 'print one JSON document: {schema, command: "lab", version, startedAt, interrupted, config, findings, scenarios: [{name, step, balancer, expected, found, ok, probe}], summary, ...}')
    .option('--html <file>', HTML_OPTION_HELP)
    .addHelpText(
      'after',
      `
Scenarios (each a few seconds):
  pinning         the same backends behind a layer-4 and a layer-7 balancer: keep-alive pins through L4 only
                  (expects keepalive-pinning on L4, none on L7)
  scale-up        a backend joins while a keep-alive pool runs: it is starved (late-backend-starved);
                  rotating connections by age spreads to it
  stale-listener  an old balancer generation still listens on the port and answers 503: about half of the
                  new connections fail (intermittent-errors); real haproxy with SO_REUSEPORT when installed
  stall           needs root and ip netns: a middlebox drops the first SYN of a reused source port; connects
                  take ~1 s (stall-1s); with tcpdump, the capture goes through lbdiag pcap (syn-port-reuse-drop)
  source-affinity a balancer hashing the client address: one source sees one backend (single-backend); ten
                  --source addresses prove it (source-affinity)
  grpc            gRPC (h2c) backends behind L4 and an HTTP/2 L7 balancer: one backend per connection through
                  L4 (keepalive-pinning), calls spread through L7; a backend added under a long-lived pool is
                  starved (late-backend-starved) until the backends send GOAWAY (--max-conn-age)
  all             every scenario in turn, then a one-screen summary

Examples:
  lbdiag lab                                   the pinning story with the builtin balancers, in seconds
  lbdiag lab --scenario all                    every story, then the summary table
  lbdiag lab --balancer haproxy                the same with real haproxy (mode tcp vs mode http)
  lbdiag lab --scenario scale-up --backends 4 -n 400
  lbdiag lab --scenario grpc --balancer haproxy   gRPC through haproxy mode tcp vs mode http + proto h2
  sudo lbdiag lab --scenario stall             network namespace + iptables, capture analysed by lbdiag pcap
  lbdiag lab --json | jq '.scenarios[] | {name, step, found, ok}'
  lbdiag lab --html lab.html                   the story on stdout, the charts of every step in lab.html

Everything the lab starts listens on loopback only and is stopped at the end, on error and on Ctrl-C.
Exit codes: 0 every scenario showed its expected finding; 1 one did not; 2 usage error; 130 interrupted
(Ctrl-C: the scenarios that ran are reported, everything started is stopped).`,
    )
    .action(
      action(async (flags: Flags) => {
        const { names, options } = labOptionsFromFlags(flags);
        if (flags.html !== undefined) checkHtmlPath(flags.html);
        const verbosity = verbosityFromFlags(flags);
        const explained = new Set<string>();
        const times: Partial<Record<string, number>> = {};
        let scenarioStart = Date.now();
        const chalk = makeChalk(process.stdout);
        const width = process.stdout.columns || 100;
        const progress = new ProgressLine();
        const controller = new AbortController();
        const off = onInterrupt(() => controller.abort());
        let status = '';
        const human = !flags.json;
        let run;
        try {
          run = await runLab(
            names,
            options,
            {
              signal: controller.signal,
              onStatus: (text) => {
                status = text;
                progress.update(() => `lab: ${status}`, true);
              },
              onProbeProgress: (p) =>
                progress.update(() => `lab: ${status}: ${p.mode} ${p.done}${p.total !== undefined ? `/${p.total}` : ''} requests, ${formatDuration(p.elapsedMs)}, ${p.backends} backends, ${p.errors} errors`),
            },
            (result) => {
              times[result.name] = Date.now() - scenarioStart;
              scenarioStart = Date.now();
              if (!human) return;
              progress.clear();
              process.stdout.write(`${renderScenario(result, { chalk, width, verbosity, explain: flags.explain, explained })}\n`);
            },
          );
        } finally {
          progress.clear();
          off();
        }
        const { report } = run;
        for (const e of report.cleanupErrors) process.stderr.write(`lbdiag: cleanup: ${e}\n`);
        for (const s of report.summary) if (s.error) process.stderr.write(`lbdiag: lab ${s.scenario}: ${s.error}\n`);
        if (flags.json) process.stdout.write(renderJson(report));
        else if (names.length > 1 || report.interrupted) process.stdout.write(renderSummary(report, { chalk, width }, times));
        if (flags.html !== undefined) await (await import('../html/option.js')).writeHtmlReport(flags.html, report);
        if (report.interrupted) return EXIT_INTERRUPTED;
        return report.ok ? EXIT_OK : EXIT_FINDINGS;
      }),
    );
}
