#!/usr/bin/env node
// Writes man/lbdiag.1 from the compiled command definitions (dist/src): run by `npm run build`, after
// tsc. The date is SOURCE_DATE_EPOCH's when set (reproducible builds), else today's.
import { mkdirSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildProgram } from '../dist/src/cli.js';
import { manPage } from '../dist/src/completion/man-page.js';
import { commandSpec } from '../dist/src/completion/spec.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { version } = createRequire(import.meta.url)('../package.json');
const epoch = Number(process.env.SOURCE_DATE_EPOCH);
const date = (Number.isFinite(epoch) && epoch > 0 ? new Date(epoch * 1000) : new Date()).toISOString().slice(0, 10);
const out = join(root, 'man', 'lbdiag.1');
mkdirSync(dirname(out), { recursive: true });
writeFileSync(out, manPage(commandSpec(await buildProgram()), { version, date }));
