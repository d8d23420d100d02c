import type { CommandSpec } from './spec.js';

/**
 * man/lbdiag.1 rendered from the same command spec as the completion scripts (so from commander's
 * help text): NAME, SYNOPSIS, DESCRIPTION, one subsection per command with its arguments, options
 * (descriptions, defaults and choices as --help prints them) and its examples, verbatim.
 */

/** Text safe for roff: backslashes escaped, non-ASCII as \[uXXXX] (groff without preconv reads bytes). */
export function roffText(s: string): string {
  return s
    .replace(/\\/g, '\\e')
    .replace(/-/g, '\\-')
    .replace(/[^\x20-\x7e\t]/gu, (c) => `\\[u${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}]`);
}

/** A text line that does not start a request (. or ') by accident. */
function line(s: string): string {
  const t = roffText(s);
  return /^[.']/.test(t) ? `\\&${t}` : t;
}

/** Running text (roff fills it), broken into source lines under 80 columns at spaces. */
function paragraph(s: string): string {
  const out: string[] = [];
  let current = '';
  for (const word of s.replace(/\s+/g, ' ').trim().split(' ')) {
    if (current !== '' && current.length + 1 + word.length > 72) {
      out.push(line(current));
      current = word;
    } else current = current === '' ? word : `${current} ${word}`;
  }
  out.push(line(current));
  return out.join('\n');
}

/** Text shown as-is (examples, tables): no fill, indented; blank lines kept. */
function verbatim(text: string): string[] {
  if (text.trim() === '') return [];
  return ['.RS 4', '.nf', ...text.split('\n').map((l) => (l.trim() === '' ? '' : line(l.replace(/\t/g, '        ')))), '.fi', '.RE'];
}

function bold(s: string): string {
  return `\\fB${roffText(s)}\\fR`;
}

function commandSection(cmd: CommandSpec, title: string): string[] {
  const out = [`.SS ${JSON.stringify(roffText(title))}`, bold(cmd.usage)];
  if (cmd.description !== '') out.push('.PP', paragraph(cmd.description));
  for (const a of cmd.arguments) {
    out.push('.TP', `\\fI${roffText(a.name)}\\fR${a.variadic ? '\\&...' : ''}`, paragraph(a.description || ' '));
  }
  for (const o of cmd.options) {
    const term = o.term.replace(/([<[][^>\]]+[>\]])/g, '\0$1\0').split('\0');
    out.push('.TP', term.map((part, i) => (i % 2 === 1 ? `\\fI${roffText(part)}\\fR` : bold(part))).join(''));
    out.push(paragraph(o.description || ' '));
  }
  if (cmd.helpAfter !== '') out.push('.PP', ...verbatim(cmd.helpAfter));
  return out;
}

export interface ManPageInfo {
  version: string;
  /** YYYY-MM-DD; from SOURCE_DATE_EPOCH when building reproducibly. */
  date: string;
}

export function manPage(program: CommandSpec, info: ManPageInfo): string {
  const name = program.name;
  const commands = program.subcommands.filter((c) => c.name !== 'help');
  const out = [
    `.\\" ${name}(1), generated from \`${name} --help\` (scripts/man-page.js at build time): do not edit.`,
    `.TH ${name.toUpperCase()} 1 ${info.date} "${name} ${roffText(info.version)}" "User Commands"`,
    '.SH NAME',
    `${roffText(name)} \\- ${roffText(program.description)}`,
    '.SH SYNOPSIS',
  ];
  for (const [i, c] of commands.entries()) out.push(...(i > 0 ? ['.br'] : []), bold(c.usage));
  out.push('.br', `${bold(name)} ${bold('help')} [\\fIcommand\\fR]`, '.SH DESCRIPTION');
  out.push(paragraph(`Every command prints its options and examples with --help, as below. Options of ${name} itself:`));
  for (const o of program.options) out.push('.TP', bold(o.term), paragraph(o.description));
  if (program.helpAfter !== '') out.push('.PP', ...verbatim(program.helpAfter));
  out.push('.SH COMMANDS');
  for (const c of commands) out.push(...commandSection(c, `${name} ${c.name}`));
  out.push(
    '.SH SEE ALSO',
    paragraph(`The README and docs/ of the ${name} package (every option and finding, with output from real runs).`),
    '',
  );
  return out.join('\n');
}
