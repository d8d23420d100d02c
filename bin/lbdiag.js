#!/usr/bin/env node
// The installed `lbdiag` command. dist/ is built by `npm install` / `npm run build` in a checkout
// (the `prepare` script) and shipped built in the package tarball.
import { existsSync } from 'node:fs';

const cli = new URL('../dist/src/cli.js', import.meta.url);
if (!existsSync(cli)) {
  const root = new URL('..', import.meta.url).pathname;
  process.stderr.write(`lbdiag: not built: run \`npm install\` (or \`npm run build\`) in ${root}\n`);
  process.exit(2);
}
const { main } = await import(cli.href);
main(process.argv);
