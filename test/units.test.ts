import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatDuration, parseCount, parseDuration, parseRate, parseSize } from '../src/core/units.js';
import { isUsageError } from '../src/core/errors.js';
import { parseFailOn, reachesFailOn, sortFindings, type Finding } from '../src/core/finding.js';

test('parseDuration reads Go-style durations; a bare number is seconds (as in whoami, hey -z, wrk -d)', () => {
  assert.equal(parseDuration('250ms'), 250);
  assert.equal(parseDuration('1.5s'), 1500);
  assert.equal(parseDuration('2m'), 120_000);
  assert.equal(parseDuration('1m30s'), 90_000);
  assert.equal(parseDuration('1h30m'), 5_400_000);
  assert.equal(parseDuration('500us'), 0.5);
  assert.equal(parseDuration('40'), 40_000);
  assert.equal(parseDuration('0.25'), 250);
  assert.equal(parseDuration(' 3 '), 3000);
});

test('parseDuration rejects junk with a usage error naming the flag', () => {
  for (const bad of ['', 'abc', '5 parsecs', '1s2', '-1s', 'ms']) {
    assert.throws(() => parseDuration(bad, '--idle-timeout'), (e: unknown) => isUsageError(e) && /--idle-timeout/.test((e as Error).message));
  }
});

test('sizes, counts and rates', () => {
  assert.equal(parseSize('16k'), 16384);
  assert.equal(parseSize('1m'), 1048576);
  assert.equal(parseSize('512'), 512);
  assert.throws(() => parseSize('12q'));
  assert.equal(parseCount('3', '-c'), 3);
  assert.throws(() => parseCount('0', '-c'));
  assert.throws(() => parseCount('2.5', '-c'));
  assert.equal(parseRate('200'), 200);
  assert.equal(parseRate('600/m'), 10);
  assert.equal(parseRate('50/100ms'), 500);
  assert.throws(() => parseRate('fast'));
});

test('formatDuration picks a readable unit', () => {
  assert.equal(formatDuration(0.25), '250µs');
  assert.equal(formatDuration(1.234), '1.23ms');
  assert.equal(formatDuration(12.34), '12.3ms');
  assert.equal(formatDuration(1020), '1.02s');
  assert.equal(formatDuration(125_000), '2m05s');
});

test('fail-on thresholds and severity sorting', () => {
  const f = (id: string, severity: Finding['severity']): Finding => ({ id, severity, title: id, evidence: [], explanation: '', remedy: '' });
  const list = [f('a', 'info'), f('b', 'error'), f('c', 'warn')];
  assert.deepEqual(sortFindings(list).map((x) => x.id), ['b', 'c', 'a']);
  assert.equal(reachesFailOn(list, parseFailOn('error')), true);
  assert.equal(reachesFailOn([f('a', 'warn')], parseFailOn('error')), false);
  assert.equal(reachesFailOn([f('a', 'warn')], parseFailOn('WARN')), true);
  assert.equal(reachesFailOn(list, parseFailOn('none')), false);
  // Unknown values are usage errors that list the valid ones (`warning` is not silently taken).
  for (const bad of ['fatal', 'warning', '']) assert.throws(() => parseFailOn(bad), (e: unknown) => isUsageError(e) && /expected info, warn, error or none/.test((e as Error).message));
});
