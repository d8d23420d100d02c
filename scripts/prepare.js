#!/usr/bin/env node
// `prepare` (npm install in a checkout, npm pack, npm install -g . / npm link): build dist/ and the man
// page. `npm install -g .` and `npm link` from a checkout where `npm install` never ran link the folder
// without installing TypeScript or the dependencies; say what to do instead of "tsc: not found".
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
if (!existsSync(join(root, 'node_modules', 'typescript', 'package.json'))) {
  process.stderr.write(
    `lbdiag: cannot build: run \`npm install\` in ${root} first (it installs TypeScript and the dependencies and builds), then \`npm install -g .\` or \`npm link\`\n`,
  );
  process.exit(1);
}
// The build script itself, as `npm run build` would run it, without starting a second npm (0.5 s of
// CPU on every first `npx lbdiag` in a clone, where npm exec runs prepare).
const { scripts } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const PATH = [join(root, 'node_modules', '.bin'), process.env.PATH].join(delimiter);
const r = spawnSync('sh', ['-c', scripts.build], { cwd: root, stdio: 'inherit', env: { ...process.env, PATH } });
process.exit(r.status ?? 1);
