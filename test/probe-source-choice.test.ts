/**
 * `--source` deals each run's connections evenly over the sources in one shuffled order, so a
 * balancer's own sequence cannot line up with the sources and the source-affinity test keeps its
 * false-alarm rate. Checked the way the detector sees it: many simulated runs of 90 connections
 * through a round robin over 3 backends (connection k reaches backend k mod 3, as haproxy
 * `balance roundrobin` at -c 1), sources dealt by the probe's own deck, scored by the detector's
 * own independence test. Without affinity the chi-square statistic on 4 degrees of freedom
 * averages 4 (4.04 with both margins fixed); the former per-round permutation averaged 6 (5.5
 * measured through a real haproxy), which is how it raised a false source-affinity.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SourceDeck, plannedConnections } from '../src/probe/source-choice.js';
import { independenceTest } from '../src/probe/detectors/source-affinity.js';

function meanStatistic(choose: (k: number) => number, runs: number): number {
  let sum = 0;
  for (let r = 0; r < runs; r++) {
    const table = [0, 1, 2].map(() => [0, 0, 0]);
    for (let k = 0; k < 90; k++) table[choose(k)][k % 3]++;
    sum += independenceTest(table).statistic;
  }
  return sum / runs;
}

test('sources dealt from a shuffled deck: even shares, no source x backend dependence through a round robin', () => {
  const rows = [0, 0, 0];
  const deck = new SourceDeck([0, 1, 2], plannedConnections({ mode: 'short', concurrency: 1, requests: 90 }));
  for (let k = 0; k < 90; k++) rows[deck.next()]++;
  assert.deepEqual(rows, [30, 30, 30], 'the planned connections split evenly');
  let d = new SourceDeck([0, 1, 2], 90);
  const mean = meanStatistic((k) => {
    if (k === 0) d = new SourceDeck([0, 1, 2], 90);
    return d.next();
  }, 3000);
  // The mean of 3000 chi-square(4) draws: 4 with a standard deviation of about 0.05.
  assert.ok(Math.abs(mean - 4) < 0.35, `mean statistic ${mean.toFixed(2)} (4 expected)`);
});

test('the check tells a permutation per round apart (what --source did before)', () => {
  let round: number[] = [];
  const permuted = (): number => {
    if (round.length === 0) {
      round = [0, 1, 2];
      for (let i = 2; i > 0; i--) {
        const j = Math.floor(Math.random() * (i + 1));
        [round[i], round[j]] = [round[j], round[i]];
      }
    }
    return round.pop()!;
  };
  const mean = meanStatistic(permuted, 3000);
  assert.ok(mean > 5, `mean statistic ${mean.toFixed(2)}: inflated`);
});

test('beyond the plan, decks are big: keep-alive reconnects (plan -c = 3 over 3 sources) do not run in rounds', () => {
  const deck = new SourceDeck([0, 1, 2], plannedConnections({ mode: 'keepalive', concurrency: 3 }));
  const first = [deck.next(), deck.next(), deck.next()];
  assert.deepEqual([...first].sort(), [0, 1, 2], 'the planned connections cover every source once');
  // 3000 more connections: rounds of 3 would make every window of 3 a permutation; a 96-card deck does not.
  let permutations = 0;
  for (let r = 0; r < 1000; r++) if (new Set([deck.next(), deck.next(), deck.next()]).size === 3) permutations++;
  // Random triples are permutations 2/9 of the time (about 222 of 1000); rounds would give 1000.
  assert.ok(permutations < 400, `${permutations} of 1000 triples were permutations`);
});
