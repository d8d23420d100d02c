import Table from 'cli-table3';
import type { ChalkInstance } from 'chalk';
import { type Finding, type Severity, sortFindings } from './finding.js';
import { type CauseRule, groupFindings } from './grouping.js';
import type { Verbosity } from './output-flags.js';

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

/** Evidence lines shown per finding unless verbose; the rest is counted ("… 3 more"). */
export const EVIDENCE_LINES = 3;
/** Findings of one id shown in full unless verbose (a capture can raise hundreds of one id). */
export const FINDINGS_PER_ID = 5;

export interface FindingsRenderOptions extends RenderOptions {
  /** quiet: no meaning (unless explain); normal: meaning once per id; verbose: everything, every time. */
  verbosity?: Verbosity;
  /** --explain: the meaning on every finding, whatever the verbosity. */
  explain?: boolean;
  /** Meanings already printed in this run (meaningKey; shared across calls: lab prints many reports). */
  explained?: Set<string>;
  /** Related findings grouped under their cause (see core/grouping.ts); default: each on its own. */
  rules?: readonly CauseRule[];
}

/** Where a finding is, on one line: mode, backend, stream, endpoints, frames. */
export function findingWhere(f: Finding): string {
  const where: string[] = [];
  if (f.mode) where.push(`mode ${f.mode}`);
  if (f.backend) where.push(`backend ${f.backend}`);
  if (f.stream !== undefined && f.stream !== null) where.push(`tcp.stream ${f.stream}`);
  if (f.client && f.server) where.push(`${f.client} -> ${f.server}`);
  if (f.frames && f.frames.length) {
    const shown = f.frames.slice(0, 12).join(',');
    where.push(`frames ${shown}${f.frames.length > 12 ? `,… (${f.frames.length})` : ''}`);
  }
  return where.join('  ');
}

/**
 * Which meanings count as "already printed": one per id, except where a detector words the
 * meaning differently for different cases (stall-1s during the handshake vs awaiting the answer;
 * a SYN refused vs unanswered): those are different meanings and each is printed once. Numbers,
 * the backend and the mode are not a different meaning ("no request reached d" vs "... e").
 */
export function meaningKey(f: Finding): string {
  let text = f.explanation;
  for (const s of [f.backend, f.mode]) if (s) text = text.split(s).join('\u0001');
  return `${f.id}\u0000${text.replace(/[0-9][0-9.,]*/g, '#')}`;
}

/** A short name for a finding in summaries: its id and, when it has one, the backend, mode or stream. */
function shortLabel(f: Finding): string {
  const at = f.backend ?? f.mode ?? (f.stream !== undefined && f.stream !== null ? `tcp.stream ${f.stream}` : undefined);
  return at ? `${f.id} ${at}` : f.id;
}

const plainSeverity = (s: Severity): string => (s === 'error' ? 'ERROR' : s === 'warn' ? 'WARN' : 'INFO');

/**
 * The first line of every human report: `2 problems: backend-missing d (ERROR), keepalive-pinning
 * keepalive (WARN)` (worst first; a consequence grouped under its cause is not counted again; one
 * id raised many times is counted with ×N), `1 note: ...` for INFO findings, or `No problems
 * found (<checked>)`.
 */
export function summaryLine(findings: readonly Finding[], opts: { chalk: ChalkInstance; rules?: readonly CauseRule[]; checked?: string }): string {
  const { chalk } = opts;
  const groups = groupFindings(findings, opts.rules ?? []);
  const items = (sev: (s: Severity) => boolean): string[] => {
    const byId = new Map<string, { first: Finding; n: number }>();
    for (const g of groups) {
      if (!sev(g.cause.severity)) continue;
      const key = `${g.cause.id}\u0000${g.cause.severity}`;
      const e = byId.get(key);
      if (e) e.n++;
      else byId.set(key, { first: g.cause, n: 1 });
    }
    // One entry per id unless each names its own backend/mode (backend-missing d, backend-missing e).
    const out: string[] = [];
    for (const { first, n } of byId.values()) {
      if (n === 1) out.push(`${shortLabel(first)} (${plainSeverity(first.severity)})`);
      else {
        const same = groups.filter((g) => g.cause.id === first.id && g.cause.severity === first.severity);
        if (same.length <= 3 && same.every((g) => g.cause.backend || g.cause.mode)) for (const g of same) out.push(`${shortLabel(g.cause)} (${plainSeverity(g.cause.severity)})`);
        else out.push(`${first.id} ×${n} (${plainSeverity(first.severity)})`);
      }
    }
    return out;
  };
  const problems = items((s) => s !== 'info');
  const notes = items((s) => s === 'info');
  const count = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;
  const checked = opts.checked ? ` (${opts.checked})` : '';
  const head = problems.length
    ? chalk.bold(`${count(problems.length, 'problem', 'problems')}: ${problems.join(', ')}`)
    : chalk.green(`No problems found${checked}`);
  const tail = notes.length ? `; ${count(notes.length, 'note', 'notes')}: ${notes.join(', ')}` : '';
  return `${head}${tail}`;
}

/**
 * Findings as human text, worst first, related ones grouped under their cause. Each finding is a
 * block: severity, id and title; where; the evidence (the first EVIDENCE_LINES unless verbose);
 * what it means (once per id per run by default, on every finding with verbose or explain, never
 * in quiet mode unless explain); the fix; then the findings it explains, one line each ("also:").
 */
export function renderFindings(findings: readonly Finding[], opts: FindingsRenderOptions): string {
  const { chalk } = opts;
  const verbosity = opts.verbosity ?? 'normal';
  const verbose = verbosity === 'verbose';
  const explained = opts.explained ?? new Set<string>();
  const width = Math.max(40, Math.min(opts.width ?? 100, 120));
  if (findings.length === 0) return `${chalk.green('No findings.')}\n`;
  const indent = '            ';
  const para = (label: string, text: string): string => `  ${chalk.dim(label.padEnd(9))} ${wrap(text, width - 12).split('\n').join(`\n${indent}`)}`;
  const block = (f: Finding, consequences: Finding[]): string => {
    const lines: string[] = [];
    lines.push(`${severityLabel(f.severity, chalk)} ${chalk.bold(f.id)}  ${f.title}`);
    const where = findingWhere(f);
    if (where) lines.push(`  ${chalk.dim('where:')}    ${where}`);
    if (f.filter) lines.push(`  ${chalk.dim('filter:')}   ${f.filter}`);
    const ev = verbose ? f.evidence : f.evidence.slice(0, EVIDENCE_LINES);
    ev.forEach((e, i) => lines.push(`  ${chalk.dim(i === 0 ? 'evidence:' : '         ')} ${e}`));
    if (ev.length < f.evidence.length) lines.push(`            ${chalk.dim(`… ${f.evidence.length - ev.length} more (-v or --json)`)}`);
    const key = meaningKey(f);
    const showMeaning = verbose || opts.explain || (verbosity === 'normal' && !explained.has(key));
    if (showMeaning) {
      lines.push(para('meaning:', f.explanation));
      explained.add(key);
    }
    lines.push(para('fix:', f.remedy));
    if (consequences.length && !verbose) {
      lines.push(`  ${chalk.dim('also:')}     ${chalk.dim('consequences of this finding (each in --json; -v shows them in full)')}`);
      for (const c of consequences) lines.push(`            ${chalk.dim('→')} ${severityLabel(c.severity, chalk)} ${c.id}  ${c.title}`);
    } else if (consequences.length) lines.push(`  ${chalk.dim('also:')}     ${consequences.map((c) => `${c.id}${c.mode ? ` (${c.mode})` : ''}`).join(', ')}, below`);
    return lines.join('\n');
  };
  const blocks: string[] = [];
  const groups = groupFindings(findings, opts.rules ?? []);
  const perId = new Map<string, Finding[]>();
  for (const g of groups) {
    const shown = perId.get(g.cause.id) ?? [];
    if (!verbose && shown.length >= FINDINGS_PER_ID) {
      shown.push(g.cause);
      perId.set(g.cause.id, shown);
      continue;
    }
    shown.push(g.cause);
    perId.set(g.cause.id, shown);
    blocks.push(block(g.cause, g.consequences));
    if (verbose) for (const c of g.consequences) blocks.push(`${chalk.dim(`(a consequence of ${shortLabel(g.cause)})`)}\n${block(c, [])}`);
  }
  for (const [id, all] of perId) {
    if (all.length <= FINDINGS_PER_ID || verbose) continue;
    const rest = all.slice(FINDINGS_PER_ID);
    const at = rest.map((f) => findingWhere(f).split('  ')[0]).filter(Boolean);
    const list = at.slice(0, 8).join(', ') + (at.length > 8 ? ', …' : '');
    blocks.push(chalk.dim(`… ${rest.length} more ${id}${list ? ` (${list})` : ''}; -v or --json shows them all`));
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
