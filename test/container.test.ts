/**
 * The Dockerfile, without a Docker engine (none here, and images cannot be pulled): dockerfilelint
 * (a devDependency) passes it and fails a known-bad file; its shape is what the image promises
 * (multi-stage node:20-slim, production dependencies only, non-root, tini); and the command the
 * image runs (ENTRYPOINT + CMD), then the Kubernetes manifest's args, run here on 127.0.0.1 and
 * answer, and drain on SIGTERM through tini when tini is installed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePort, hasCommand, LBDIAG, ROOT, start } from './support/processes.js';
import { npm } from './support/npm.js';

const DOCKERFILE = path.join(ROOT, 'Dockerfile');
const LINT = path.join(ROOT, 'node_modules', 'dockerfilelint', 'bin', 'dockerfilelint');

interface Instruction {
  op: string;
  args: string;
}

/** Instructions with continuation lines joined and comments dropped. */
function instructions(text: string): Instruction[] {
  return text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const [op, ...rest] = l.split(/\s+/);
      return { op: op.toUpperCase(), args: rest.join(' ') };
    });
}

function lint(file: string): { code: number | null; issues: number; out: string } {
  const r = spawnSync(process.execPath, [LINT, '-j', file], { encoding: 'utf8', timeout: 30_000 });
  const report = JSON.parse(r.stdout) as { files: { issues_count: number }[] };
  return { code: r.status, issues: report.files[0].issues_count, out: r.stdout };
}

function get(port: number, urlPath: string): Promise<{ status: number; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: urlPath, agent: false, timeout: 5000 }, (res) => {
      res.resume().on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

test('dockerfilelint passes the Dockerfile and fails a bad one', (t) => {
  const good = lint(DOCKERFILE);
  assert.equal(good.code, 0, good.out);
  assert.equal(good.issues, 0, good.out);
  const dir = mkdtempSync(path.join(tmpdir(), 'lbdiag-docker-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const bad = path.join(dir, 'Dockerfile');
  writeFileSync(bad, 'FROM node:20-slim\nRUN apt-get install tini\nEXPOSE http\n');
  const r = lint(bad);
  assert.notEqual(r.code, 0);
  assert.ok(r.issues >= 2, r.out);
});

test('the image: two node:20-slim stages, production dependencies only, non-root, under tini', () => {
  const all = instructions(readFileSync(DOCKERFILE, 'utf8'));
  const froms = all.filter((i) => i.op === 'FROM');
  assert.ok(froms.length >= 2, 'multi-stage');
  for (const f of froms) assert.match(f.args, /^node:20-slim\b/);
  const final = all.slice(all.lastIndexOf(froms[froms.length - 1]));
  const build = all.slice(0, all.lastIndexOf(froms[froms.length - 1]));
  assert.ok(build.some((i) => i.op === 'RUN' && /npm ci --omit=dev/.test(i.args)), 'production dependencies only');
  assert.ok(build.some((i) => i.op === 'RUN' && /npm pack/.test(i.args)), 'the image holds what npm pack ships');
  const copies = final.filter((i) => i.op === 'COPY');
  assert.ok(copies.length > 0 && copies.every((c) => /--from=/.test(c.args)), 'the final stage copies only from the build stage');
  const user = final.filter((i) => i.op === 'USER').pop();
  assert.ok(user !== undefined && !/^(root|0)(:|$)/.test(user.args), 'runs as a non-root user');
  const entrypoint = JSON.parse(final.find((i) => i.op === 'ENTRYPOINT')!.args) as string[];
  assert.match(entrypoint[0], /tini$/);
  assert.ok(final.some((i) => i.op === 'RUN' && /apt-get install .*\btini\b/.test(i.args)), 'tini is installed in the image');
  const ignore = readFileSync(path.join(ROOT, '.dockerignore'), 'utf8').split('\n');
  for (const p of ['node_modules', 'dist', '.git']) assert.ok(ignore.includes(p), `.dockerignore: ${p}`);
});

test('the build stage\'s packing steps work here: npm pack, unpack, npm ci --omit=dev from the lock file', { timeout: 180_000 }, (t) => {
  const run = instructions(readFileSync(DOCKERFILE, 'utf8')).find((i) => i.op === 'RUN' && /npm pack/.test(i.args))!.args;
  // The same steps, in a temporary directory instead of /tmp and /pkg (dist/ is built by npm test).
  assert.match(run, /npm pack --ignore-scripts/);
  assert.match(run, /tar -xzf \S+ -C \/pkg --strip-components=1/);
  assert.match(run, /npm ci --omit=dev --ignore-scripts/);
  const dir = mkdtempSync(path.join(tmpdir(), 'lbdiag-image-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const [packed] = JSON.parse(npm(['pack', '--ignore-scripts', '--json', '--pack-destination', dir], ROOT)) as { filename: string }[];
  const pkg = path.join(dir, 'pkg');
  mkdirSync(pkg);
  assert.equal(spawnSync('tar', ['-xzf', path.join(dir, packed.filename), '-C', pkg, '--strip-components=1']).status, 0);
  copyFileSync(path.join(ROOT, 'package-lock.json'), path.join(pkg, 'package-lock.json'));
  npm(['ci', '--omit=dev', '--ignore-scripts', '--prefer-offline', '--loglevel=error'], pkg);
  const deps = readdirSync(path.join(pkg, 'node_modules'));
  for (const d of ['commander', 'chalk', 'cli-table3']) assert.ok(deps.includes(d), `${d} installed`);
  // (@types/node may come along: protobufjs declares it among its own runtime dependencies.)
  for (const d of ['typescript', 'dockerfilelint', 'autocannon', 'undici', 'ajv', '@grpc']) assert.ok(!deps.includes(d), `${d} not in the image`);
  // /usr/local/bin/lbdiag is a symlink to bin/lbdiag.js: it must be executable as packed.
  const v = spawnSync(path.join(pkg, 'bin', 'lbdiag.js'), ['--version'], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(v.status, 0, v.stderr);
  assert.match(v.stdout, /^\d+\.\d+\.\d+/);
});

/**
 * The image's ENTRYPOINT as a command here: tini (when installed here) then lbdiag from this
 * checkout (the image holds the same files, packed), and its CMD.
 */
function image(): { command: string; prefix: string[]; cmd: string[]; viaTini: boolean } {
  const all = instructions(readFileSync(DOCKERFILE, 'utf8'));
  const entrypoint = JSON.parse(all.filter((i) => i.op === 'ENTRYPOINT').pop()!.args) as string[];
  const cmd = JSON.parse(all.filter((i) => i.op === 'CMD').pop()!.args) as string[];
  const at = entrypoint.indexOf('lbdiag');
  assert.ok(at >= 0, 'the entrypoint runs lbdiag');
  const lbdiag = [process.execPath, LBDIAG, ...entrypoint.slice(at + 1)];
  return hasCommand('tini')
    ? { command: 'tini', prefix: [...entrypoint.slice(1, at), ...lbdiag], cmd, viaTini: true }
    : { command: lbdiag[0], prefix: lbdiag.slice(1), cmd, viaTini: false };
}

/** The manifest's container args (the list under `args:`), comments skipped. */
function manifestArgs(): string[] {
  const lines = readFileSync(path.join(ROOT, 'deploy', 'kubernetes', 'whoami.yaml'), 'utf8').split('\n');
  const at = lines.findIndex((l) => /^\s+args:\s*$/.test(l));
  assert.ok(at >= 0, 'the manifest has args');
  const args: string[] = [];
  for (const l of lines.slice(at + 1)) {
    if (/^\s*#/.test(l)) continue;
    const m = /^\s+- (.+)$/.exec(l);
    if (m === null) break;
    args.push(m[1].trim());
  }
  return args;
}

/**
 * Runs the image's entrypoint with `args` plus only the listening address changed (127.0.0.1 and a
 * free port: the last --port wins) and a 1s drain; checks it answers, then SIGTERM (to tini when
 * the image has it) must reach lbdiag: /health turns 503 (the drain) and the exit code is 0.
 */
async function runsAndDrains(args: string[], env: Record<string, string>, expectName: string): Promise<void> {
  const { command, prefix, viaTini } = image();
  const port = await freePort('127.0.0.1');
  const p = start(command, [...prefix, ...args, '-H', '127.0.0.1', `--port=${port}`, '--drain-delay=1s'], {
    env: { ...process.env, ...env },
  });
  try {
    const health = async (): Promise<number> => (await get(port, '/health').catch(() => ({ status: 0 }))).status;
    await until('/health 200', async () => (await health()) === 200 || p.child.exitCode !== null);
    assert.equal(p.child.exitCode, null, p.stderr());
    const r = await get(port, '/');
    assert.equal(r.status, 200);
    assert.equal(r.headers['x-lbdiag-backend'], expectName);
    p.child.kill('SIGTERM');
    await until('the drain (/health 503)', async () => (await health()) === 503);
    const timer = setTimeout(() => void p.stop('SIGKILL'), 15_000);
    assert.equal(await p.exited, 0, `drained and exited 0 (${viaTini ? 'through tini' : 'tini not installed here'}): ${p.stderr()}`);
    clearTimeout(timer);
  } finally {
    await p.stop('SIGKILL');
  }
}

test('the image command (ENTRYPOINT + CMD) serves on loopback and drains on SIGTERM', async () => {
  await runsAndDrains(image().cmd, { POD_NAME: 'image-default' }, 'image-default');
});

test('the Kubernetes manifest args run with the image and name the pod', async () => {
  const args = manifestArgs();
  assert.equal(args[0], 'whoami');
  await runsAndDrains(args, { POD_NAME: 'lbdiag-whoami-7d9f-abcde' }, 'lbdiag-whoami-7d9f-abcde');
});
