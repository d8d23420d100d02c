/** The human side of a run: the comparison table (ratios) and the raw measurement tables. */
import type { ChalkInstance } from 'chalk';
import { makeTable } from '../src/core/render.js';
import type { Comparison, Results } from './results.js';

/** Two decimals, three when two would round onto the goal and hide which side of it the ratio is. */
export function ratioText(c: Comparison): string {
  if (c.ratio === undefined) return '-';
  const near = c.goal !== undefined && Math.abs(c.ratio - c.goal.value) < 0.005;
  return `${c.ratio.toFixed(near ? 3 : 2)}×`;
}

const fmt = (v: number | undefined, unit: string): string => {
  if (v === undefined) return '-';
  if (unit === 'MiB') return `${v.toFixed(1)} MiB`;
  return `${Math.round(v).toLocaleString('en-US')} ${unit}`;
};

function status(c: Comparison, chalk: ChalkInstance): string {
  switch (c.status) {
    case 'met':
      return chalk.green('met');
    case 'missed':
      return chalk.red('missed');
    case 'skipped':
      return chalk.yellow('skipped');
    default:
      return '';
  }
}

export function renderComparisons(results: Results, chalk: ChalkInstance): string {
  const t = makeTable(['comparison', 'lbdiag', 'anchor', 'ratio', 'per CPU-s', 'goal', ''], chalk);
  for (const c of results.comparisons) {
    t.push([
      `${c.id}\n${chalk.dim(c.subject)}`,
      fmt(c.subjectValue, c.unit),
      `${fmt(c.anchorValue, c.unit)}\n${chalk.dim(c.anchor)}`,
      ratioText(c),
      c.cpuRatio === undefined ? '' : `${c.cpuRatio.toFixed(2)}×`,
      c.goal ? `${c.goal.op} ${c.goal.value}` : '',
      status(c, chalk),
    ]);
  }
  const notes = results.comparisons.filter((c) => c.note).map((c) => `  ${c.id}: ${c.note}`);
  const skipped = results.skipped.map((s) => `  skipped ${s.what}: ${s.reason}`);
  return [t.toString(), ...(notes.length ? ['notes:', ...notes] : []), ...skipped].join('\n') + '\n';
}

/** Markdown version of the comparison table, for pasting into bench/README.md. */
export function renderMarkdown(results: Results): string {
  const rows = ['| comparison | lbdiag | anchor | ratio | per CPU-s | goal | |', '|---|---|---|---|---|---|---|'];
  for (const c of results.comparisons) {
    rows.push(
      `| ${c.id} | ${c.subject}: ${fmt(c.subjectValue, c.unit)} | ${c.anchor}: ${fmt(c.anchorValue, c.unit)} | ${ratioText(c)} | ${c.cpuRatio === undefined ? '' : `${c.cpuRatio.toFixed(2)}×`} | ${c.goal ? `${c.goal.op} ${c.goal.value}` : ''} | ${c.status === 'info' ? '' : c.status} |`,
    );
  }
  return rows.join('\n') + '\n';
}
