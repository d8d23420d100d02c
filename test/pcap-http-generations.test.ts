/**
 * X-Lbdiag-Started from captures: `fixtures/whoami-generations.pcap` (made by
 * fixtures/make-generations-capture.sh with tcpdump on loopback: two lbdiag whoami processes named be1, the
 * second started about a second after the first, both taking new connections afterwards). Every response
 * carries X-Lbdiag-Instance and X-Lbdiag-Started; the capture adapter must keep both so stale-instance orders
 * the generations by their start (WARN, "started … earlier") as the probe does, not by first sight (INFO).
 * The expected instances and start times are read from the capture's bytes by a regular expression,
 * independently of lbdiag's HTTP parser.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from './support/processes.js';
import { analyse } from '../src/pcap/analyse.js';
import { parseBackendFrom } from '../src/probe/identity.js';

const FILE = path.join(ROOT, 'fixtures', 'whoami-generations.pcap');

/** instance → X-Lbdiag-Started, from every response head in the raw capture. */
function startedInCapture(): Map<string, number> {
  const text = fs.readFileSync(FILE).toString('latin1');
  const out = new Map<string, number>();
  for (const m of text.matchAll(/HTTP\/1\.1 [^\r]*\r\n((?:[^\r]+\r\n)*)\r\n/g)) {
    const inst = /^X-Lbdiag-Instance: *(\S+)/im.exec(m[1]);
    const started = /^X-Lbdiag-Started: *(\d+)/im.exec(m[1]);
    if (inst && started) out.set(inst[1], Number(started[1]));
  }
  return out;
}

test('a capture keeps X-Lbdiag-Started: stale-instance orders generations by their start (WARN), as the probe does', async () => {
  const expected = startedInCapture();
  assert.equal(expected.size, 2, 'the fixture holds two generations of be1');
  const [older, newer] = [...expected].sort((a, b) => a[1] - b[1]);
  const res = await analyse([FILE], { stallThresholdS: 0.9, backendFrom: parseBackendFrom('auto') });
  const stale = res.httpFindings!.filter((f) => f.id === 'stale-instance');
  assert.equal(stale.length, 1, JSON.stringify(res.httpFindings!.map((f) => f.id)));
  const f = stale[0];
  assert.equal(f.severity, 'warn');
  assert.equal(f.backend, 'be1');
  assert.match(f.title, new RegExp(`an older generation \\(${older[0]}, started [0-9.]+s earlier\\) still takes new connections beside ${newer[0]}`));
  assert.ok(f.evidence.some((e) => e.includes(`instance ${older[0]} started ${new Date(older[1]).toISOString()}`)), f.evidence.join('\n'));
  assert.ok(f.evidence.some((e) => e.includes(`instance ${newer[0]} started ${new Date(newer[1]).toISOString()}`)), f.evidence.join('\n'));
  assert.ok(f.evidence.some((e) => e.includes(`${older[0]} (started earlier) accepted`)), f.evidence.join('\n'));
  // The JSON's per-backend instances carry the start times too.
  const be1 = res.http!.modes.short!.backends.find((b) => b.name === 'be1')!;
  assert.deepEqual(new Map(be1.instances.map((i) => [i.instance, i.started])), expected);
});
