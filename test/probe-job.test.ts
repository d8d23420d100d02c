/**
 * deploy/kubernetes/probe-job.yaml: parsed as YAML (an Indexed Job whose container runs lbdiag
 * probe --json --label $(JOB_COMPLETION_INDEX)-$(NODE_NAME)), then its exact container args run on
 * loopback against a lab service - only the Service URL is swapped, and $(VAR) is expanded from the
 * env the manifest declares, as the kubelet does - and two such outputs go through lbdiag merge.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { SCHEMA_ID } from '../src/core/envelope.js';
import { startNameServer, type NameServer } from '../src/lab/name-server.js';
import { ROOT, runLbdiag } from './support/processes.js';

interface Container { args: string[]; env: { name: string; valueFrom?: { fieldRef?: { fieldPath: string } } }[] }

const job = parse(fs.readFileSync(path.join(ROOT, 'deploy', 'kubernetes', 'probe-job.yaml'), 'utf8'));
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lbdiag-job-'));
let svc: NameServer;
before(async () => {
  svc = await startNameServer({ host: '127.0.0.1', name: 'svc-pod-1' });
});
after(async () => {
  await svc.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

test('the manifest is an Indexed Job labelling each probe with its index and node', () => {
  assert.equal(job.apiVersion, 'batch/v1');
  assert.equal(job.kind, 'Job');
  assert.equal(job.spec.completionMode, 'Indexed');
  assert.equal(job.spec.template.spec.restartPolicy, 'Never');
  const c: Container = job.spec.template.spec.containers[0];
  assert.equal(c.args[0], 'probe');
  assert.ok(c.args.includes('--json'));
  assert.equal(c.args[c.args.indexOf('--label') + 1], '$(JOB_COMPLETION_INDEX)-$(NODE_NAME)');
  const env = new Map(c.env.map((e) => [e.name, e.valueFrom?.fieldRef?.fieldPath]));
  assert.equal(env.get('JOB_COMPLETION_INDEX'), "metadata.annotations['batch.kubernetes.io/job-completion-index']");
  assert.equal(env.get('NODE_NAME'), 'spec.nodeName');
  const selector = `job-name=${job.metadata.name}`;
  assert.match(fs.readFileSync(path.join(ROOT, 'deploy', 'kubernetes', 'probe-job.yaml'), 'utf8'), new RegExp(`kubectl get pods -l ${selector}`));
});

test('its exact container args run against a loopback service; two pods\' outputs merge', async () => {
  const c: Container = job.spec.template.spec.containers[0];
  const outputs: string[] = [];
  for (const [index, node] of [['0', 'node-a'], ['1', 'node-b']]) {
    const values: Record<string, string> = { JOB_COMPLETION_INDEX: index, NODE_NAME: node };
    // The kubelet expands $(VAR) in args from the container's env; the Service URL becomes the lab one.
    const args = c.args.map((a) => a.replace(/\$\(([A-Z_]+)\)/g, (_m, v: string) => values[v] ?? `$(${v})`)).map((a) => (a.startsWith('http://') ? `http://127.0.0.1:${svc.port}/` : a));
    const r = await runLbdiag(args, { timeoutMs: 60_000 });
    assert.equal(r.code, 0, r.stderr); // --fail-on none: the pod completes whatever it found
    const doc = JSON.parse(r.stdout);
    assert.equal(doc.schema, SCHEMA_ID);
    assert.equal(doc.client, `${index}-${node}`);
    assert.equal(doc.modes.short.requests, 300);
    const f = path.join(dir, `lbdiag-probe-${index}.json`);
    fs.writeFileSync(f, r.stdout);
    outputs.push(f);
  }
  const m = await runLbdiag(['merge', '--json', ...outputs]);
  const merged = JSON.parse(m.stdout);
  assert.deepEqual(merged.clients.map((x: { client: string }) => x.client), ['0-node-a', '1-node-b']);
  assert.equal(merged.modes.keepalive.requests, 600);
});
