import { Command, CommanderError } from 'commander';
import { createRequire } from 'node:module';
import { EXIT_USAGE, reportError } from './core/errors.js';

const require = createRequire(import.meta.url);
const { version } = require('../../package.json') as { version: string };

type Register = (program: Command) => void;

/**
 * Subcommands are imported only when needed: `lbdiag pcap ...` does not load the probe's HTTP
 * client or the lab, which saves start-up time (it counts in the pcap throughput end to end).
 */
const COMMANDS: Record<string, () => Promise<Register>> = {
  whoami: async () => (await import('./whoami/command.js')).registerWhoami,
  probe: async () => (await import('./probe/command.js')).registerProbe,
  pcap: async () => (await import('./pcap/command.js')).registerPcap,
  lab: async () => (await import('./lab/command.js')).registerLab,
  merge: async () => (await import('./merge/command.js')).registerMerge,
  // completion needs every subcommand: it gets buildProgram rather than importing cli.ts (no cycle).
  completion: async () => {
    const { registerCompletion } = await import('./completion/command.js');
    return (program) => registerCompletion(program, buildProgram);
  },
};

/** The program with every subcommand, or only `only` when given (the one the command line names). */
export async function buildProgram(only?: string): Promise<Command> {
  const program = new Command('lbdiag');
  program
    .description('Why does my load balancer not balance? Evidence and the fix.')
    .version(version, '-V, --version')
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      outputError: (str, write) => write(`lbdiag: ${str.replace(/^error: /, '').trimEnd()}\n`),
    })
    .addHelpText(
      'after',
      `
Examples:
  lbdiag lab                          reproduce keep-alive pinning behind an L4 balancer, in seconds
  lbdiag whoami --port 18088          run on every backend: answers name, process and connection
  lbdiag probe 10.0.0.10:80 -n 300    keep-alive vs short-lived traffic through a VIP, diagnosed
  lbdiag pcap capture.pcapng          FIN retransmits, port-reuse SYN drops, 1-second stalls

Exit codes: 0 no finding at --fail-on, 1 a finding at or above --fail-on, 2 usage or input error,
130 interrupted (Ctrl-C prints the partial report). Durations: a bare number is seconds (250ms, 1.5s, 2m, 1m30s).
Colour follows NO_COLOR / FORCE_COLOR and is off when the output is not a terminal.`,
    );
  const names = only !== undefined && Object.hasOwn(COMMANDS, only) ? [only] : Object.keys(COMMANDS);
  const registers = await Promise.all(names.map((n) => COMMANDS[n]()));
  for (const register of registers) register(program);
  return program;
}

/** `lbdiag ... | head`: the reader went away; stop quietly like any Unix filter, no stack trace. */
function exitQuietlyOnEpipe(stream: NodeJS.WriteStream): void {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
}

export async function main(argv: string[]): Promise<void> {
  exitQuietlyOnEpipe(process.stdout);
  exitQuietlyOnEpipe(process.stderr);
  // The first argument that is not an option names the subcommand (lbdiag has no global
  // options that take a value); anything else (help, a typo, none) loads them all.
  const first = argv.slice(2).find((a) => !a.startsWith('-'));
  let program: Command;
  try {
    program = await buildProgram(first);
  } catch (e) {
    process.exitCode = reportError(e);
    return;
  }
  try {
    await program.parseAsync(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      // help and version exit 0; everything commander rejects is a usage error.
      process.exitCode = e.exitCode === 0 ? 0 : EXIT_USAGE;
      return;
    }
    process.exitCode = reportError(e);
  }
}
