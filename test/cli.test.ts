import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { LBDIAG, runLbdiag } from './support/processes.js';

test('lbdiag --help lists every subcommand and exits 0', async () => {
  const r = await runLbdiag(['--help']);
  assert.equal(r.code, 0);
  for (const cmd of ['whoami', 'probe', 'pcap', 'lab']) assert.match(r.stdout, new RegExp(`^  ${cmd}\\b`, 'm'));
});

test('an unknown option is one line on stderr and exit 2', async () => {
  const r = await runLbdiag(['--no-such-flag']);
  assert.equal(r.code, 2);
  assert.equal(r.stderr.trim().split('\n').length, 1);
  assert.match(r.stderr, /^lbdiag: unknown option/);
  assert.doesNotMatch(r.stderr, /\bat .*\.js:\d+/);
});

test('output cut short by the reader (| head) ends quietly: no EPIPE stack trace', () => {
  // `true` exits before lbdiag writes a byte, so every write meets a closed pipe.
  const r = spawnSync('sh', ['-c', `"${process.execPath}" "${LBDIAG}" whoami --help | true`], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 0);
  assert.equal(r.stderr, '');
});
