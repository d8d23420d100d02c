/**
 * Every command's real `--json` output validates against schema/lbdiag-v1.schema.json (ajv,
 * draft 2020-12), and every finding in it is in the catalog with a severity and a source the
 * catalog allows: a probe through a real TCP balancer to `lbdiag whoami` processes on loopback,
 * `lbdiag pcap` of real-kernel fixtures and of a run interrupted by SIGINT, `lbdiag lab`, and
 * `lbdiag merge` of two real probe runs against `lbdiag whoami`.
 * The schema is strict (no unplanned field): a field added to a document without its schema
 * entry fails here.
 */
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { catalogEntry, type FindingSource } from '../src/core/catalog.js';
import { SCHEMA_ID } from '../src/core/envelope.js';
import type { Finding } from '../src/core/finding.js';
import { startTcpForwarder, type Balancer } from '../src/lab/balancers/index.js';
import { untilIdle } from './support/idle.js';
import { ROOT, runLbdiag, startLbdiag, type Started } from './support/processes.js';
import { startWhoamiProcess } from './support/whoami-process.js';

const schema = JSON.parse(fs.readFileSync(path.join(ROOT, 'schema', 'lbdiag-v1.schema.json'), 'utf8')) as Record<string, unknown>;
// validateFormats off: `format: date-time` documents startedAt; its pattern is what is checked.
const validator = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true, validateFormats: false }).compile(schema);

type Doc = { schema: string; command: string; interrupted: boolean; findings: Finding[]; [k: string]: unknown };

function assertValid(doc: unknown, what: string): asserts doc is Doc {
  const ok = validator(doc);
  assert.ok(ok, `${what}: ${JSON.stringify(validator.errors?.slice(0, 5), null, 1)}`);
}

/** Each finding's id is in the catalog, with a severity and a source it allows (merge runs the probe detectors again on the merged tallies: a merge finding may be a probe id). */
function assertCatalogued(findings: Finding[], source: FindingSource, what: string): void {
  for (const f of findings) {
    const e = catalogEntry(f.id);
    assert.ok(e, `${what}: finding id ${f.id} is not in src/core/catalog.ts`);
    assert.ok(e.severities.includes(f.severity), `${what}: ${f.id} with severity ${f.severity}, catalog allows ${e.severities.join(', ')}`);
    assert.ok(e.sources.includes(source), `${what}: ${f.id} raised by ${source}, catalog says ${e.sources.join(', ')}`);
  }
}

function assertSorted(findings: Finding[], what: string): void {
  const rank = { info: 0, warn: 1, error: 2 };
  for (let i = 1; i < findings.length; i++) assert.ok(rank[findings[i - 1].severity] >= rank[findings[i].severity], `${what}: findings sorted worst first`);
}

test('the schema is strict: an unplanned field, a wrong schema id or a finding without evidence fails', async () => {
  const r = await runLbdiag(['pcap', '--json', path.join(ROOT, 'fixtures', 'syn-port-reuse-drop.pcap')], { timeoutMs: 20_000 });
  const doc = JSON.parse(r.stdout) as Doc;
  assertValid(doc, 'pcap syn-port-reuse-drop');
  const bad = (mutate: (d: Doc) => void): boolean => {
    const d = structuredClone(doc);
    mutate(d);
    return validator(d) as boolean;
  };
  assert.equal(bad((d) => (d.unplanned = 1)), false, 'a top-level field the schema does not name');
  assert.equal(bad((d) => ((d.summary as Record<string, unknown>).unplanned = 1)), false, 'a summary field the schema does not name');
  assert.equal(bad((d) => ((d.findings[0] as unknown as Record<string, unknown>).where = 'x')), false, 'a finding field the schema does not name');
  assert.equal(bad((d) => delete (d.findings[0] as Partial<Finding>).evidence), false, 'a finding without evidence');
  assert.equal(bad((d) => (d.schema = 'lbdiag.v2')), false, 'another schema id');
  assert.equal(bad((d) => delete (d as Partial<Doc>).interrupted), false, 'no interrupted');
});

test('pcap --json of real-kernel fixtures: valid envelope, catalogued findings', async () => {
  const started = Date.now();
  for (const f of ['fin-retransmit.pcap', 'syn-port-reuse-drop-ng.pcapng', 'keepalive-pinning.pcap', 'fin-retransmit-v6.pcap']) {
    const r = await runLbdiag(['pcap', '--json', path.join(ROOT, 'fixtures', f)], { timeoutMs: 20_000 });
    assert.ok(r.code === 0 || r.code === 1, `${f}: exit ${r.code} ${r.stderr}`);
    const doc = JSON.parse(r.stdout) as unknown;
    assertValid(doc, f);
    assert.equal(doc.schema, SCHEMA_ID);
    assert.equal(doc.command, 'pcap');
    assert.equal(doc.interrupted, false);
    assert.ok(Date.parse(doc.startedAt as string) >= started - 1000, 'startedAt is this run');
    assert.deepEqual(doc.config, { stallThresholdS: 0.9, http: true, backendFrom: 'auto' });
    assert.equal((doc.summary as { interrupted: boolean }).interrupted, doc.interrupted, 'the deprecated alias agrees');
    assertCatalogued(doc.findings, 'pcap', f);
    assertSorted(doc.findings, f);
    assert.equal(r.code === 1, doc.findings.some((x) => x.severity !== 'info'), `${f}: exit code follows --fail-on warn`);
  }
});

test('pcap --json interrupted by SIGINT: interrupted at the top and in summary, still valid', async () => {
  const fixture = fs.readFileSync(path.join(ROOT, 'fixtures', 'fin-retransmit.pcap'));
  const p = startLbdiag(['pcap', '--json', '-'], { stdio: ['pipe', 'pipe', 'pipe'] });
  p.child.stdin!.write(fixture); // then stalls without closing, like a tcpdump that saw nothing more
  await untilIdle(p.pid);
  p.child.kill('SIGINT');
  const timer = setTimeout(() => p.child.kill('SIGKILL'), 10_000);
  const code = await p.exited;
  clearTimeout(timer);
  p.child.stdin!.destroy();
  assert.equal(code, 130, p.stderr());
  const doc = JSON.parse(p.stdout()) as unknown;
  assertValid(doc, 'interrupted pcap');
  assert.equal(doc.interrupted, true);
  assert.equal((doc.summary as { interrupted: boolean }).interrupted, true);
  assert.ok(doc.findings.some((f) => f.id === 'fin-retransmit'));
  assertCatalogued(doc.findings, 'pcap', 'interrupted pcap');
});

const processes: Started[] = [];
const balancers: Balancer[] = [];
after(async () => {
  for (const b of balancers) await b.stop().catch(() => undefined);
  for (const p of processes) await p.stop('SIGKILL').catch(() => undefined);
});

test('probe --json through a TCP balancer to two lbdiag whoami processes: valid envelope, catalogued findings', { timeout: 60_000 }, async () => {
  const names = ['alpha', 'bravo'];
  const backends = [];
  for (let i = 0; i < names.length; i++) {
    const host = `127.0.93.${2 + i}`;
    const { p, port } = await startWhoamiProcess(host, ['--name', names[i]]);
    processes.push(p);
    backends.push({ host, port, name: names[i] });
  }
  const lb = await startTcpForwarder({ listen: { host: '127.0.93.1', port: 0 }, backends });
  balancers.push(lb);
  const r = await runLbdiag(['probe', `${lb.address.host}:${lb.address.port}`, '-n', '40', '-c', '2', '--json', '--expect', '2'], { timeoutMs: 40_000 });
  assert.ok(r.code === 0 || r.code === 1, `exit ${r.code}: ${r.stderr}`);
  const doc = JSON.parse(r.stdout) as unknown;
  assertValid(doc, 'probe');
  assert.equal(doc.command, 'probe');
  assert.equal(doc.interrupted, false);
  assert.equal((doc.config as { expect: number }).expect, 2);
  const modes = doc.modes as Record<string, { backends: { name: string }[] }>;
  assert.deepEqual(Object.keys(modes).sort(), ['keepalive', 'short']);
  assert.deepEqual(modes.short.backends.map((b) => b.name).sort(), names, 'both backends answered short-lived requests');
  assertCatalogued(doc.findings, 'probe', 'probe');
  assertSorted(doc.findings, 'probe');
});

test('merge --json of two real probe --json runs against lbdiag whoami: valid merge document, catalogued findings', { timeout: 60_000 }, async () => {
  const host = '127.0.93.10';
  const { p, port } = await startWhoamiProcess(host, ['--name', 'solo']);
  processes.push(p);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lbdiag-schema-merge-'));
  try {
    const files: string[] = [];
    for (const label of ['zone-a', 'zone-b']) {
      const r = await runLbdiag(['probe', `${host}:${port}`, '-n', '30', '--json', '--label', label], { timeoutMs: 40_000 });
      assert.ok(r.code === 0 || r.code === 1, `probe ${label}: exit ${r.code}: ${r.stderr}`);
      assertValid(JSON.parse(r.stdout), `probe ${label}`);
      const file = path.join(dir, `${label}.json`);
      fs.writeFileSync(file, r.stdout);
      files.push(file);
    }
    const m = await runLbdiag(['merge', '--json', ...files], { timeoutMs: 40_000 });
    assert.ok(m.code === 0 || m.code === 1, `merge: exit ${m.code}: ${m.stderr}`);
    const doc = JSON.parse(m.stdout) as unknown;
    assertValid(doc, 'merge');
    assert.equal(doc.command, 'merge');
    assert.equal(doc.schema, SCHEMA_ID);
    assert.equal(doc.inputs, 2);
    const clients = doc.clients as { client: string; file: string }[];
    assert.deepEqual(clients.map((c) => c.client), ['zone-a', 'zone-b']);
    assert.deepEqual(clients.map((c) => c.file), files);
    assert.equal((doc.config as { clients: number }).clients, 2);
    assertCatalogued(doc.findings, 'merge', 'merge');
    assertSorted(doc.findings, 'merge');
    // Strict: a field the merge document does not define, or a client entry without its label, fails.
    const bad = (mutate: (d: Record<string, unknown>) => void): boolean => {
      const d = structuredClone(doc) as Record<string, unknown>;
      mutate(d);
      return validator(d) as boolean;
    };
    assert.equal(bad((d) => (d.unplanned = 1)), false, 'a top-level field the merge schema does not name');
    assert.equal(bad((d) => delete (d.clients as Record<string, unknown>[])[0].client), false, 'a client without its label');
    assert.equal(bad((d) => delete d.inputs), false, 'no inputs');
    assert.equal(bad((d) => (d.client = 'x')), false, 'a probe-only field (client) on a merge document');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('lab --scenario pinning --balancer builtin --json: valid envelope; findings are those of its steps', { timeout: 90_000 }, async () => {
  const r = await runLbdiag(['lab', '--scenario', 'pinning', '--balancer', 'builtin', '--json', '-n', '60', '--addresses', '127.0.94'], { timeoutMs: 80_000 });
  assert.ok(r.code === 0 || r.code === 1, `exit ${r.code}: ${r.stderr}`);
  const doc = JSON.parse(r.stdout) as unknown;
  assertValid(doc, 'lab');
  assert.equal(doc.command, 'lab');
  assert.equal(doc.interrupted, false);
  assert.deepEqual(doc.config, doc.options, 'the deprecated options alias equals config');
  const steps = doc.scenarios as { probe: Doc | null; pcap?: { findings: Finding[] } }[];
  assert.ok(steps.length >= 2 && steps.every((s) => s.probe !== null), 'an L4 and an L7 probe ran');
  const fromSteps = steps.flatMap((s) => [...(s.probe?.findings ?? []), ...(s.pcap?.findings ?? [])]);
  assert.deepEqual(doc.findings.map((f) => f.id).sort(), fromSteps.map((f) => f.id).sort());
  assert.ok(doc.findings.some((f) => f.id === 'keepalive-pinning'), 'pinning reproduced through the L4 balancer');
  assertSorted(doc.findings, 'lab');
  for (const s of steps) assertCatalogued(s.probe!.findings, 'probe', 'lab step');
});
