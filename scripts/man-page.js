#!/usr/bin/env node
// Writes man/lbdiag.1 from the compiled command definitions (dist/src): run by `npm run build`, after
// tsc. The date is SOURCE_DATE_EPOCH's when set (reproducible builds), else today's.
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'man', 'lbdiag.1');
// Up to date when newer than the last compile (tsc -b rewrites its build info only when it emits)
// and than package.json (the version): a no-op build, e.g. the prepare of a first `npx lbdiag` in a
// clone, does not load every command again (0.4 s of CPU).
const mtime = (f) => (existsSync(f) ? statSync(f).mtimeMs : Infinity);
if (existsSync(out) && process.env.SOURCE_DATE_EPOCH === undefined) {
  const built = Math.max(mtime(join(root, 'dist', 'tsconfig.tsbuildinfo')), mtime(join(root, 'package.json')), mtime(fileURLToPath(import.meta.url)));
  if (statSync(out).mtimeMs > built) process.exit(0);
}
const { buildProgram } = await import('../dist/src/cli.js');
const { manPage } = await import('../dist/src/completion/man-page.js');
const { commandSpec } = await import('../dist/src/completion/spec.js');

const { version } = createRequire(import.meta.url)('../package.json');
const epoch = Number(process.env.SOURCE_DATE_EPOCH);
const date = (Number.isFinite(epoch) && epoch > 0 ? new Date(epoch * 1000) : new Date()).toISOString().slice(0, 10);
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, manPage(commandSpec(await buildProgram()), { version, date }));
