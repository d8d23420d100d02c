import { Argument, type Command } from 'commander';
import { createRequire } from 'node:module';
import { action } from '../core/action.js';
import { bashCompletion } from './bash.js';
import { fishCompletion } from './fish.js';
import { commandSpec, type CommandSpec } from './spec.js';
import { zshCompletion } from './zsh.js';

const require = createRequire(import.meta.url);
const { version } = require('../../../package.json') as { version: string };

const SHELLS = {
  bash: bashCompletion,
  zsh: zshCompletion,
  fish: fishCompletion,
} satisfies Record<string, (program: CommandSpec, version: string) => string>;

export type Shell = keyof typeof SHELLS;

/** The completion script for `shell`, from the full program (every subcommand loaded). */
async function completionScript(shell: Shell, buildProgram: () => Promise<Command>): Promise<string> {
  // cli.ts loads only the subcommand named on the command line; completion needs them all.
  return SHELLS[shell](commandSpec(await buildProgram()), version);
}

/** `buildProgram` makes the full program (cli.ts passes its own, so this file does not import cli.ts). */
export function registerCompletion(program: Command, buildProgram: () => Promise<Command>): void {
  program
    .command('completion')
    .description('print the shell completion script for bash, zsh or fish (generated from these commands)')
    .addArgument(new Argument('<shell>', 'bash | zsh | fish').choices(Object.keys(SHELLS)))
    .addHelpText(
      'after',
      `
Install:
  bash  echo 'source <(lbdiag completion bash)' >> ~/.bashrc
  zsh   lbdiag completion zsh > "\${fpath[1]}/_lbdiag"        (then open a new shell; compinit must run)
  fish  lbdiag completion fish > ~/.config/fish/completions/lbdiag.fish`,
    )
    .action(
      action(async (shell: Shell) => {
        process.stdout.write(await completionScript(shell, buildProgram));
      }),
    );
}
