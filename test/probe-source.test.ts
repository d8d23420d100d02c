/** --source: parsing lists, ranges and CIDRs (IPv4 and IPv6), refusing addresses not on this host. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { checkLocal, parseSources, sourcesFor } from '../src/probe/sources.js';
import { runLbdiag } from './support/processes.js';

test('parseSources: list, range, last-octet range, CIDR, IPv6, duplicates dropped', () => {
  assert.deepEqual(parseSources('10.0.0.5,10.0.0.6'), ['10.0.0.5', '10.0.0.6']);
  assert.deepEqual(parseSources('127.0.0.20-127.0.0.29').length, 10);
  assert.deepEqual(parseSources('127.0.0.20-22'), ['127.0.0.20', '127.0.0.21', '127.0.0.22']);
  assert.deepEqual(parseSources('127.0.0.16/29'), ['127.0.0.16', '127.0.0.17', '127.0.0.18', '127.0.0.19', '127.0.0.20', '127.0.0.21', '127.0.0.22', '127.0.0.23']);
  assert.deepEqual(parseSources('10.1.2.0/30'), ['10.1.2.1', '10.1.2.2'], 'network and broadcast skipped off loopback');
  assert.deepEqual(parseSources('fd00::fe-fd00::101'), ['fd00::fe', 'fd00::ff', 'fd00::100', 'fd00::101']);
  assert.deepEqual(parseSources('fd00:0:0:0:0:0:0:1/127'), ['fd00::', 'fd00::1']);
  assert.deepEqual(parseSources('::1, ::1,127.0.0.1'), ['::1', '127.0.0.1']);
  for (const bad of ['', 'nope', '127.0.0.30-127.0.0.20', '127.0.0.1-::1', '127.0.0.1/33', '10.0.0.0/8', '1.2.3.4-300']) {
    assert.throws(() => parseSources(bad), (e: Error & { usage?: boolean }) => e.usage === true && !e.message.includes('\n'), bad);
  }
});

test('checkLocal: all of 127/8 and ::1 are local, a documentation address is not; family filter', () => {
  checkLocal(['127.0.0.1', '127.3.4.5', '::1']);
  assert.throws(() => checkLocal(['127.0.0.1', '192.0.2.77']), /192\.0\.2\.77: not an address of this host/);
  assert.deepEqual(sourcesFor(['::1', '127.0.0.20'], ['127.0.0.1']), ['127.0.0.20']);
  assert.throws(() => sourcesFor(['::1'], ['127.0.0.1']), /no address of the target's family/);
});

test('probe --source with an address not on this host: one line, exit 2, no traffic', async () => {
  const r = await runLbdiag(['probe', '127.0.0.1:9', '--source', '127.0.0.20,192.0.2.77', '-n', '1']);
  assert.equal(r.code, 2, r.stderr);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.match(r.stderr, /^lbdiag: --source 192\.0\.2\.77: not an address of this host/);
  const bad = await runLbdiag(['probe', '127.0.0.1:9', '--source', '127.0.0.40-127.0.0.30']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /end is below the start/);
});
