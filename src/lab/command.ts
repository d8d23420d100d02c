import type { Command } from 'commander';
import { action } from '../report/action.js';
import { UsageError } from '../report/errors.js';

// Placeholder wiring until the lab subcommand lands (tracked in its issue).
export function registerLab(program: Command): void {
  program
    .command('lab')
    .description('(not built yet)')
    .action(
      action(() => {
        throw new UsageError('lab is not built yet');
      }),
    );
}
