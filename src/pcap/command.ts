import type { Command } from 'commander';
import { action } from '../report/action.js';
import { UsageError } from '../report/errors.js';

// Placeholder wiring until the pcap subcommand lands (tracked in its issue).
export function registerPcap(program: Command): void {
  program
    .command('pcap')
    .description('(not built yet)')
    .action(
      action(() => {
        throw new UsageError('pcap is not built yet');
      }),
    );
}
