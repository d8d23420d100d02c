import Table from 'cli-table3';
import type { ChalkInstance } from 'chalk';
import { type Finding, type Severity, sortFindings } from './finding.js';

/** Options for human tables: the chalk decides colour; `width` caps wrapped columns. */
export interface RenderOptions {
  chalk: ChalkInstance;
  width?: number;
}

export function severityLabel(s: Severity, chalk: ChalkInstance): string {
  switch (s) {
    case 'error':
      return chalk.red.bold('ERROR');
    case 'warn':
      return chalk.yellow.bold('WARN');
    default:
      return chalk.cyan('INFO');
  }
}

/** A table with lbdiag's look: no colour codes in the borders, so piped output stays clean. */
export function makeTable(head: string[], chalk: ChalkInstance, extra: ConstructorParameters<typeof Table>[0] = {}): Table.Table {
  return new Table({
    head: head.map((h) => chalk.bold(h)),
    style: { head: [], border: [], compact: false },
    ...extra,
  });
}

/** Wraps text at word boundaries to `width` columns (paragraphs on \n kept). */
export function wrap(text: string, width: number): string {
  const out: string[] = [];
  for (const para of text.split('\n')) {
    let line = '';
    for (const word of para.split(/\s+/)) {
      if (!word) continue;
      if (line && line.length + 1 + word.length > width) {
        out.push(line);
        line = word;
      } else line = line ? `${line} ${word}` : word;
    }
    out.push(line);
  }
  return out.join('\n');
}

/**
 * Findings as human text, worst first. Each finding is a block: severity, id and title; the
 * evidence lines; where (stream/frames/filter or mode/backend); what it means; the fix.
 */
export function renderFindings(findings: readonly Finding[], opts: RenderOptions): string {
  const { chalk } = opts;
  const width = Math.max(40, Math.min(opts.width ?? 100, 120));
  if (findings.length === 0) return `${chalk.green('No findings.')}\n`;
  const blocks: string[] = [];
  for (const f of sortFindings(findings)) {
    const lines: string[] = [];
    lines.push(`${severityLabel(f.severity, chalk)} ${chalk.bold(f.id)}  ${f.title}`);
    const where: string[] = [];
    if (f.mode) where.push(`mode ${f.mode}`);
    if (f.backend) where.push(`backend ${f.backend}`);
    if (f.stream !== undefined) where.push(`tcp.stream ${f.stream}`);
    if (f.client && f.server) where.push(`${f.client} -> ${f.server}`);
    if (f.frames && f.frames.length) {
      const shown = f.frames.slice(0, 12).join(',');
      where.push(`frames ${shown}${f.frames.length > 12 ? `,… (${f.frames.length})` : ''}`);
    }
    if (where.length) lines.push(`  ${chalk.dim('where:')}    ${where.join('  ')}`);
    if (f.filter) lines.push(`  ${chalk.dim('filter:')}   ${f.filter}`);
    for (const e of f.evidence) lines.push(`  ${chalk.dim('evidence:')} ${e}`);
    const indent = '            ';
    lines.push(`  ${chalk.dim('meaning:')}  ${wrap(f.explanation, width - 12).split('\n').join(`\n${indent}`)}`);
    lines.push(`  ${chalk.dim('fix:')}      ${wrap(f.remedy, width - 12).split('\n').join(`\n${indent}`)}`);
    blocks.push(lines.join('\n'));
  }
  return `${blocks.join('\n\n')}\n`;
}

/** A one-line-per-finding summary table (id, severity, count, title). */
export function renderFindingSummary(findings: readonly Finding[], opts: RenderOptions): string {
  const { chalk } = opts;
  const groups = new Map<string, { severity: Severity; count: number; title: string }>();
  for (const f of sortFindings(findings)) {
    const g = groups.get(f.id);
    if (g) g.count++;
    else groups.set(f.id, { severity: f.severity, count: 1, title: f.title });
  }
  const t = makeTable(['severity', 'finding', 'count', 'first'], chalk);
  for (const [id, g] of groups) t.push([severityLabel(g.severity, chalk), id, String(g.count), g.title]);
  return `${t.toString()}\n`;
}

/** Stable JSON: two-space indent, trailing newline. */
export function renderJson(doc: unknown): string {
  return `${JSON.stringify(doc, null, 2)}\n`;
}
