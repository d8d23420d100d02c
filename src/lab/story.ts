/**
 * The lab's human output: per scenario the story (what was built, what a naive check shows, the
 * probe report(s), what lbdiag found, the fix, and whether the expected finding appeared), and
 * for `--scenario all` a one-screen summary table.
 */
import type { ChalkInstance } from 'chalk';
import { probeChecked, probeRules, renderProbeReport } from '../probe/report.js';
import type { Finding } from '../core/finding.js';
import { groupFindings } from '../core/grouping.js';
import { findingWhere, makeTable, renderFindings, severityLabel, summaryLine, wrap } from '../core/render.js';
import type { Verbosity } from '../core/output-flags.js';
import { formatDuration, formatPercent } from '../core/units.js';
import type { ProbeMode } from '../probe/record.js';
import type { ModeReport, ProbeReport } from '../probe/summary.js';
import { layerLabel } from './balancer-choice.js';
import type { LabReport } from './run.js';
import type { LabStep, ScenarioResult } from './scenario.js';

export interface StoryRenderOptions {
  chalk: ChalkInstance;
  width: number;
  unicode?: boolean;
  /**
   * normal (default): one screen per scenario, each probe as its summary line, one line per mode
   * and one per finding; verbose: the full probe reports; quiet: summary lines and findings only.
   */
  verbosity?: Verbosity;
  /** --explain: every finding's meaning (full finding blocks). */
  explain?: boolean;
  /** Meanings already printed in this run (shared across scenarios). */
  explained?: Set<string>;
}

/**
 * A titled section, each item wrapped and indented. With `maxItemLines`, an item that wraps to more
 * lines is detail (a full iptables rule, ...): left out and counted, shown with -v.
 */
function section(title: string, lines: string[], o: StoryRenderOptions, maxItemLines = Infinity): string {
  const w = Math.max(40, Math.min(o.width, 120)) - 4;
  const wrapped = lines.map((l) => wrap(l, w).split('\n'));
  const kept = wrapped.filter((l) => l.length <= maxItemLines);
  const body = kept.map((l) => `  ${l.join('\n    ')}`);
  const left = wrapped.length - kept.length;
  if (left) body.push(o.chalk.dim(`  (${left} longer item${left === 1 ? '' : 's'} of detail left out: -v shows ${left === 1 ? 'it' : 'them'})`));
  return `${o.chalk.bold(title)}\n${body.join('\n')}`;
}

function rule(text: string, o: StoryRenderOptions, ch = '─'): string {
  const w = Math.max(40, Math.min(o.width, 120));
  const head = `${ch}${ch}${ch} ${text} `;
  return head + ch.repeat(Math.max(3, w - head.length));
}

function stepVerdict(s: LabStep, chalk: ChalkInstance): string {
  const mark = s.skipped ? chalk.yellow('skipped') : s.ok ? chalk.green('✓') : chalk.red('✗');
  const want: string[] = [];
  if (s.expected.length) want.push(`expected ${s.expected.join(', ')}: ${s.expected.every((id) => s.found.includes(id)) ? 'found' : 'NOT found'}`);
  if (s.absent.length) want.push(`${s.absent.join(', ')} must not appear: ${s.absent.some((id) => s.found.includes(id)) ? 'it DID' : 'it did not'}`);
  for (const c of s.checks) want.push(`${c.what}: ${c.ok ? 'yes' : 'NO'}`);
  if (s.skipped) want.push(s.skipped);
  if (s.probe?.interrupted) want.push('interrupted');
  return `${mark} ${s.step} (${s.balancer}): ${want.join('; ') || 'no expectation'}`;
}

/** One line per probe mode: requests, connections, errors and the backend shares. */
function modeLine(mode: string, m: ModeReport): string {
  const shares = m.backends.map((b) => `${b.name} ${formatPercent(b.share)}`);
  const shown = shares.length > 6 ? [...shares.slice(0, 6), `+${shares.length - 6} more`] : shares;
  return `${mode.padEnd(9)} ${m.requests} requests over ${m.connections} connection${m.connections === 1 ? '' : 's'}, ${m.errors} error${m.errors === 1 ? '' : 's'}: ${shown.join(', ') || 'no backend answered'}`;
}

/** Findings one line each, consequences indented under their cause. */
function findingLines(findings: readonly Finding[], rules: Parameters<typeof groupFindings>[1], o: StoryRenderOptions): string[] {
  const { chalk } = o;
  const lines: string[] = [];
  for (const g of groupFindings(findings, rules)) {
    lines.push(`${severityLabel(g.cause.severity, chalk)} ${g.cause.id}  ${g.cause.title}`);
    for (const c of g.consequences) lines.push(`  ${chalk.dim('→ also:')} ${c.id}  ${c.title}`);
  }
  return lines;
}

/** A probe step in a few lines: summary line, one line per mode, one per finding. */
function compactProbe(p: ProbeReport, o: StoryRenderOptions): string[] {
  const rules = probeRules(p);
  const out = [summaryLine(p.findings, { chalk: o.chalk, rules, checked: probeChecked(p) })];
  if (o.verbosity !== 'quiet') for (const [mode, m] of Object.entries(p.modes) as [ProbeMode, ModeReport][]) out.push(modeLine(mode, m));
  if (p.interrupted) out.push(o.chalk.yellow('interrupted: the report covers what ran before Ctrl-C'));
  if (o.explain && p.findings.length) out.push(renderFindings(p.findings, { chalk: o.chalk, width: o.width, explain: true, explained: o.explained, rules }).trimEnd());
  else out.push(...findingLines(p.findings, rules, o));
  return out;
}

/** Pcap findings in a few lines: one per id (count, the first one's title and filter). */
function compactPcap(findings: readonly Finding[], o: StoryRenderOptions): string[] {
  const out = [summaryLine(findings, { chalk: o.chalk })];
  const byId = new Map<string, Finding[]>();
  for (const f of findings) byId.set(f.id, [...(byId.get(f.id) ?? []), f]);
  for (const [id, fs] of byId) {
    const f = fs[0];
    out.push(`${severityLabel(f.severity, o.chalk)} ${id}${fs.length > 1 ? ` ×${fs.length}` : ''}  ${f.title}${fs.length > 1 ? ' (first)' : ''}`);
    const where = f.filter ?? findingWhere(f);
    if (where) out.push(`  ${o.chalk.dim('open:')} ${where}`);
  }
  return out;
}

/** The scenario's own summary line: did every step show what it should, and what each found. */
export function scenarioLine(r: ScenarioResult, chalk: ChalkInstance): string {
  if (r.skipped) return `${chalk.yellow('skipped')} ${r.name}: ${r.skipped}`;
  if (r.error) return `${chalk.red('✗')} ${r.name}: ${r.error}`;
  const ok = r.steps.every((s) => s.ok);
  const parts = r.steps.map((s) => `${s.step}: ${s.skipped ? 'skipped' : s.found.join(', ') || 'no findings'}`);
  return `${ok ? chalk.green('✓') : chalk.red('✗')} ${r.name}: ${ok ? 'every step showed what it should' : 'a step did NOT show what it should'} (${parts.join('; ')})`;
}

export function renderScenario(r: ScenarioResult, o: StoryRenderOptions): string {
  const { chalk } = o;
  const verbosity = o.verbosity ?? 'normal';
  // --explain alone keeps the compact steps, with every finding in full.
  const full = verbosity === 'verbose';
  const out: string[] = [];
  out.push(chalk.bold(rule(`lab: ${r.name}`, o, '═')));
  out.push(scenarioLine(r, chalk));
  out.push(chalk.bold(r.story.title));
  if (r.skipped) {
    out.push('');
    out.push(section('Skipped', [r.skipped], o));
    out.push('');
    out.push(section('The fix, when you meet it', r.story.fix, o));
    return `${out.join('\n')}\n`;
  }
  if (verbosity !== 'quiet') {
    out.push('');
    out.push(section('What was built', r.story.built, o, full ? Infinity : 3));
    out.push('');
    out.push(section('What a naive check shows', r.story.naive, o));
  }
  for (const s of r.steps) {
    if (full) out.push('');
    // Compact: the rule names the probe's target, so the step can be re-run by hand.
    const target = !full && s.probe ? `lbdiag probe ${s.probe.target.url}: ` : 'probe: ';
    out.push(chalk.dim(rule(`${target}${r.name} / ${s.step}, ${layerLabel(s.balancer)}`, o)));
    if (s.skipped) out.push(`skipped: ${s.skipped}`);
    if (s.probe) {
      if (full) out.push(renderProbeReport(s.probe, { chalk, width: o.width, unicode: o.unicode, verbosity: 'verbose', explain: o.explain, explained: o.explained }).trimEnd());
      else out.push(...compactProbe(s.probe, o));
    }
    if (s.pcap) {
      out.push(chalk.dim(rule(`lbdiag pcap ${s.pcap.file ?? '(no capture)'}`, o)));
      if (s.pcap.skipped) out.push(`not analysed: ${s.pcap.skipped}`);
      else if (full) out.push(renderFindings(s.pcap.findings, { chalk, width: o.width, verbosity, explain: o.explain, explained: o.explained }).trimEnd());
      else if (o.explain && s.pcap.findings.length) out.push(renderFindings(s.pcap.findings, { chalk, width: o.width, explain: true, explained: o.explained }).trimEnd());
      else out.push(...compactPcap(s.pcap.findings, o));
    }
  }
  if (verbosity !== 'quiet') {
    out.push('');
    out.push(section('What lbdiag found', r.story.found, o));
    out.push('');
    out.push(section('The fix', r.story.fix, o));
  }
  out.push('');
  const hint = full ? '' : chalk.dim(` (full probe reports: -v; everything: --json)`);
  out.push(section(`Result${hint}`, r.steps.map((s) => stepVerdict(s, chalk)), o));
  return `${out.join('\n')}\n`;
}

/**
 * The `all` summary, one screen: a row per probe step (scenario, balancer, expected ids, found
 * ids, ✓/✗) and each scenario's wall time on its first row. `times` (ms per scenario) is measured
 * by the caller as the scenarios finish.
 */
export function renderSummary(report: LabReport, o: StoryRenderOptions, times: Partial<Record<string, number>> = {}): string {
  const { chalk } = o;
  // One id per line in the cells so nothing is cut; the columns size to their content.
  const t = makeTable(['scenario', 'balancer', 'expected', 'found', '', 'time'], chalk, { style: { head: [], border: [], compact: true } });
  const mark = (ok: boolean) => (ok ? chalk.green('✓') : chalk.red('✗'));
  for (const row of report.summary) {
    const ms = times[row.scenario];
    const time = ms !== undefined ? formatDuration(ms) : '';
    const steps = report.scenarios.filter((s) => s.name === row.scenario);
    if (row.skipped || row.error || steps.length === 0) {
      const why = row.skipped ? `skipped: ${row.skipped}` : row.error ? `error: ${row.error}` : '-';
      t.push([row.scenario, '-', '-', wrap(why, 40), row.skipped ? chalk.yellow('-') : mark(row.ok), time]);
      continue;
    }
    steps.forEach((s, i) => {
      const checks = s.checks.length ? [`+${s.checks.length} check${s.checks.length === 1 ? '' : 's'}`] : [];
      const want = [...s.expected, ...s.absent.map((id) => `no ${id}`), ...checks].join('\n') || '-';
      const got = s.skipped ? wrap(`skipped: ${s.skipped}`, 30) : s.found.join('\n') || 'none';
      t.push([i === 0 ? row.scenario : '', `${s.step}: ${s.balancer}`, want, got, s.skipped ? chalk.yellow('-') : mark(s.ok), i === 0 ? time : '']);
    });
  }
  const ok = report.summary.filter((s) => s.ok).length;
  const head = chalk.bold(`lbdiag lab: ${ok} of ${report.summary.length} scenarios as expected in ${formatDuration(report.durationMs)}${report.interrupted ? chalk.yellow(' (interrupted)') : ''}`);
  const note = report.summary.some((s) => report.scenarios.some((x) => x.name === s.scenario && x.checks.length)) ? `\n${chalk.dim('checks: see each scenario\'s Result lines (or --json)')}` : '';
  return `${head}\n${t.toString()}${note}\n`;
}
