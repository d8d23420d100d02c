/**
 * Tallies for the probe's detectors without a network: hand-made records (the same shapes as
 * test/probe.analyse.test.ts builds) and `--records` NDJSON files saved from real probe runs.
 */
import fs from 'node:fs';
import { ModeTally } from '../../src/probe/tally.js';
import type { ProbeMode, ProbeRecord } from '../../src/probe/record.js';

export function rec(mode: ProbeMode, o: Partial<ProbeRecord>): ProbeRecord {
  return { mode, t: 0, conn: 1, port: 40000, addr: '10.0.0.10', reused: false, seq: 1, totalMs: 2, status: 200, ttfbMs: 1, ...o };
}

/** keep-alive: `conns` connections, `per` requests each, sent in lockstep; backendOf(conn, seq) names the backend. */
export function keepalive(conns: number, per: number, backendOf: (c: number, s: number) => string | undefined, extra: (c: number, s: number) => Partial<ProbeRecord> = () => ({})): ModeTally {
  const t = new ModeTally('keepalive');
  t.startT = 0;
  t.lanes = conns;
  let clock = 0;
  for (let s = 1; s <= per; s++)
    for (let c = 1; c <= conns; c++) {
      clock += 1;
      t.add(rec('keepalive', { t: clock, order: clock - 1, conn: c, port: 40000 + c, reused: s > 1, seq: s, connectMs: s === 1 ? 0.3 : undefined, idleMs: s > 1 ? 1 : undefined, backend: backendOf(c, s), serverConn: `${c}`, serverSeq: s, ...extra(c, s) }));
    }
  t.connectionsOpened = conns;
  t.endT = clock;
  return t;
}

/** One new connection per request (`mode` short, or rotate for a pooled mode with fresh connections). */
export function short(n: number, backendOf: (i: number) => string | undefined, extra: (i: number) => Partial<ProbeRecord> = () => ({}), t0 = 1000): ModeTally {
  const t = new ModeTally('short');
  t.startT = t0;
  for (let i = 0; i < n; i++) t.add(rec('short', { t: t0 + i, order: i, conn: 1000 + i, port: 50000 + i, connectMs: 0.3, backend: backendOf(i), serverConn: `${i}`, serverSeq: 1, ...extra(i) }));
  t.connectionsOpened = n;
  t.endT = t0 + n;
  return t;
}

/** A small deterministic generator (the one the analyse tests use). */
export function lcg(seed: number): () => number {
  let x = seed;
  return () => (x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
}

/** keep-alive with requests sent to `conns` connections in a random order (the engine's schedule). */
export function randomSchedule(conns: number, n: number, backendOf: (conn: number, order: number) => string, seed = 1, mode: ProbeMode = 'keepalive'): ModeTally {
  const rnd = lcg(seed);
  const t = new ModeTally(mode);
  t.startT = 0;
  t.lanes = conns;
  const seq = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const c = 1 + Math.floor(rnd() * conns);
    const s = (seq.get(c) ?? 0) + 1;
    seq.set(c, s);
    t.add(rec(mode, { t: i, order: i, conn: c, port: 40000 + c, reused: s > 1, seq: s, backend: backendOf(c, i) }));
  }
  t.connectionsOpened = seq.size;
  t.endT = n;
  return t;
}

/** Engine facts a `--records` file does not hold, taken from the same run's `--json` report. */
export interface RecordedModeFacts {
  lanes: number;
  connectionsOpened: number;
  durationMs: number;
}

/**
 * The tallies of a real run: its `--records` NDJSON fed to ModeTally in file order (as the
 * runner does), with the engine facts of each mode.
 */
export function talliesFromRecords(ndjsonFile: string, facts: Record<string, RecordedModeFacts>): ModeTally[] {
  const tallies = new Map<ProbeMode, ModeTally>();
  for (const line of fs.readFileSync(ndjsonFile, 'utf8').split('\n')) {
    if (!line.trim()) continue;
    const r = JSON.parse(line) as ProbeRecord;
    let t = tallies.get(r.mode);
    if (!t) {
      t = new ModeTally(r.mode);
      t.startT = r.t;
      const f = facts[r.mode];
      if (f) {
        t.lanes = f.lanes;
        t.connectionsOpened = f.connectionsOpened;
        t.durationMs = f.durationMs;
      }
      tallies.set(r.mode, t);
    }
    t.add(r);
  }
  return [...tallies.values()];
}
