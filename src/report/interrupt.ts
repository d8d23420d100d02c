/**
 * Ctrl-C handling for long work: the first SIGINT/SIGTERM asks the work to stop and report
 * what it gathered; a second one exits at once with 130.
 */
export function onInterrupt(stop: (signal: NodeJS.Signals) => void): () => void {
  let count = 0;
  const handler = (signal: NodeJS.Signals): void => {
    count++;
    if (count > 1) {
      process.stderr.write('\nlbdiag: interrupted again, exiting now\n');
      process.exit(130);
    }
    process.stderr.write(`\nlbdiag: ${signal}, stopping and reporting what was gathered (again to quit at once)\n`);
    stop(signal);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return () => {
    process.off('SIGINT', handler);
    process.off('SIGTERM', handler);
  };
}
