/**
 * The lab's human output: per scenario the story (what was built, what a naive check shows, the
 * probe report(s), what lbdiag found, the fix, and whether the expected finding appeared), and
 * for `--scenario all` a one-screen summary table.
 */
import type { ChalkInstance } from 'chalk';
import { renderProbeReport } from '../probe/report.js';
import { makeTable, renderFindings, wrap } from '../core/render.js';
import { formatDuration } from '../core/units.js';
import { layerLabel } from './balancer-choice.js';
import type { LabReport } from './run.js';
import type { LabStep, ScenarioResult } from './scenario.js';

export interface StoryRenderOptions {
  chalk: ChalkInstance;
  width: number;
  unicode?: boolean;
}

function section(title: string, lines: string[], o: StoryRenderOptions): string {
  const w = Math.max(40, Math.min(o.width, 120)) - 4;
  const body = lines.map((l) => `  ${wrap(l, w).split('\n').join('\n    ')}`);
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

export function renderScenario(r: ScenarioResult, o: StoryRenderOptions): string {
  const { chalk } = o;
  const out: string[] = [];
  out.push(chalk.bold(rule(`lab: ${r.name}`, o, '═')));
  out.push(chalk.bold(r.story.title));
  out.push('');
  if (r.skipped) {
    out.push(section('Skipped', [r.skipped], o));
    out.push('');
    out.push(section('The fix, when you meet it', r.story.fix, o));
    return `${out.join('\n')}\n`;
  }
  out.push(section('What was built', r.story.built, o));
  out.push('');
  out.push(section('What a naive check shows', r.story.naive, o));
  for (const s of r.steps) {
    out.push('');
    out.push(chalk.dim(rule(`probe: ${r.name} / ${s.step}, ${layerLabel(s.balancer)}`, o)));
    if (s.skipped) out.push(`skipped: ${s.skipped}`);
    if (s.probe) out.push(renderProbeReport(s.probe, { chalk, width: o.width, unicode: o.unicode }).trimEnd());
    if (s.pcap) {
      out.push('');
      out.push(chalk.dim(rule(`lbdiag pcap ${s.pcap.file ?? '(no capture)'}`, o)));
      if (s.pcap.skipped) out.push(`not analysed: ${s.pcap.skipped}`);
      else {
        // One finding in full; the rest (often many of one id) by their location.
        const [first, ...rest] = s.pcap.findings;
        out.push(renderFindings(first ? [first] : [], { chalk, width: o.width }).trimEnd());
        if (rest.length) out.push(`(${rest.length} more: ${rest.map((f) => `${f.id}${f.stream !== undefined ? ` tcp.stream ${f.stream}` : ''}`).join(', ')}; all in --json)`);
      }
    }
  }
  out.push('');
  out.push(section('What lbdiag found', r.story.found, o));
  out.push('');
  out.push(section('The fix', r.story.fix, o));
  out.push('');
  out.push(section('Result', r.steps.map((s) => stepVerdict(s, chalk)), o));
  return `${out.join('\n')}\n`;
}

/** The `all` summary: scenario, naive view, lbdiag's finding, fix; one row each. */
export function renderSummary(report: LabReport, o: StoryRenderOptions): string {
  const { chalk } = o;
  const width = Math.max(60, Math.min(o.width, 160));
  // scenario | naive | finding | fix | ok: the text columns share what is left after the fixed ones
  // (borders included), the finding column a little more.
  const rest = width - 16 - 9 - 6;
  const naive = Math.max(18, Math.floor(rest * 0.3));
  const finding = Math.max(24, Math.floor(rest * 0.4));
  const fix = Math.max(18, rest - naive - finding);
  const t = makeTable(['scenario', 'naive view (curl in a loop)', "lbdiag's finding", 'fix', 'ok'], chalk, {
    colWidths: [16, naive, finding, fix, 9],
    wordWrap: true,
  });
  for (const s of report.summary) {
    const ok = s.skipped ? chalk.yellow('skipped') : s.ok ? chalk.green('yes') : chalk.red('NO');
    t.push([s.scenario, s.skipped ? `skipped: ${s.skipped}` : s.naive, s.skipped ? '-' : s.finding, s.fix, ok]);
  }
  const head = chalk.bold(`lbdiag lab: ${report.summary.length} scenarios in ${formatDuration(report.durationMs)}${report.interrupted ? chalk.yellow(' (interrupted)') : ''}`);
  return `${head}\n${t.toString()}\n`;
}
