/** analyse() on hand-made records: each finding fires on its signature and stays quiet otherwise. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { analyse } from '../src/probe/analyse.js';
import { ModeTally } from '../src/probe/tally.js';
import { keepalive, randomSchedule, rec, short } from './support/probe-tallies.js';




const names = ['a', 'b', 'c'];
const ids = (f: { id: string }[]) => f.map((x) => x.id).sort();

test('keepalive-pinning: one backend per connection while fresh connections reach three', () => {
  const f = analyse([keepalive(4, 50, (c) => names[(c - 1) % 3]), short(150, (i) => names[i % 3])]);
  const pin = f.find((x) => x.id === 'keepalive-pinning');
  assert.ok(pin, ids(f).join(','));
  assert.equal(pin.metrics?.pinnedConnections, 4);
  assert.match(pin.evidence.join('\n'), /short .*3 backends answered 150/);
  // keep-alive shares follow connections (2:1:1): imbalance, but explained by pinning (info).
  const imb = f.find((x) => x.id === 'imbalance' && x.mode === 'keepalive');
  assert.equal(imb?.severity, 'info');
  assert.ok(!f.some((x) => x.id === 'imbalance' && x.mode === 'short'));
  assert.ok(!f.some((x) => x.id === 'l7-proxy'));
});

test('no pinning under per-request balancing, and l7-proxy from the server-side connection view', () => {
  let sc = 0;
  const ka = keepalive(4, 30, (c, s) => names[(c + s) % 3], () => ({ serverConn: String(++sc), serverSeq: 1 }));
  const f = analyse([ka, short(90, (i) => names[i % 3], () => ({ forwarded: ['X-Forwarded-For'] }))]);
  assert.ok(!f.some((x) => x.id === 'keepalive-pinning'));
  const l7 = f.find((x) => x.id === 'l7-proxy');
  assert.ok(l7);
  assert.equal(l7.severity, 'info');
  assert.match(l7.evidence.join('\n'), /different connection/);
  assert.match(l7.evidence.join('\n'), /X-Forwarded-For \(90\/94\)/);
});

test('pinning needs enough requests per connection to tell L4 from chance', () => {
  // 2 requests per connection over 2 backends: a per-request balancer stays put half the time.
  const f = analyse([keepalive(4, 2, (c) => names[c % 2]), short(40, (i) => names[i % 2])]);
  assert.ok(!f.some((x) => x.id === 'keepalive-pinning'), ids(f).join(','));
});

test('imbalance: chi-square with p-value; quiet on fair tallies, small samples, and with matching --weights', () => {
  const skew = short(300, (i) => (i % 10 < 6 ? 'a' : i % 10 < 8 ? 'b' : 'c'));
  const f = analyse([skew]).find((x) => x.id === 'imbalance');
  assert.ok(f);
  assert.ok((f.metrics!.pValue as number) < 1e-6);
  assert.equal(f.metrics!.df, 2);
  assert.equal(f.metrics!.maxMinRatio, 3);
  assert.ok(!analyse([short(300, (i) => names[i % 3])]).some((x) => x.id === 'imbalance'));
  // 9 requests over 3 backends (expected 3 per cell < 5): never raised.
  assert.ok(!analyse([short(9, (i) => (i < 7 ? 'a' : i === 7 ? 'b' : 'c'))]).some((x) => x.id === 'imbalance'));
  const weights = new Map([['a', 3], ['b', 1], ['c', 1]]);
  assert.ok(!analyse([skew], { weights }).some((x) => x.id === 'imbalance'));
  assert.ok(analyse([short(300, (i) => names[i % 3])], { weights }).some((x) => x.id === 'imbalance'));
});

test('single-backend and backend-missing', () => {
  const one = [short(50, () => 'a')];
  assert.deepEqual(ids(analyse(one)), ['single-backend']);
  assert.deepEqual(ids(analyse(one, { expect: 1 })), []);
  const miss = analyse([short(60, (i) => names[i % 2])], { expectBackends: ['a', 'b', 'c'] });
  const m = miss.find((x) => x.id === 'backend-missing');
  assert.equal(m?.backend, 'c');
  assert.equal(m?.severity, 'error');
  assert.ok(analyse([short(60, (i) => names[i % 2])], { expect: 3 }).some((x) => x.id === 'backend-missing'));
  assert.ok(!analyse([short(60, (i) => names[i % 3])], { expect: 3 }).some((x) => x.id === 'backend-missing'));
});

test('late-backend-starved: appears part-way through and gets almost nothing on the pool', () => {
  // 8 pooled connections on a/b; from t=600 one reconnect lands on c, which then carries 1 in 40.
  const t = new ModeTally('keepalive');
  t.startT = 0;
  for (let i = 0; i < 1000; i++) {
    const late = i >= 600 && i % 40 === 0;
    t.add(rec('keepalive', { t: i, conn: (i % 8) + 1, reused: i >= 8, seq: Math.floor(i / 8) + 1, backend: late ? 'c' : names[i % 2] }));
  }
  t.connectionsOpened = 9;
  t.endT = 1000;
  const f = analyse([t]).find((x) => x.id === 'late-backend-starved');
  assert.ok(f);
  assert.equal(f.backend, 'c');
  // Present from the start with a fair share: nothing.
  assert.ok(!analyse([keepalive(6, 50, (c) => names[c % 3])]).some((x) => x.id === 'late-backend-starved'));
});

test('late-backend-starved: never on a large pool, healthy on fresh connections afterwards', () => {
  const f = analyse([keepalive(8, 20, (c) => names[c % 2]), short(90, (i) => names[i % 3], undefined, 5000)]);
  const late = f.find((x) => x.id === 'late-backend-starved');
  assert.equal(late?.backend, 'c');
  // A pool of 2 connections could miss a backend by itself: not claimed.
  assert.ok(!analyse([keepalive(2, 20, (c) => names[c % 2]), short(90, (i) => names[i % 3], undefined, 5000)]).some((x) => x.id === 'late-backend-starved'));
});

test('stale-instance: an older generation (X-Lbdiag-Started) still taking new connections beside a newer one', () => {
  const f = analyse([short(40, () => 'a', (i) => (i % 2 ? { instance: 'old1', pid: 100, started: 1_700_000_000_000 } : { instance: 'new2', pid: 200, started: 1_700_000_060_000 }))]).find((x) => x.id === 'stale-instance');
  assert.ok(f);
  assert.equal(f.backend, 'a');
  assert.equal(f.severity, 'warn');
  assert.equal(f.metrics!.staleInstance, 'old1');
  assert.match(f.title, /older generation \(old1, started 1m00s earlier\) still takes new connections beside new2/);
  // One generation served by two worker pids (lbdiag whoami --workers 2): never stale.
  const workers = analyse([short(40, () => 'a', (i) => ({ instance: 'gen1', pid: 100 + (i % 2), started: 1_700_000_000_000 }))]);
  assert.ok(!workers.some((x) => x.id === 'stale-instance' || x.id === 'backend-restarted'), ids(workers).join(','));
  assert.ok(!analyse([short(40, () => 'a', () => ({ instance: 'x', pid: 1 }))]).some((x) => x.id === 'stale-instance'));
});

test('stale-instance: a clean handover is backend-restarted (info); without X-Lbdiag-Started both causes, info', () => {
  const handover = analyse([short(40, () => 'a', (i) => (i < 20 ? { instance: 'old1', pid: 100, started: 1000 } : { instance: 'new2', pid: 200, started: 5000 }))]);
  assert.ok(!handover.some((x) => x.id === 'stale-instance'), ids(handover).join(','));
  assert.equal(handover.find((x) => x.id === 'backend-restarted')?.severity, 'info');
  // Old drains its keep-alive connections after the new one appeared: not stale either.
  const t = keepalive(2, 20, () => 'a', (c, s) => ({ instance: c === 1 || s < 5 ? 'old1' : 'new2', started: c === 1 || s < 5 ? 1000 : 5000 }));
  assert.ok(!analyse([t]).some((x) => x.id === 'stale-instance'), ids(analyse([t])).join(','));
  const unknown = analyse([short(40, () => 'a', (i) => ({ instance: i % 2 ? 'w1' : 'w2', pid: 100 + (i % 2) }))]).find((x) => x.id === 'stale-instance');
  assert.equal(unknown?.severity, 'info');
  assert.match(unknown!.evidence.join('\n'), /no X-Lbdiag-Started/);
});


test('keepalive-pinning considers per-request balancing: lockstep round robin is undecided, a random schedule decides both ways', () => {
  // The false alarm of issue 9: 4 connections in lockstep through per-request round robin over 2.
  const lock = analyse([keepalive(4, 30, (_c, s) => names[0], (c) => ({ backend: names[(c - 1) % 2] })), short(60, (i) => names[i % 2])]);
  assert.ok(!lock.some((x) => x.id === 'keepalive-pinning'), ids(lock).join(','));
  const few = lock.find((x) => x.id === 'insufficient-data');
  assert.ok(few, ids(lock).join(','));
  assert.match(few.evidence.join('\n'), /strict round robin over 2 backends would also have sent to one backend/);
  // The engine's random schedule through round robin: connections spread, no pinning, no doubt.
  for (const k of [2, 3]) {
    for (const c of [2, 3, 4, 6]) {
      const rr = analyse([randomSchedule(c, 40 * c, (_c, order) => names[order % k], c * 7 + k)]);
      assert.ok(!rr.some((x) => x.id === 'keepalive-pinning' || x.id === 'insufficient-data'), `k=${k} c=${c}: ${ids(rr).join(',')}`);
    }
  }
  // The same schedule through an L4 balancer: pinned, with the chance under the alternative.
  const l4 = analyse([randomSchedule(4, 120, (conn) => names[conn % 2], 3)]).find((x) => x.id === 'keepalive-pinning');
  assert.ok(l4);
  assert.ok((l4.metrics!.chance as number) < 1e-3);
  assert.match(l4.evidence.join('\n'), /per-request balancing ruled out/);
});

test('insufficient-data: -n 4 / -n 8 on a pinned VIP say what they cannot decide and the count needed', () => {
  for (const n of [4, 8]) {
    const ka = randomSchedule(4, n, (conn) => names[conn % 2], n);
    const sh = short(n, (i) => names[i % 2]);
    const f = analyse([ka, sh]);
    assert.ok(!f.some((x) => x.id === 'keepalive-pinning'), ids(f).join(','));
    const few = f.find((x) => x.id === 'insufficient-data');
    assert.ok(few, `-n ${n}: ${ids(f).join(',')}`);
    assert.equal(few.severity, 'info');
    // Needed = connections + ceil(ln(1000)/ln 2) = up to 4 + 10, and chi-square's 5 per backend over 2 = 10.
    assert.ok((few.metrics!.requestsNeeded as number) > n);
    assert.ok((few.metrics!.tests as string[]).includes('keepalive-pinning') || (few.metrics!.tests as string[]).includes('imbalance'));
  }
  // Enough data: no insufficient-data.
  assert.ok(!analyse([randomSchedule(4, 200, (conn) => names[conn % 2]), short(200, (i) => names[i % 2])]).some((x) => x.id === 'insufficient-data'));
  // single-backend needs 1 + log2(1000) -> 11 answers.
  const one = analyse([short(6, () => 'a')]).find((x) => x.id === 'insufficient-data');
  assert.deepEqual(one?.metrics!.needed, [11]);
});

test('intermittent-errors: rate, fresh vs reused, 1-in-N (random) and every-Nth (periodic)', () => {
  // Random-looking half: SO_REUSEPORT over two listeners.
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const half = short(200, (i) => (i % 2 ? 'a' : 'b'), () => (rnd() < 0.5 ? { status: 503, backend: undefined } : {}));
  const f = analyse([half]).find((x) => x.id === 'intermittent-errors');
  assert.ok(f);
  assert.equal(f.severity, 'error');
  assert.equal(f.metrics!.oneInN, 2);
  assert.match(f.evidence.join('\n'), /about 1 in 2/);
  // Every third request fails: round robin with one bad member.
  const third = short(90, (i) => names[i % 3], (i) => (i % 3 === 2 ? { status: 502 } : {}));
  const g = analyse([third]).find((x) => x.id === 'intermittent-errors');
  assert.equal(g?.metrics!.oneInN, 3);
  assert.match(g!.evidence.join('\n'), /every 3rd request fails/);
  assert.match(g!.evidence.join('\n'), /5xx by backend: c 30\/30/);
  // Everything failing is another finding.
  const all = analyse([short(20, () => undefined, () => ({ status: undefined, error: 'refused', phase: 'connect' }))]);
  assert.deepEqual(ids(all), ['all-failing']);
});

test('idle-timeout-reset: failures on reused connections after idling', () => {
  const ka = keepalive(2, 30, (c) => names[c - 1], (c, s) => (s > 1 && s % 10 === 0 ? { status: undefined, backend: undefined, error: 'reset', phase: 'response', idleMs: 5000 } : {}));
  const f = analyse([ka]);
  const idle = f.find((x) => x.id === 'idle-timeout-reset');
  assert.ok(idle, ids(f).join(','));
  assert.match(idle.evidence.join('\n'), /median 5\.00s/);
  assert.ok(f.some((x) => x.id === 'intermittent-errors'));
});

test('stall-1s: connects clustered near 1 s and 3 s while the server answers fast', () => {
  const s = short(100, (i) => names[i % 3], (i) => (i % 10 === 0 ? { connectMs: 1003 + i, totalMs: 1006 + i } : i === 5 ? { connectMs: 3010, totalMs: 3012 } : {}));
  const f = analyse([s]).find((x) => x.id === 'stall-1s');
  assert.ok(f);
  assert.equal(f.metrics!.near1s, 10);
  assert.equal(f.metrics!.near3s, 1);
  // A uniformly slow path (1 s round trips everywhere) is not a SYN retransmission.
  const slow = short(30, () => 'a', () => ({ connectMs: 1000, ttfbMs: 1000, totalMs: 2000 }));
  assert.ok(!analyse([slow]).some((x) => x.id === 'stall-1s'));
});

test('connection-churn and no-backend-identity', () => {
  const t = keepalive(2, 10, () => 'a');
  t.connectionsOpened = 10;
  assert.ok(analyse([t]).some((x) => x.id === 'connection-churn'));
  const anon = analyse([short(30, () => undefined)]);
  assert.deepEqual(ids(anon), ['no-backend-identity']);
});

test('intermittent-errors ranks the causes: slow periodic failures = a dead member, fast random 503s = a stale listener', () => {
  // haproxy mode tcp, 4 servers, one dead, no health check: every 4th connection is closed after ~3 s of retries.
  const dead = short(200, (i) => (i % 4 === 3 ? undefined : names[i % 3]), (i) => (i % 4 === 3 ? { status: undefined, error: 'closed', phase: 'response', totalMs: 3005, ttfbMs: undefined } : {}));
  const d = analyse([dead]).find((x) => x.id === 'intermittent-errors');
  assert.ok(d);
  assert.equal(d.metrics!.likelyCause, 'dead-member');
  assert.match(d.title, /every 4th.*most likely a dead pool member/);
  assert.match(d.evidence.join('\n'), /failed requests took 3\.0\ds/);
  assert.doesNotMatch(d.title, /SO_REUSEPORT|stale/);
  // A stale listener: 503 at once from the balancer itself, randomly about 1 in 2.
  let seed = 11;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const stale = short(200, (i) => names[i % 3], () => (rnd() < 0.5 ? { status: 503, backend: undefined } : {}));
  const st = analyse([stale]).find((x) => x.id === 'intermittent-errors');
  assert.equal(st?.metrics!.likelyCause, 'stale-listener');
  assert.match(st!.remedy, /ss -ltnp/);
});

test('keepalive-pinning: a server closing every connection after one request is churn, not a sample too small', () => {
  const t = new ModeTally('keepalive');
  t.startT = 0;
  t.lanes = 4;
  for (let i = 0; i < 100; i++) t.add(rec('keepalive', { t: i, order: i, conn: i + 1, port: 41000 + i, backend: names[i % 2] }));
  t.connectionsOpened = 100;
  t.endT = 100;
  const f = analyse([t]);
  assert.ok(!f.some((x) => x.id === 'keepalive-pinning' || x.id === 'insufficient-data'), ids(f).join(','));
  assert.ok(f.some((x) => x.id === 'connection-churn'));
});
