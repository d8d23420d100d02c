import type { Command } from 'commander';
import { action } from '../core/action.js';
import { EXIT_FINDINGS, EXIT_INTERRUPTED, EXIT_OK, UsageError } from '../core/errors.js';
import { parseFailOn, reachesFailOn } from '../core/finding.js';
import { onInterrupt } from '../core/interrupt.js';
import { ProgressLine } from '../core/progress.js';
import { renderJson, verbosityFromFlags } from '../core/output-flags.js';
import { formatBytes, formatCount, parseDuration } from '../core/units.js';
import { analyse } from './analyse.js';
import { jsonDocument } from './json.js';
import { parseBackendFrom } from '../probe/identity.js';
import { HTML_OPTION_HELP, checkHtmlPath } from '../html/option.js';
import { parseThreads } from './threads/count.js';

interface PcapOptions {
  json?: boolean;
  html?: string;
  failOn: string;
  stallThreshold: string;
  backendFrom: string;
  http: boolean;
  quiet?: boolean;
  verbose?: boolean;
  explain?: boolean;
  threads?: string;
}

export function registerPcap(program: Command): void {
  program
    .command('pcap')
    .description('Analyse packet captures: FIN retransmits, port-reuse SYN drops, SYN retransmits and stalls (tcp-stall), with Wireshark filters')
    .argument('<files...>', 'pcap or pcapng files (gzip is detected), merged in time order; - reads stdin')
    .option('--json', 'print one JSON document { schema, command, version, startedAt, interrupted, config, findings, files, summary, warnings }')
    .option('--html <file>', HTML_OPTION_HELP)
    .option('--fail-on <severity>', 'exit 1 when a finding is at or above: info, warn, error or none', 'warn')
    .option('-q, --quiet', 'human report: the summary line and the findings only, no tables')
    .option('-v, --verbose', 'human report: every finding in full (all of one id, all evidence, the meaning each time)')
    .option('--explain', 'human report: print each finding\'s meaning every time (by default once per finding id)')
    .option('--stall-threshold <duration>', 'a gap at least this long while waiting on the network is a stall (a bare number is seconds)', '0.9s')
    .option('--backend-from <spec>', 'where an HTTP response names its backend: auto (the probe\'s rules), header:NAME, json:PATH, regex:RE or body', 'auto')
    .option('--no-http', 'TCP analysis only: do not reassemble and parse HTTP/1.x')
    .option('--threads <n>', 'threads: 2 runs the HTTP analysis in a second thread beside TCP (the output is the same; at most 2 are used); auto: the available cores, 1 for inputs under 16 MiB; 1: one thread', 'auto')
    .addHelpText(
      'after',
      `
Examples:
  lbdiag pcap capture.pcapng                       findings with the Wireshark filter that opens each one
  lbdiag pcap a.pcap b.pcap.gz                     several captures, merged in time order (like mergecap)
  tcpdump -i any -w - port 80 | lbdiag pcap -      read a live capture from stdin (Ctrl-C reports)
  lbdiag pcap <(ssh lb1 tcpdump -w - port 80)      pipes and FIFOs by path are read like stdin
  lbdiag pcap --json big.pcap | jq '.findings[].id'
  lbdiag pcap --stall-threshold 300ms --fail-on error lb.pcap
  lbdiag pcap --backend-from header:X-Served-By client.pcap   backend names from a response header
  lbdiag pcap lb.pcap --html lb.html               the report on stdout, and charts in lb.html
  lbdiag pcap --threads 1 big.pcap                 one thread (default auto: two from 16 MiB of input)

Finding ids: fin-retransmit, syn-port-reuse-drop, syn-retransmit, tcp-stall (see README, docs/findings.md); from HTTP/1.x
exchanges the probe's keepalive-pinning, imbalance, single-backend, intermittent-errors, connection-churn, ...
tcp-stall was called stall-1s in lbdiag 0.1, the id the probe keeps for its SYN-retransmit stall.
Exit codes: 0 nothing at or above --fail-on, 1 a finding at or above it, 2 unreadable input,
130 interrupted (the report of what was read is printed first).`,
    )
    .action(
      action(async (files: string[], opts: PcapOptions) => {
        const failOn = parseFailOn(opts.failOn);
        const verbosity = verbosityFromFlags(opts);
        const stallMs = parseDuration(opts.stallThreshold, '--stall-threshold');
        if (!(stallMs > 0)) throw new UsageError('--stall-threshold must be above zero');
        const backendFrom = parseBackendFrom(opts.backendFrom);
        if (opts.html !== undefined) checkHtmlPath(opts.html);
        const threads = parseThreads(opts.threads, files);
        const progress = new ProgressLine();
        const startedAt = new Date();
        const started = startedAt.getTime();
        const controller = new AbortController();
        const off = onInterrupt(() => controller.abort());
        let res;
        try {
          res = await analyse(files, {
            stallThresholdS: stallMs / 1000,
            http: opts.http,
            backendFrom,
            threads,
            signal: controller.signal,
            onProgress: (p) => {
              const el = (Date.now() - started) / 1000;
              if (el < 1) return;
              progress.update(() => {
                const pct = p.totalBytes ? ` ${((100 * p.bytesRead) / p.totalBytes).toFixed(0)}% of ${formatBytes(p.totalBytes)},` : ` ${formatBytes(p.bytesRead)},`;
                return `lbdiag pcap:${pct} ${formatCount(p.packets)} packets, ${formatCount(p.packets / el)}/s`;
              });
            },
          });
        } finally {
          progress.clear();
          off();
        }
        // One document for both outputs: the envelope sorts the findings (worst first) for JSON and humans alike.
        const doc = jsonDocument(res, { startedAt, config: { stallThresholdS: stallMs / 1000, http: opts.http !== false, backendFrom: opts.backendFrom } });
        if (opts.json) process.stdout.write(renderJson(doc));
        else {
          // Loaded only for human output: chalk and the tables are start-up time --json does not need.
          const [{ renderHuman }, { makeChalk }] = await Promise.all([import('./report.js'), import('../core/style.js')]);
          process.stdout.write(renderHuman({ ...res, findings: doc.findings }, makeChalk(process.stdout), process.stdout.columns || 100, { verbosity, explain: opts.explain }));

        }
        if (opts.html !== undefined) await (await import('../html/option.js')).writeHtmlReport(opts.html, doc);
        if (opts.json) for (const w of res.warnings) process.stderr.write(`lbdiag: warning: ${w}\n`);
        if (doc.interrupted) return EXIT_INTERRUPTED;
        return reachesFailOn(doc.findings, failOn) ? EXIT_FINDINGS : EXIT_OK;
      }),
    );
}
