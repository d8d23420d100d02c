/** `lbdiag merge FILES...`: one report over several probe runs' --json documents. */
import fs from 'node:fs';
import type { Command } from 'commander';
import { action } from '../core/action.js';
import { EXIT_FINDINGS, EXIT_OK, UsageError } from '../core/errors.js';
import { parseFailOn, reachesFailOn } from '../core/finding.js';
import { renderJson } from '../core/output-flags.js';
import { makeChalk } from '../core/style.js';
import { formatDuration } from '../core/units.js';
import { renderProbeReport } from '../probe/report.js';
import type { ProbeReport } from '../probe/summary.js';
import { ProbeMerger, type MergeReport } from './merge.js';

/** Reads and adds one file at a time: memory holds one document, not all of them. */
export function mergeFiles(files: readonly string[]): MergeReport {
  if (files.length === 0) throw new UsageError('merge: give at least one probe --json file');
  const merger = new ProbeMerger();
  for (const file of files) {
    let text: string;
    try {
      text = fs.readFileSync(file === '-' ? 0 : file, 'utf8');
    } catch (e) {
      throw new UsageError(`cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (e) {
      throw new UsageError(`${file}: not JSON (${(e as Error).message.split('\n')[0]})`);
    }
    merger.add(doc, file);
  }
  return merger.finish();
}

export function renderMerge(r: MergeReport, chalk: ReturnType<typeof makeChalk>, width: number): string {
  const asProbe = { ...r, command: 'probe', client: 'merged' } as unknown as ProbeReport;
  // The probe report's own header line describes one run's settings: the merged view replaces it.
  const merged = `merged ${r.target.url}  (${r.target.addresses.join(', ')})  ${r.config.concurrency} connections at a time over ${r.clients.length} clients, ${formatDuration(r.durationMs)} wall clock`;
  const body = renderProbeReport(asProbe, { chalk, width, headerLine: merged });
  // Its first line is the summary (what was found): it stays first, above the list of inputs.
  const cut = body.indexOf('\n');
  const lines = [body.slice(0, cut), `${chalk.bold('lbdiag merge')} ${r.inputs} runs, ${r.clients.length} clients, from ${r.startedAt}`];
  for (const c of r.clients) {
    const modes = Object.entries(c.modes).map(([mode, m]) => `${mode} ${m!.ok}/${m!.requests} ok [${Object.entries(m!.backends).sort((a, b) => b[1] - a[1]).map(([k, n]) => `${k} ${n}`).join(', ') || 'none'}]`);
    lines.push(`  ${c.client} (${c.file}, ${c.startedAt}): ${modes.join('; ')}`);
  }
  lines.push(body.slice(cut + 1));
  return `${lines.join('\n')}`;
}

export function registerMerge(program: Command): void {
  program
    .command('merge')
    .description('combine the --json documents of several probe runs (machines, zones, times) into one diagnosis')
    .argument('<files...>', 'lbdiag probe --json outputs (- reads one from stdin)')
    .option('--json', 'print one JSON document instead of tables')
    .option('--fail-on <severity>', 'exit 1 when a finding is at least this severe: info, warn, error, none', 'error')
    .addHelpText(
      'after',
      `
Counts add, latency histograms add bucket by bucket (exact), timelines line up on wall-clock time; every
probe detector runs again on the sum, plus client-pinned (one client on one backend while others spread).
Each input keeps its client label (probe --label, default the host name).

Examples:
  lbdiag merge zone-a.json zone-b.json
  lbdiag merge runs/*.json --json > merged.json
Exit codes: 0 no finding at --fail-on; 1 a finding at or above it; 2 unreadable input, not JSON, another
schema version or a document of another command.`,
    )
    .action(
      action(async (files: string[], flags: { json?: boolean; failOn: string }) => {
        const failOn = parseFailOn(flags.failOn);
        const report = mergeFiles(files);
        if (flags.json) process.stdout.write(renderJson(report));
        else process.stdout.write(renderMerge(report, makeChalk(process.stdout), process.stdout.columns || 100));
        return reachesFailOn(report.findings, failOn) ? EXIT_FINDINGS : EXIT_OK;
      }),
    );
}
