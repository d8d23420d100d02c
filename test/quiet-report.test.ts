/**
 * Issue 14's quieter human reports, on real runs: lbdiag whoami backends a, b, c on loopback
 * behind lbdiag's builtin layer-4 forwarder, probed with --expect-backends a,b,c,d (d never
 * existed); real captures from fixtures/ for pcap; a real `lab` run for the per-scenario screen.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { Chalk } from 'chalk';
import { startWhoami, type WhoamiHandle } from '../src/whoami/server.js';
import { startTcpForwarder, type Balancer } from '../src/lab/balancers/index.js';
import { runProbe } from '../src/probe/run.js';
import { renderProbeReport } from '../src/probe/report.js';
import type { ProbeReport } from '../src/probe/summary.js';
import { runLab } from '../src/lab/run.js';
import { renderScenario, renderSummary } from '../src/lab/story.js';
import { freePort, ROOT, runLbdiag } from './support/processes.js';

const chalk = new Chalk({ level: 0 });
const NAMES = ['a', 'b', 'c'];
const backends: WhoamiHandle[] = [];
let lb: Balancer | undefined;
let vip = '';
let report: ProbeReport;

before(async () => {
  const port = await freePort('127.0.93.2');
  for (let i = 0; i < 3; i++) backends.push(await startWhoami({ host: `127.0.93.${2 + i}`, port, name: NAMES[i], idleTimeoutMs: 60_000 }));
  const lbPort = await freePort('127.0.93.1');
  lb = await startTcpForwarder({ listen: { host: '127.0.93.1', port: lbPort }, backends: NAMES.map((name, i) => ({ host: `127.0.93.${2 + i}`, port, name })) });
  vip = `127.0.93.1:${lbPort}`;
  report = await runProbe({ target: `http://${vip}/`, requests: 120, concurrency: 4, expectBackends: ['a', 'b', 'c', 'd'] });
});

after(async () => {
  await lb?.stop();
  for (const b of backends) await b.close();
});

const count = (text: string, re: RegExp): number => (text.match(re) ?? []).length;
const render = (o: Parameters<typeof renderProbeReport>[1]) => renderProbeReport(report, o);

test('missing backend: one root finding with its imbalance listed under it; JSON keeps every finding', () => {
  const ids = report.findings.map((f) => `${f.id}${f.mode ? `/${f.mode}` : ''}`);
  // The run raised the missing backend, pinning, and an imbalance in short mode that is only d's zero.
  for (const id of ['backend-missing', 'keepalive-pinning/keepalive', 'imbalance/short']) assert.ok(ids.includes(id), ids.join(','));
  const out = render({ chalk, width: 100 });
  const first = out.split('\n')[0];
  assert.match(first, /^2 problems: backend-missing d \(ERROR\), keepalive-pinning keepalive \(WARN\)$/, first);
  // The short-mode imbalance is listed under backend-missing (before the next finding block).
  const block = out.slice(out.indexOf('ERROR backend-missing'), out.indexOf('WARN keepalive-pinning'));
  assert.match(block, /→ WARN imbalance {2}short: /, block);
  assert.equal(count(out, /^WARN imbalance/gm), 0, 'no separate imbalance block by default');
});

test('meaning once per id by default, on every finding with -v and --explain; quiet has no tables', () => {
  const normal = render({ chalk, width: 100 });
  const pinningMeaning = /A layer-4 balancer \(BIG-IP standard TCP virtual server/g;
  assert.equal(count(normal, pinningMeaning), 1);
  // A second report in the same run (lab shares the set): the meaning is not repeated.
  const explained = new Set<string>();
  const twice = render({ chalk, width: 100, explained }) + render({ chalk, width: 100, explained });
  assert.equal(count(twice, pinningMeaning), 1, 'meaning printed once per run');
  const explain = render({ chalk, width: 100, explained: new Set(['keepalive-pinning']), explain: true });
  assert.equal(count(explain, pinningMeaning), 1, '--explain prints it even when already shown');

  const verbose = render({ chalk, width: 100, verbosity: 'verbose' });
  assert.equal(count(verbose, /^ {2}meaning: /gm), report.findings.length, 'every finding in full with its meaning');
  for (const f of report.findings) assert.ok(verbose.includes(f.title), f.title);

  const quiet = render({ chalk, width: 100, verbosity: 'quiet' });
  assert.ok(!/[┌│└]/.test(quiet), quiet);
  assert.equal(count(quiet, /^ {2}meaning: /gm), 0);
  assert.match(quiet.split('\n')[0], /^2 problems: /);
  assert.match(quiet, /^ERROR backend-missing/m);
  assert.ok(quiet.split('\n').length < normal.split('\n').length / 2, `quiet ${quiet.split('\n').length} lines vs ${normal.split('\n').length}`);
});

test('CLI: --quiet and -v on probe; -q with --verbose is a usage error', { timeout: 30_000 }, async () => {
  const q = await runLbdiag(['probe', vip, '-n', '60', '-c', '4', '--expect-backends', 'a,b,c,d', '--quiet'], { timeoutMs: 20_000 });
  assert.equal(q.code, 1, q.stderr);
  assert.match(q.stdout.split('\n')[0], /^\d problems?: backend-missing d \(ERROR\)/);
  assert.ok(!/[┌│└]/.test(q.stdout), q.stdout);
  const bad = await runLbdiag(['pcap', '-q', '-v', path.join(ROOT, 'fixtures', 'fin-retransmit.pcap')]);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--quiet and --verbose are exclusive/);
});

test('pcap: summary line first, one meaning per id over several findings of it, -v repeats it', { timeout: 30_000 }, async () => {
  // TCP findings only (--no-http): the captures' few HTTP requests would add an insufficient-data note.
  const files = ['--no-http', ...['fin-retransmit.pcap', 'fin-retransmit-v6.pcap'].map((f) => path.join(ROOT, 'fixtures', f))];
  const normal = await runLbdiag(['pcap', ...files]);
  assert.equal(normal.code, 1, normal.stderr);
  assert.equal(normal.stdout.split('\n')[0], '1 problem: fin-retransmit ×2 (ERROR)');
  assert.equal(count(normal.stdout, /^ERROR fin-retransmit/gm), 2);
  assert.equal(count(normal.stdout, /^ {2}meaning: /gm), 1);
  const verbose = await runLbdiag(['pcap', '-v', ...files]);
  assert.equal(count(verbose.stdout, /^ {2}meaning: /gm), 2);
  const quiet = await runLbdiag(['pcap', '-q', ...files]);
  assert.ok(!/[┌│└]/.test(quiet.stdout), quiet.stdout);
  const clean = await runLbdiag(['pcap', path.join(ROOT, 'fixtures', 'clean-baseline.pcap')]);
  assert.equal(clean.code, 0, clean.stderr);
  assert.match(clean.stdout.split('\n')[0], /^No problems found \(\d+ TCP connections in [\d,]+ packets checked for fin-retransmit/);
});

test('lab: one screen per scenario by default, full reports with -v, and the summary table', { timeout: 60_000 }, async () => {
  const rendered: string[] = [];
  const verbose: string[] = [];
  const explained = new Set<string>();
  const { report: lab } = await runLab(['pinning'], { family: 'builtin', familyExplicit: false, backends: 3, prefix: '127.0.94' }, {}, (r) => {
    rendered.push(renderScenario(r, { chalk, width: 100, explained }));
    verbose.push(renderScenario(r, { chalk, width: 100, verbosity: 'verbose' }));
  });
  assert.equal(rendered.length, 1);
  const lines = rendered[0].trimEnd().split('\n');
  assert.ok(lines.length <= 50, `${lines.length} lines:\n${rendered[0]}`);
  assert.match(lines[1], /^✓ pinning: every step showed what it should/);
  assert.ok(!/[┌│└]/.test(rendered[0]), 'no tables by default');
  assert.match(verbose[0], /┌/, 'full probe tables with -v');
  assert.ok(verbose[0].split('\n').length > lines.length);
  const table = renderSummary(lab, { chalk, width: 100 }, { pinning: lab.durationMs });
  const rows = table.trimEnd().split('\n');
  assert.match(rows[0], /^lbdiag lab: 1 of 1 scenarios as expected in /);
  assert.match(rows[2], /scenario\s+│ balancer\s+│ expected\s+│ found\s+│\s+│ time/);
  assert.ok(rows.some((r) => /│ pinning\s+│ l4: builtin-l4\s+│ keepalive-pinning\s+│ keepalive-pinning\s+│ ✓ │ \d/.test(r)), table);
  assert.ok(rows.some((r) => /│ l7: builtin-l7\s+│ no keepalive-pinning\s+│ l7-proxy\s+│ ✓ │/.test(r)), table);
  assert.ok(rows.length <= 40 && Math.max(...rows.map((r) => r.length)) <= 100, table);
});
