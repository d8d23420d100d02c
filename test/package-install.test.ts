/**
 * The package as users get it: `npm pack` (what the registry would receive), then `npm install -g
 * --prefix TMP <tarball>` (runtime dependencies from the npm cache, else the registry, as npm does),
 * then the installed `lbdiag`: --version, its man page, and a short real probe against a whoami it
 * starts itself on 127.0.0.1 (port from the kernel, 20 requests, bounded, stopped by pid).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ROOT, start } from './support/processes.js';
import { npm } from './support/npm.js';

const { version } = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as { version: string };

function jsFiles(dir: string, rel = ''): string[] {
  return readdirSync(path.join(dir, rel), { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? jsFiles(dir, path.join(rel, e.name)) : e.name.endsWith('.js') ? [path.join(rel, e.name)] : [],
  );
}

async function until(what: string, check: () => boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

test('npm pack + npm install -g --prefix: the installed lbdiag runs, has its man page, and probes a whoami', { timeout: 180_000 }, async (t) => {
  const tmp = mkdtempSync(path.join(tmpdir(), 'lbdiag-pack-'));
  t.after(() => rmSync(tmp, { recursive: true, force: true }));

  // dist/ and man/ are built by `npm test`'s build step; --ignore-scripts packs them as they are.
  const [packed] = JSON.parse(npm(['pack', '--ignore-scripts', '--json', '--pack-destination', tmp], ROOT)) as {
    filename: string;
    files: { path: string }[];
  }[];
  const files = packed.files.map((f) => f.path);
  for (const f of ['package.json', 'README.md', 'LICENSE', 'bin/lbdiag.js', 'man/lbdiag.1', 'dist/src/cli.js']) {
    assert.ok(files.includes(f), `${f} is in the tarball`);
  }
  const built = jsFiles(path.join(ROOT, 'dist', 'src')).map((f) => `dist/src/${f.split(path.sep).join('/')}`);
  assert.deepEqual(built.filter((f) => !files.includes(f)), [], 'every built module is in the tarball');
  const dev = files.filter((f) => /^(src|test|bench|fixtures|scripts|\.ci|node_modules)\/|^dist\/(test|bench)\/|\.(map|ts)$|tsbuildinfo|\.tgz$/.test(f));
  assert.deepEqual(dev, [], 'no sources, tests, maps or build state in the tarball');

  const prefix = path.join(tmp, 'prefix');
  npm(['install', '-g', '--prefix', prefix, '--prefer-offline', '--loglevel=error', path.join(tmp, packed.filename)], tmp);
  const lbdiag = path.join(prefix, 'bin', 'lbdiag');
  const installed = path.join(prefix, 'lib', 'node_modules', 'lbdiag');
  assert.ok(existsSync(path.join(prefix, 'share', 'man', 'man1', 'lbdiag.1')), 'npm linked the man page');
  // Production dependencies only: nothing the build or the tests need came along.
  const deps = existsSync(path.join(installed, 'node_modules')) ? readdirSync(path.join(installed, 'node_modules')) : [];
  for (const d of ['commander', 'chalk', 'cli-table3', 'protobufjs', 'selfsigned']) assert.ok(deps.includes(d), `${d} installed`);
  // (@types/node may come along: protobufjs declares it among its own runtime dependencies.)
  for (const d of ['typescript', 'dockerfilelint', 'autocannon', 'undici', 'ajv', '@grpc']) assert.ok(!deps.includes(d), `${d} not installed`);

  const v = spawnSync(lbdiag, ['--version'], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(v.status, 0, v.stderr);
  assert.equal(v.stdout.trim(), version);

  const whoami = start(lbdiag, ['whoami', '-H', '127.0.0.1', '--port', '0', '--name', 'packed-backend', '--drain-delay', '0s']);
  t.after(() => whoami.stop('SIGKILL'));
  await until('the whoami banner', () => /http:\/\/127\.0\.0\.1:\d+/.test(whoami.stdout()) || whoami.child.exitCode !== null);
  const port = /http:\/\/127\.0\.0\.1:(\d+)/.exec(whoami.stdout())?.[1];
  assert.ok(port, `whoami listens: ${whoami.stderr()}`);

  const probe = start(lbdiag, ['probe', `127.0.0.1:${port}`, '-n', '20', '--json', '--fail-on', 'none']);
  const timer = setTimeout(() => void probe.stop('SIGKILL'), 60_000);
  const code = await probe.exited;
  clearTimeout(timer);
  assert.equal(code, 0, probe.stderr());
  const report = JSON.parse(probe.stdout()) as unknown;
  assert.ok(report !== null && typeof report === 'object');
  assert.match(probe.stdout(), /"packed-backend"/, 'the probe names the backend that answered');

  assert.equal(await whoami.stop('SIGTERM'), 0, 'whoami drains and exits 0');
});
