/**
 * lbdiag merge over several client machines, made real with network namespaces: three client
 * namespaces, each with its own address, reach one balancer namespace whose iptables DNAT rules
 * spread a VIP over three `lbdiag whoami` backends (on the balancer namespace's own addresses).
 * Each client runs a real `lbdiag probe --json --mode short --label <ns>` at the VIP; their
 * outputs are merged with `lbdiag merge`.
 *   - VIP 1: `-m statistic --mode random --probability` rules (per connection, like kube-proxy's
 *     iptables mode): every client reaches several backends, merge raises no source-affinity and
 *     no client-pinned.
 *   - VIP 2: one DNAT rule per client address (what source affinity is: the backend is a function
 *     of the source address): merge raises source-affinity (clients count as sources in short
 *     mode) and no client-pinned (no client is held while others spread).
 * Both merged documents validate against schema/lbdiag-v1.schema.json.
 * Everything is created inside namespaces named with this test's pid (veth pairs are created
 * in the namespaces with `ip -n`, never in the root namespace) and torn down in `after`; the root
 * namespace's firewall, routes and sysctls are never touched. Skipped, with the reason, without
 * root / iproute2 / iptables / namespaces.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { canUseNetns } from '../src/lab/netns.js';
import { findBinary, runSync } from '../src/lab/tools.js';
import { LBDIAG, ROOT, runLbdiag, start, type Started } from './support/processes.js';
import { mustRun as must } from './support/must-run.js';
import { until } from './support/whoami-process.js';

const check = canUseNetns();
const tag = `lbm${process.pid}`;
const LB_NS = `${tag}-lb`;
const CLIENTS = [1, 2, 3].map((i) => ({ ns: `${tag}-c${i}`, addr: `10.77.${i}.2`, gw: `10.77.${i}.1`, lbIf: `${tag}l${i}`, cIf: `${tag}c${i}` }));
const BACKENDS = [1, 2, 3].map((i) => ({ addr: `10.99.0.${i}`, name: `backend-${i}` }));
const BACKEND_PORT = 8080;
const VIP_RANDOM = '10.99.9.1';
const VIP_SOURCE = '10.99.9.2';
const schema = JSON.parse(fs.readFileSync(path.join(ROOT, 'schema', 'lbdiag-v1.schema.json'), 'utf8')) as Record<string, unknown>;
const validate = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true, validateFormats: false }).compile(schema);
const namespaces: string[] = [];
const servers: Started[] = [];
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lbdiag-merge-netns-'));


const ip = (...args: string[]): string => must(findBinary('ip')!, args);
const inNs = (ns: string, cmd: string, ...args: string[]): string => ip('netns', 'exec', ns, cmd, ...args);

before(async () => {
  if (!check.ok) return;
  const iptables = findBinary('iptables')!;
  for (const ns of [LB_NS, ...CLIENTS.map((c) => c.ns)]) {
    ip('netns', 'add', ns);
    namespaces.push(ns);
    ip('-n', ns, 'link', 'set', 'lo', 'up');
  }
  for (const b of BACKENDS) ip('-n', LB_NS, 'addr', 'add', `${b.addr}/32`, 'dev', 'lo');
  for (const c of CLIENTS) {
    // Both veth ends are created inside namespaces: nothing appears in the root namespace.
    ip('-n', LB_NS, 'link', 'add', c.lbIf, 'type', 'veth', 'peer', 'name', c.cIf, 'netns', c.ns);
    ip('-n', LB_NS, 'addr', 'add', `${c.gw}/24`, 'dev', c.lbIf);
    ip('-n', LB_NS, 'link', 'set', c.lbIf, 'up');
    ip('-n', c.ns, 'addr', 'add', `${c.addr}/24`, 'dev', c.cIf);
    ip('-n', c.ns, 'link', 'set', c.cIf, 'up');
    ip('-n', c.ns, 'route', 'add', 'default', 'via', c.gw);
  }
  const nat = (...rule: string[]): string => inNs(LB_NS, iptables, '-w', '-t', 'nat', '-A', 'PREROUTING', '-p', 'tcp', ...rule);
  // VIP 1, per connection at random: 1/3, then 1/2 of the rest, then the rest (kube-proxy's form).
  nat('-d', VIP_RANDOM, '--dport', '80', '-m', 'statistic', '--mode', 'random', '--probability', '0.33333', '-j', 'DNAT', '--to-destination', `${BACKENDS[0].addr}:${BACKEND_PORT}`);
  nat('-d', VIP_RANDOM, '--dport', '80', '-m', 'statistic', '--mode', 'random', '--probability', '0.5', '-j', 'DNAT', '--to-destination', `${BACKENDS[1].addr}:${BACKEND_PORT}`);
  nat('-d', VIP_RANDOM, '--dport', '80', '-j', 'DNAT', '--to-destination', `${BACKENDS[2].addr}:${BACKEND_PORT}`);
  // VIP 2, by source address: client i always to backend i.
  CLIENTS.forEach((c, i) => nat('-d', VIP_SOURCE, '--dport', '80', '-s', c.addr, '-j', 'DNAT', '--to-destination', `${BACKENDS[i].addr}:${BACKEND_PORT}`));
  for (const b of BACKENDS) {
    const p = start('ip', ['netns', 'exec', LB_NS, process.execPath, LBDIAG, 'whoami', '-H', b.addr, '--port', String(BACKEND_PORT), '--name', b.name]);
    servers.push(p);
    await until(`whoami ${b.name}`, () => /keep-alive|"event":"listening"/.test(p.stdout()) || p.child.exitCode !== null, 20_000);
    assert.equal(p.child.exitCode, null, `whoami ${b.name} exited: ${p.stderr()}`);
  }
});

after(async () => {
  for (const p of servers) await p.stop('SIGKILL').catch(() => undefined);
  // Deleting a namespace deletes its veth ends and its iptables rules.
  for (const ns of namespaces.reverse()) runSync(findBinary('ip') ?? 'ip', ['netns', 'del', ns]);
  fs.rmSync(dir, { recursive: true, force: true });
});

interface Doc {
  findings: { id: string; mode?: string; metrics?: Record<string, unknown> }[];
  modes: Record<string, { requests: number; ok: number; backends: { name: string; count: number }[] }>;
  clients?: { client: string; modes: Record<string, { backends: Record<string, number> }> }[];
}

/** Each client namespace probes the VIP at once (like several machines); returns their documents' files. */
async function probeFromClients(vip: string, caseName: string): Promise<{ files: string[]; docs: Doc[] }> {
  const results = await Promise.all(
    CLIENTS.map((c) => {
      const p = start('ip', ['netns', 'exec', c.ns, process.execPath, LBDIAG, 'probe', `${vip}:80`, '--json', '--mode', 'short', '-n', '45', '--label', c.ns]);
      const timer = setTimeout(() => void p.stop('SIGKILL'), 30_000);
      return p.exited.then((code) => (clearTimeout(timer), { c, code, out: p.stdout(), err: p.stderr() }));
    }),
  );
  const files: string[] = [];
  const docs: Doc[] = [];
  for (const r of results) {
    assert.ok(r.code === 0 || r.code === 1, `probe from ${r.c.ns}: exit ${r.code}: ${r.err}`);
    const doc = JSON.parse(r.out) as Doc;
    assert.equal(doc.modes.short.ok, 45, `${r.c.ns}: every request answered`);
    const file = path.join(dir, `${caseName}-${r.c.ns}.json`);
    fs.writeFileSync(file, r.out);
    files.push(file);
    docs.push(doc);
  }
  return { files, docs };
}

async function merge(files: string[]): Promise<Doc> {
  const m = await runLbdiag(['merge', '--json', ...files], { timeoutMs: 30_000 });
  assert.ok(m.code === 0 || m.code === 1, `merge: exit ${m.code}: ${m.stderr}`);
  const doc = JSON.parse(m.stdout) as Doc;
  assert.ok(validate(doc), `merge document against the schema: ${JSON.stringify(validate.errors?.slice(0, 3))}`);
  return doc;
}

test('iptables --probability DNAT (per connection): every client reaches several backends; merge raises no source-affinity, no client-pinned', { timeout: 60_000 }, async (t) => {
  if (!check.ok) return t.skip(check.reason);
  const { files, docs } = await probeFromClients(VIP_RANDOM, 'random');
  for (const [i, d] of docs.entries()) assert.ok(d.modes.short.backends.length >= 2, `${CLIENTS[i].ns} reached ${d.modes.short.backends.map((b) => b.name).join(',')}`);
  const merged = await merge(files);
  const ids = merged.findings.map((f) => f.id);
  assert.equal(merged.modes.short.requests, 3 * 45);
  assert.deepEqual(merged.modes.short.backends.map((b) => b.name).sort(), BACKENDS.map((b) => b.name));
  assert.ok(!ids.includes('source-affinity'), `no source-affinity on a per-connection random balancer: ${ids.join(',')}`);
  assert.ok(!ids.includes('client-pinned'), `no client-pinned: ${ids.join(',')}`);
});

test('iptables DNAT by source address: merge of the three clients raises source-affinity, no client-pinned', { timeout: 60_000 }, async (t) => {
  if (!check.ok) return t.skip(check.reason);
  const { files, docs } = await probeFromClients(VIP_SOURCE, 'by-source');
  for (const [i, d] of docs.entries()) assert.deepEqual(d.modes.short.backends.map((b) => b.name), [BACKENDS[i].name], `${CLIENTS[i].ns} held on its backend`);
  const merged = await merge(files);
  const ids = merged.findings.map((f) => f.id);
  assert.equal(merged.modes.short.requests, 3 * 45);
  const sa = merged.findings.find((f) => f.id === 'source-affinity');
  assert.ok(sa, `source-affinity raised by merge: ${ids.join(',')}`);
  assert.equal(sa.mode, 'short');
  assert.ok(!ids.includes('client-pinned'), `no client-pinned when every client is held (none spreads): ${ids.join(',')}`);
});
