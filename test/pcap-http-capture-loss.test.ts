/**
 * A capture that lost a packet must not turn into a backend failure. Real fixture captures
 * (lbdiag whoami behind iptables DNAT, haproxy and nginx, made by fixtures/make-captures.sh) with
 * one HTTP response packet removed by editcap, which is what a capture that dropped it holds (a
 * busy tcpdump does: "N packets dropped by kernel"): the client still acknowledged the lost bytes
 * (tshark's "ACKed unseen segment"), so the request was answered and the stream has a hole. Before
 * the fix each such cut raised `intermittent-errors` ("closed", "reset") against the backends.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { hasCommand } from './support/processes.js';
import { analyse } from '../src/pcap/analyse.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const skip = !hasCommand('tshark') || !hasCommand('editcap') ? 'needs tshark and editcap' : false;

test('a response packet missing from the capture is a hole, never a failed request', { skip, timeout: 120_000 }, async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lbdiag-loss-'));
  try {
    let cuts = 0;
    for (const name of ['whoami-dnat.pcap', 'whoami-haproxy.pcap', 'whoami-nginx.pcap']) {
      const file = path.join(ROOT, 'fixtures', name);
      const whole = await analyse([file], { stallThresholdS: 0.9 });
      const exchanges = whole.http!.exchanges;
      const responses = execFileSync('tshark', ['-n', '-r', file, '-Y', 'http.response', '-T', 'fields', '-e', 'frame.number'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
        .split('\n')
        .filter(Boolean)
        .map(Number);
      // The first, a middle and the last response: a keep-alive connection's and a one-request connection's.
      for (const frame of [...new Set([responses[0], responses[responses.length >> 1], responses[responses.length - 1]])]) {
        const cut = path.join(tmp, `${name}-${frame}.pcap`);
        execFileSync('editcap', [file, cut, String(frame)], { stdio: 'ignore' });
        const res = await analyse([cut], { stallThresholdS: 0.9 });
        const h = res.http!;
        const errors = Object.values(h.modes).reduce((n, m) => n + (m?.errors ?? 0), 0);
        assert.equal(errors, 0, `${name} without frame ${frame}: no request failed`);
        assert.ok(h.gaps >= 1, `${name} without frame ${frame}: the hole is counted`);
        assert.ok(h.exchanges < exchanges, `${name} without frame ${frame}: the lost exchange is not tallied`);
        const bad = res.findings.filter((f) => ['intermittent-errors', 'all-failing', 'connection-churn'].includes(f.id));
        assert.deepEqual(bad.map((f) => f.title), [], `${name} without frame ${frame}`);
        cuts++;
      }
    }
    assert.ok(cuts >= 6);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
