import type { Command } from 'commander';
import { action } from '../report/action.js';
import { UsageError } from '../report/errors.js';

// Placeholder wiring until the whoami subcommand lands (tracked in its issue).
export function registerWhoami(program: Command): void {
  program
    .command('whoami')
    .description('(not built yet)')
    .action(
      action(() => {
        throw new UsageError('whoami is not built yet');
      }),
    );
}
