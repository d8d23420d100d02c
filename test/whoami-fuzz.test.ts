/**
 * Malformed HTTP against `lbdiag whoami` (a real process) over raw sockets: see test/fuzz/whoami-http.ts.
 * `npm test` runs a small count; a large run on demand:
 *   LBDIAG_FUZZ_COUNT=10000 node --test dist/test/whoami-fuzz.test.js     (LBDIAG_FUZZ_SEED to replay)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fuzzWhoami } from './fuzz/whoami-http.js';
import { rssMiB, startWhoamiProcess } from './support/whoami-process.js';

const COUNT = Number(process.env.LBDIAG_FUZZ_COUNT ?? 300);
const SEED = Number(process.env.LBDIAG_FUZZ_SEED ?? Date.now() % 1_000_000);

test(`whoami survives ${COUNT} malformed requests (seed ${SEED}), answers each well-formed and keeps answering GET /`, { timeout: Math.max(60_000, COUNT * 50) }, async () => {
  const host = '127.0.10.60';
  // A short headers timeout so slowloris cases end in 408 within the run.
  const { p, port } = await startWhoamiProcess(host, ['--headers-timeout', '1s', '--drain-delay', '0', '--name', 'fuzz']);
  try {
    const t0 = performance.now();
    const s = await fuzzWhoami(host, port, COUNT, SEED);
    const secs = (performance.now() - t0) / 1000;
    process.stderr.write(
      `# fuzz seed ${SEED}: ${s.cases} cases in ${secs.toFixed(1)} s, crashes ${p.child.exitCode === null ? 0 : 1}, answers by status ${JSON.stringify(s.answersByStatus)}, ` +
        `no answer ${s.noAnswer}, resets ${s.resets}, kinds ${JSON.stringify(s.byKind)}, monitor GET / ${s.monitor.ok} ok ${s.monitor.failed} failed (max ${s.monitor.maxMs.toFixed(0)} ms), RSS ${rssMiB(p.pid).toFixed(0)} MiB\n`,
    );
    assert.equal(p.child.exitCode, null, `whoami exited: ${p.stderr().slice(-2000)}`);
    assert.deepEqual(s.malformed, []);
    assert.equal(s.cases, COUNT);
    assert.equal(s.monitor.failed, 0, 'GET / kept being answered');
    assert.ok(s.monitor.ok > 0);
    assert.doesNotMatch(p.stderr(), /Error|at .*\.js:\d+/, 'nothing thrown');
    // Still serving normally after the run.
    const r = await fetch(`http://${host}:${port}/api`);
    assert.equal(r.status, 200);
    await r.text();
  } finally {
    await p.stop('SIGKILL');
  }
});
