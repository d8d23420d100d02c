#!/usr/bin/env node
// `prepare` (npm install in a checkout, npm pack, npm install -g . / npm link, and the first `npx lbdiag`
// in a checkout, where npm exec installs the checkout into its cache): build dist/ and the man page.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
/** Written after each successful build here: inputs older than it were built. */
const STAMP = join(root, 'dist', '.prepare-stamp');

/**
 * True when the last build made here is newer than every input: the TypeScript sources under the folders the
 * tsconfig includes, the tsconfig, package.json and the man page generator. The same test `tsc -b`
 * makes, without loading TypeScript (0.3 s of CPU) and starting a shell: a no-op prepare, what the
 * first `npx lbdiag` in a built checkout pays, is then one short node process.
 */
function upToDate() {
  const stamp = (f) => (existsSync(f) ? statSync(f).mtimeMs : undefined);
  if (!existsSync(join(root, 'dist', 'src', 'cli.js')) || !existsSync(join(root, 'man', 'lbdiag.1'))) return false;
  const built = stamp(STAMP) ?? -1;
  if (built < 0) return false;
  const config = JSON.parse(readFileSync(join(root, 'tsconfig.json'), 'utf8'));
  const folders = new Set((config.include ?? []).map((p) => p.split('/')[0]));
  const newer = (dir) =>
    readdirSync(dir, { withFileTypes: true }).some((e) =>
      e.isDirectory() ? e.name !== 'node_modules' && newer(join(dir, e.name)) : /\.[cm]?tsx?$/.test(e.name) && statSync(join(dir, e.name)).mtimeMs > built,
    );
  const files = ['tsconfig.json', 'package.json', 'scripts/man-page.js', 'scripts/prepare.js'].map((f) => join(root, f));
  return !files.some((f) => (stamp(f) ?? Infinity) > built) && ![...folders].some((d) => existsSync(join(root, d)) && newer(join(root, d)));
}

if (upToDate()) process.exit(0);
// `npm install -g .` and `npm link` from a checkout where `npm install` never ran link the folder
// without installing TypeScript or the dependencies: say what to do instead of "tsc: not found".
if (!existsSync(join(root, 'node_modules', 'typescript', 'package.json'))) {
  process.stderr.write(
    `lbdiag: cannot build: run \`npm install\` in ${root} first (it installs TypeScript and the dependencies and builds), then \`npm install -g .\` or \`npm link\`\n`,
  );
  process.exit(1);
}
// tsc -b trusts its build info: when outputs were deleted by hand, build everything again.
if (!existsSync(join(root, 'dist', 'src', 'cli.js'))) rmSync(join(root, 'dist', 'tsconfig.tsbuildinfo'), { force: true });
// The build script itself, as `npm run build` would run it, without starting a second npm.
const { scripts } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
const PATH = [join(root, 'node_modules', '.bin'), process.env.PATH].join(delimiter);
const r = spawnSync('sh', ['-c', scripts.build], { cwd: root, stdio: 'inherit', env: { ...process.env, PATH } });
if (r.status === 0) writeFileSync(STAMP, `${new Date().toISOString()}\n`);
process.exit(r.status ?? 1);
