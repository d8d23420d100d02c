import type { Command } from 'commander';
import { action } from '../report/action.js';
import { UsageError } from '../report/errors.js';

// Placeholder wiring until the probe subcommand lands (tracked in its issue).
export function registerProbe(program: Command): void {
  program
    .command('probe')
    .description('(not built yet)')
    .action(
      action(() => {
        throw new UsageError('probe is not built yet');
      }),
    );
}
