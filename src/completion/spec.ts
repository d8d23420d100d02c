import type { Argument, Command, Option } from 'commander';
import { collect } from '../core/action.js';

/**
 * The command line as commander holds it, walked once into plain data: the completion scripts and
 * the man page are rendered from this, never from hand-written lists, so a new subcommand or option
 * appears in all of them by itself.
 */

/** What a value (of an option or a positional argument) completes to. */
export type ValueKind =
  | { kind: 'none' } // a flag: no value
  | { kind: 'choices'; choices: string[] } // commander .choices([...])
  | { kind: 'file' } // the value's name says it is a file (e.g. <file>, <files...>)
  | { kind: 'command' } // `help [command]`: a subcommand name
  | { kind: 'text' }; // anything else: nothing to complete

export interface OptionSpec {
  /** '--mode', absent for a short-only option. */
  long?: string;
  /** '-m', absent for a long-only option. */
  short?: string;
  /** As commander's help shows it: '-m, --mode <mode>'. */
  term: string;
  /** As commander's help shows it, defaults and choices included. */
  description: string;
  /** The value's name without brackets ('mode'), when the option takes one. */
  valueName?: string;
  value: ValueKind;
  /** Given more than once adds up (collect), e.g. -H on probe and whoami. */
  repeatable: boolean;
}

export interface ArgumentSpec {
  name: string;
  description: string;
  required: boolean;
  variadic: boolean;
  value: ValueKind;
}

export interface CommandSpec {
  name: string;
  description: string;
  /** 'lbdiag probe [options] <vip>' */
  usage: string;
  options: OptionSpec[];
  arguments: ArgumentSpec[];
  subcommands: CommandSpec[];
  /** The text the command adds after its help (examples, exit codes), as --help prints it. */
  helpAfter: string;
}

const VALUE_NAME = /[<[]([^>\]]+)[>\]]/;
const FILE_VALUE = /^(file|files|path|paths|dir)(\.\.\.)?$/i;

function valueKind(valueName: string | undefined, choices: readonly string[] | undefined): ValueKind {
  if (valueName === undefined) return { kind: 'none' };
  if (choices !== undefined && choices.length > 0) return { kind: 'choices', choices: [...choices] };
  if (FILE_VALUE.test(valueName)) return { kind: 'file' };
  return { kind: 'text' };
}

function optionSpec(o: Option, description: string): OptionSpec {
  const valueName = o.isBoolean() ? undefined : VALUE_NAME.exec(o.flags)?.[1];
  return {
    long: o.long ?? undefined,
    short: o.short ?? undefined,
    term: o.flags,
    description,
    valueName,
    value: valueKind(valueName, o.argChoices),
    repeatable: o.variadic || o.parseArg === (collect as unknown),
  };
}

function argumentSpec(a: Argument, description: string, isHelpCommand: boolean): ArgumentSpec {
  const name = a.name();
  const value = isHelpCommand ? { kind: 'command' as const } : valueKind(name + (a.variadic ? '...' : ''), a.argChoices);
  return { name, description, required: a.required, variadic: a.variadic, value };
}

/** What `cmd --help` prints after commander's own part (addHelpText 'after'), captured, not re-typed. */
function helpAfter(cmd: Command): string {
  const saved = cmd.configureOutput();
  let text = '';
  let own = '';
  cmd.configureOutput({ ...saved, writeOut: (s) => (text += s), getOutHelpWidth: () => 100 });
  try {
    cmd.outputHelp();
    own = cmd.helpInformation();
  } finally {
    cmd.configureOutput(saved);
  }
  if (!text.startsWith(own)) throw new Error(`${cmd.name()}: --help does not start with commander's own help text`);
  return text.slice(own.length).replace(/^\n+/, '').trimEnd();
}

/** The spec of `cmd` and its subcommands (commander's implicit `help` command included). */
export function commandSpec(cmd: Command, parents: string[] = []): CommandSpec {
  const help = cmd.createHelp();
  const isHelpCommand = parents.length > 0 && cmd.name() === 'help' && cmd.commands.length === 0;
  const usage = [...parents, cmd.name(), cmd.usage()].join(' ').trim();
  return {
    name: cmd.name(),
    description: help.commandDescription(cmd),
    usage,
    options: help.visibleOptions(cmd).map((o) => optionSpec(o, help.optionDescription(o))),
    arguments: cmd.registeredArguments.map((a) => argumentSpec(a, help.argumentDescription(a), isHelpCommand)),
    subcommands: help.visibleCommands(cmd).map((c) => commandSpec(c, [...parents, cmd.name()])),
    helpAfter: isHelpCommand ? '' : helpAfter(cmd),
  };
}

/** Every option word a shell may complete for a command: '--mode', '-m', ... */
export function optionWords(spec: CommandSpec): string[] {
  return spec.options.flatMap((o) => [o.short, o.long].filter((w): w is string => w !== undefined));
}

/** Options that are followed by a value word. */
export function valueOptions(spec: CommandSpec): OptionSpec[] {
  return spec.options.filter((o) => o.value.kind !== 'none');
}
