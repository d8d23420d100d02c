/**
 * Without the HTTP layer the tracker reuses a settled connection's `Conn` for a later new one
 * (tracker.ts `recycle`): a reset `Conn` must be exactly a new one, and results must not change.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { ROOT } from './support/processes.js';
import { analysePerFrame } from './support/per-frame.js';
import { Conn, NO_FRAMES } from '../src/pcap/connection.js';
import { resetConn } from '../src/pcap/conn-reset.js';

/** Sets every own field of `o` to something no constructor would. */
function scribble(o: Record<string, unknown>): void {
  for (const [k, v] of Object.entries(o)) {
    if (typeof v === 'number') o[k] = 12345.5;
    else if (typeof v === 'boolean') o[k] = !v;
    else if (typeof v === 'string') o[k] = 'x';
    else if (Array.isArray(v)) o[k] = [1, 2];
    else if (v === null) o[k] = {};
  }
}

function plain(c: Conn): unknown {
  const { ab, ba, ...rest } = c;
  return { rest, ab: { ...ab }, ba: { ...ba } };
}

test('resetConn: every field back to a new Conn\'s, the Direction objects kept', () => {
  const c = new Conn();
  const { ab, ba } = c;
  scribble(c as unknown as Record<string, unknown>);
  c.next = new Conn();
  scribble(c.ab as unknown as Record<string, unknown>);
  scribble(c.ba as unknown as Record<string, unknown>);
  assert.notDeepEqual(plain(c), plain(new Conn()));
  assert.equal(resetConn(c), c);
  assert.deepEqual(plain(c), plain(new Conn()));
  assert.equal(c.ab, ab);
  assert.equal(c.ba, ba);
  // Frame lists go back to the shared empty list, not to a new array.
  assert.equal(c.ab.synRetransFrames, NO_FRAMES);
  assert.equal(c.ba.finRetransTimes, NO_FRAMES);
});

test('without HTTP (Conn objects reused): identical per-frame streams and flags, findings and summary to full records on every fixture', async () => {
  const fixtures = fs.readdirSync(path.join(ROOT, 'fixtures')).filter((f) => /\.(pcap|pcapng|gz)$/.test(f));
  assert.ok(fixtures.length > 10);
  let frames = 0;
  for (const f of fixtures) {
    const file = path.join(ROOT, 'fixtures', f);
    const reused = await analysePerFrame(file, { compactRecords: true, http: false });
    const full = await analysePerFrame(file, { compactRecords: false, http: false });
    assert.deepEqual(reused.perFrame, full.perFrame, f);
    assert.equal(reused.error, full.error, f);
    assert.deepEqual(reused.res?.findings, full.res?.findings, f);
    const { released: _r1, peakTracked: _p1, ...a } = reused.res?.summary.tcp ?? {};
    const { released: _r2, peakTracked: _p2, ...b } = full.res?.summary.tcp ?? {};
    assert.deepEqual(a, b, f);
    assert.deepEqual(reused.res?.summary.servers, full.res?.summary.servers, f);
    frames += reused.perFrame.length / 3;
  }
  assert.ok(frames > 1000, `only ${frames} TCP packets compared`);
});
