/**
 * lbdiag merge over real runs: three probes through real haproxy (mode tcp, roundrobin) from three
 * source addresses - one kept-alive connection (pinned by the layer-4 balancer), two with short
 * connections (spread) - merged: totals are the sums, percentiles are within the histogram's stated
 * error of the exact percentiles of the same records, and the pinned client is named.
 * Plus: other schema / command refused with exit 2; 500 inputs in bounded memory.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startHaproxy, haproxyInstalled } from '../src/lab/balancers/index.js';
import { Histogram } from '../src/core/histogram.js';
import { freePort, runLbdiag, start } from './support/processes.js';
import { ROOT } from './support/processes.js';
import { LB_HOST, startBackends } from './balancers-backends.js';
import type { NameServer } from '../src/lab/name-server.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lbdiag-merge-'));
let backends: NameServer[] = [];
before(async () => {
  backends = await startBackends(3);
});
after(async () => {
  await Promise.all(backends.map((b) => b.stop()));
  fs.rmSync(dir, { recursive: true, force: true });
});

function exactQuantile(sorted: number[], q: number): number {
  return sorted[Math.max(1, Math.ceil(q * sorted.length)) - 1];
}

test('merge of three real runs: sums, exact-within-error percentiles, the pinned client', async (t) => {
  if (!haproxyInstalled()) return t.skip('haproxy not installed');
  const port = await freePort(LB_HOST);
  const lb = await startHaproxy({ mode: 'tcp', listen: { host: LB_HOST, port }, backends });
  const runs = [
    { label: 'pinned', args: ['--mode', 'keepalive', '-c', '1', '-n', '60', '--source', '127.0.0.21'] },
    { label: 'spread-a', args: ['--mode', 'short', '-n', '60', '--source', '127.0.0.22'] },
    { label: 'spread-b', args: ['--mode', 'short', '-n', '60', '--source', '127.0.0.23'] },
  ];
  const files: string[] = [];
  const totals: number[] = [];
  try {
    for (const r of runs) {
      const file = path.join(dir, `${r.label}.json`);
      const records = path.join(dir, `${r.label}.ndjson`);
      const p = await runLbdiag(['probe', `${LB_HOST}:${port}`, ...r.args, '--label', r.label, '--json', '--records', records], { timeoutMs: 60_000 });
      assert.ok(p.code === 0 || p.code === 1, p.stderr);
      fs.writeFileSync(file, p.stdout);
      files.push(file);
      for (const line of fs.readFileSync(records, 'utf8').split('\n').filter(Boolean)) {
        const rec = JSON.parse(line) as { totalMs: number; src?: string };
        assert.ok(rec.src, 'records carry the source address');
        totals.push(rec.totalMs);
      }
    }
  } finally {
    await lb.stop();
  }
  const m = await runLbdiag(['merge', ...files, '--json']);
  assert.ok(m.code === 0 || m.code === 1, m.stderr);
  const merged = JSON.parse(m.stdout);
  assert.equal(merged.command, 'merge');
  assert.equal(merged.inputs, 3);
  const docs = files.map((f) => JSON.parse(fs.readFileSync(f, 'utf8')));
  const sum = (mode: string, k: string): number => docs.reduce((s, d) => s + (d.modes[mode]?.[k] ?? 0), 0);
  for (const mode of ['keepalive', 'short']) for (const k of ['requests', 'ok', 'errors', 'connections']) assert.equal(merged.modes[mode][k], sum(mode, k), `${mode}.${k}`);
  // Percentiles over all requests of the three runs vs the exact ones of the same records.
  const all = new Histogram();
  for (const mode of ['keepalive', 'short']) all.mergeJson(merged.modes[mode].histograms.total);
  assert.equal(all.count, totals.length);
  totals.sort((a, b) => a - b);
  for (const q of [0.5, 0.9, 0.99]) {
    const exact = exactQuantile(totals, q);
    const got = all.quantile(q);
    assert.ok(Math.abs(got - exact) <= exact * Histogram.RELATIVE_ERROR + 0.001, `p${q * 100}: merged ${got} vs exact ${exact}`);
  }
  const pinned = merged.findings.find((f: { id: string }) => f.id === 'client-pinned');
  assert.ok(pinned, merged.findings.map((f: { id: string }) => f.id).join(','));
  assert.deepEqual(pinned.metrics.pinned, ['pinned']);
  assert.deepEqual(pinned.metrics.spread.sort(), ['spread-a', 'spread-b']);
  const twice = await runLbdiag(['merge', files[0], files[1], files[0]]);
  assert.equal(twice.code, 2);
  assert.match(twice.stderr, /the same run as .*given twice/);
  const human = await runLbdiag(['merge', ...files], { env: { ...process.env, NO_COLOR: '1' } });
  assert.match(human.stdout, /lbdiag merge 3 runs/);
  assert.match(human.stdout, /client-pinned/);
  // The summary line first; the merged view, not one run's settings ("N requests per mode").
  assert.match(human.stdout.split('\n')[0], /client-pinned/);
  assert.match(human.stdout, /^merged /m);
  assert.doesNotMatch(human.stdout, /^lbdiag probe /m);
});

test('merge refuses another schema, another command, non-JSON: one line, exit 2', async () => {
  const other = path.join(dir, 'other.json');
  fs.writeFileSync(other, JSON.stringify({ schema: 'lbdiag.v0', command: 'probe', modes: {} }));
  const pcap = path.join(dir, 'pcap.json');
  fs.writeFileSync(pcap, JSON.stringify({ schema: 'lbdiag.v1', command: 'pcap', files: [] }));
  const junk = path.join(dir, 'junk.json');
  fs.writeFileSync(junk, '{"schema":');
  for (const [f, re] of [[other, /schema "lbdiag\.v0" is not lbdiag\.v1/], [pcap, /lbdiag pcap, not of lbdiag probe/], [junk, /not JSON/], [path.join(dir, 'missing.json'), /cannot read/]] as const) {
    const r = await runLbdiag(['merge', f]);
    assert.equal(r.code, 2, r.stderr);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, re);
  }
});

test('500 inputs merge under 200 MB RSS', async () => {
  // One real probe document (short and keepalive, 3 backends), copied 500 times with distinct labels.
  const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json') && f.startsWith('spread'));
  let base: Record<string, unknown>;
  if (files.length) base = JSON.parse(fs.readFileSync(path.join(dir, files[0]), 'utf8'));
  else {
    const b = backends[0];
    const p = await runLbdiag(['probe', `${b.host}:${b.port}`, '-n', '40', '--json'], { timeoutMs: 60_000 });
    base = JSON.parse(p.stdout);
  }
  const many = path.join(dir, 'many');
  fs.mkdirSync(many);
  const list: string[] = [];
  for (let i = 0; i < 500; i++) {
    const f = path.join(many, `${i}.json`);
    fs.writeFileSync(f, JSON.stringify({ ...base, client: `c${i}`, startedAt: new Date(Date.parse(base.startedAt as string) + i * 1000).toISOString() }));
    list.push(f);
  }
  // Peak RSS of a separate process doing the merge (getrusage maxrss, in kB on Linux).
  const listFile = path.join(dir, 'list.json');
  fs.writeFileSync(listFile, JSON.stringify(list));
  const mod = path.join(ROOT, 'dist', 'src', 'merge', 'command.js');
  const script = `import fs from 'node:fs'; const { mergeFiles } = await import(${JSON.stringify(mod)}); const r = mergeFiles(JSON.parse(fs.readFileSync(${JSON.stringify(listFile)}, 'utf8'))); process.stdout.write(JSON.stringify({ inputs: r.inputs, short: r.modes.short?.requests, maxRss: process.resourceUsage().maxRSS }));`;
  const p = start(process.execPath, ['--input-type=module', '-e', script]);
  const code = await p.exited;
  assert.equal(code, 0, p.stderr());
  const out = JSON.parse(p.stdout()) as { inputs: number; short: number; maxRss: number };
  const kb = out.maxRss;
  assert.ok(kb > 0 && kb < 200 * 1024, `max RSS ${kb} kB`);
  const merged = { inputs: out.inputs, modes: { short: { requests: out.short } } };
  assert.equal(merged.inputs, 500);
  const one = (base.modes as Record<string, { requests: number }>).short.requests;
  assert.equal(merged.modes.short.requests, 500 * one);
});

test('merge of runs against different single-backend targets: no keepalive-pinning (each client reached one backend), mixed-targets says so', { timeout: 60_000 }, async () => {
  const files: string[] = [];
  for (const [label, b] of [['solo-a', backends[0]], ['solo-b', backends[1]]] as const) {
    const p = await runLbdiag(['probe', `${b.host}:${b.port}`, '-n', '60', '-c', '4', '--json', '--label', label]);
    assert.ok(p.code === 0 || p.code === 1, p.stderr);
    const file = path.join(dir, `${label}.json`);
    fs.writeFileSync(file, p.stdout);
    files.push(file);
  }
  const m = await runLbdiag(['merge', ...files, '--json']);
  assert.ok(m.code === 0 || m.code === 1, m.stderr);
  const merged = JSON.parse(m.stdout);
  const ids = merged.findings.map((f: { id: string }) => f.id);
  assert.ok(!ids.includes('keepalive-pinning'), `no keepalive-pinning: each client's target had one backend (${ids.join(',')})`);
  const mixed = merged.findings.find((f: { id: string }) => f.id === 'mixed-targets');
  assert.ok(mixed, `mixed-targets raised: ${ids.join(',')}`);
  assert.equal(mixed.metrics.targets.length, 2);
});
