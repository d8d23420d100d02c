/**
 * What a capture's HTTP tallies need beyond the probe's diagnosis, because a capture is not a probe
 * run: the client addresses may decide the backend (then the independent draws for `imbalance` are
 * the clients, not the requests), a keep-alive connection to a backend's own address cannot show
 * pinning, the concurrency is read from the connections' intervals, and `insufficient-data` asks for
 * a longer capture instead of a bigger -n. Used by tallies.ts's `result()`.
 */
import type { Finding } from '../../core/finding.js';
import { chiSquareGoodnessOfFit } from '../../probe/chi-square.js';
import type { ModeTally } from '../../probe/tally.js';
import { clientIsA, ipv4String, ipv6String, type Conn } from '../connection.js';

/** Client addresses kept per mode (connections per backend each); over this many the mode's map is dropped. */
export const MAX_CLIENTS = 20000;

/**
 * Per mode: client address (clientAddress()) -> backend of each of its connections (first request,
 * identified and not a 5xx) -> connections; null once over MAX_CLIENTS.
 */
export type ClientBackends = Record<'keepalive' | 'short', Map<number | string, Map<string, number>> | null>;

/** The client's address of a connection (IPv4 as a number, IPv6 as text). */
export function clientAddress(c: Conn): number | string {
  const a = clientIsA(c);
  if (!c.v6) return (a ? c.a0 : c.b0) >>> 0 || 0.5; // 0.0.0.0 kept apart from "none"
  return a ? ipv6String(c.a0, c.a1, c.a2, c.a3) : ipv6String(c.b0, c.b1, c.b2, c.b3);
}

/**
 * The client addresses that got an identified answer, for single-backend's wording
 * (AnalyseOptions.captureClients): how many (`atLeast` when a mode had more than MAX_CLIENTS),
 * one of them, and their common /24 when all are IPv4 in one.
 */
export function clientSummary(cb: ClientBackends): { count: number; atLeast: boolean; first: string; slash24: string } {
  const all = new Set<number | string>();
  let atLeast = false;
  for (const m of [cb.keepalive, cb.short]) {
    if (m === null) atLeast = true;
    else for (const k of m.keys()) all.add(k);
  }
  const count = atLeast ? Math.max(all.size, MAX_CLIENTS) : all.size;
  const name = (k: number | string): string => (typeof k === 'number' ? ipv4String(Math.floor(k)) : k);
  const keys = [...all];
  let slash24 = '';
  if (!atLeast && keys.length >= 2 && keys.every((k) => typeof k === 'number')) {
    const nets = new Set(keys.map((k) => Math.floor(k as number) >>> 8));
    if (nets.size === 1) slash24 = `${ipv4String((Math.floor(keys[0] as number) & 0xffffff00) >>> 0)}/24`;
  }
  return { count, atLeast, first: keys.length ? name(keys[0]) : '', slash24 };
}

/** `imbalance` findings re-judged with the client addresses as the draws (see judgeImbalanceOverClients); notes for the ones dropped. */
export function imbalanceOverClients(findings: Finding[], notes: string[], clientBackends: ClientBackends): Finding[] {
  const out: Finding[] = [];
  for (const f of findings) {
    const cl = f.id === 'imbalance' && f.severity === 'warn' ? clientBackends[f.mode as 'keepalive' | 'short'] : undefined;
    if (!cl) {
      out.push(f);
      continue;
    }
    const r = judgeImbalanceOverClients(f, cl);
    if (r.finding) out.push(r.finding);
    if (r.note) notes.push(r.note);
  }
  return out;
}

/**
 * A connection can only show keep-alive pinning if the address it went to could reach several
 * backends: connections to a server address that only ever answered as one backend (a backend's
 * own address, seen on the balancer's backend side: an L7 proxy's upstream pool, or clients that
 * pick backends themselves) stay on it by definition. Each keep-alive connection gets, as the
 * probe's `clientBackends`, the number of backends its server address answered as in the whole
 * capture (both modes); returns the note that says which were set aside ('' when none).
 */
export function choicesByAddress(modes: readonly ModeTally[], keepalive: ModeTally, useAddress: boolean): string {
  const byAddr = new Map<string, Set<string>>();
  for (const m of modes)
    for (const [addr, a] of m.addresses) {
      let s = byAddr.get(addr);
      if (!s) byAddr.set(addr, (s = new Set()));
      for (const b of a.backends.keys()) s.add(b);
    }
  const all = new Set<string>();
  for (const s of byAddr.values()) for (const b of s) all.add(b);
  let direct = 0;
  const examples: string[] = [];
  for (const c of keepalive.conns.values()) {
    const n = byAddr.get(c.addr)?.size ?? 0;
    c.clientBackends = n;
    if (n === 1 && c.ok > 0) {
      direct++;
      const ex = `${c.addr} → ${[...byAddr.get(c.addr)!][0]}`;
      if (examples.length < 3 && !examples.includes(ex)) examples.push(ex);
    }
  }
  // Only worth saying when pinning could otherwise have been judged (several backends, not the server-address identity).
  if (direct === 0 || all.size < 2 || useAddress) return '';
  const nDirect = new Set([...keepalive.conns.values()].filter((c) => c.clientBackends === 1 && c.ok > 0).map((c) => c.addr)).size;
  return (
    `${direct} keep-alive connection${direct === 1 ? '' : 's'} went to server addresses that each only ever answered as one backend in this capture (${examples.join(', ')}${nDirect > examples.length ? ', …' : ''}), so keep-alive pinning is not judged on ${direct === 1 ? 'it' : 'them'}: ` +
    `it needs connections to an address that reached several backends. Such addresses are the backends' own (a capture on the balancer's backend side: ` +
    `behind a layer-4 balancer that keeps the client address, DNAT or IPVS, these connections would show its pinning; behind an HTTP proxy they are its upstream pool, ` +
    `which balances each request: nothing to fix), or balancer addresses that showed one backend each (too few connections to them). ` +
    `The client address tells the backend-side cases apart (a real client's, or the proxy's own); a capture on the client side, with one-request connections too, decides it`
  );
}

/**
 * `imbalance` tests the requests as independent draws. When the client address decides the
 * backend (every client that opened several connections reached one backend on all of them:
 * haproxy `balance source`, nginx `ip_hash`, IPVS `sh`, `sessionAffinity: ClientIP`), the
 * independent draws are the client addresses, not the requests: 4 clients hashed 2/1/1 over 3
 * backends is what chance gives most often, however many requests each sends. The test is then
 * run again on the clients (each counted once, on its backend): the finding stays, with that
 * evidence, only when the clients too are spread unevenly beyond chance; otherwise it becomes a note.
 */
export function judgeImbalanceOverClients(f: Finding, clients: Map<number | string, Map<string, number>>): { finding: Finding | null; note?: string } {
  const m = f.metrics as { backends?: string[]; observed?: number[]; requests?: number } | undefined;
  const list = m?.backends ?? [];
  if (list.length < 2) return { finding: f };
  let multi = 0;
  let pinned = 0;
  const perBackend = new Map<string, number>(list.map((b) => [b, 0]));
  for (const b of clients.values()) {
    let total = 0;
    let top = '';
    let topN = -1;
    for (const [name, n] of b) {
      total += n;
      if (n > topN) (top = name), (topN = n);
    }
    if (total >= 2) {
      multi++;
      if (b.size === 1) pinned++;
    }
    perBackend.set(top, (perBackend.get(top) ?? 0) + 1);
  }
  // Source affinity shown: at least two clients that came back, and (almost) every one on one backend.
  if (multi < 2 || pinned < 0.9 * multi) return { finding: f };
  const observed = list.map((b) => perBackend.get(b) ?? 0);
  const res = chiSquareGoodnessOfFit(observed, list.map(() => 1));
  const spread = list.map((b, i) => `${b} ${observed[i]}`).join(', ');
  const nClients = clients.size;
  const basis = `${f.mode}: the requests came from ${nClients} client address${nClients === 1 ? '' : 'es'}, and ${pinned} of the ${multi} that opened several connections reached one backend on every one of them (the backend follows the client address: source affinity or source hashing, e.g. haproxy \`balance source\`, nginx \`ip_hash\`, IPVS \`sh\`, sessionAffinity: ClientIP); the independent draws are the clients, not the ${m?.requests ?? 'individual'} requests`;
  if (res.minExpected >= 5 && res.pValue < 0.001) {
    return { finding: { ...f, evidence: [...f.evidence, `${basis}; over clients (each counted once): ${spread}, chi-square ${res.statistic.toFixed(1)}, p = ${res.pValue.toExponential(2)}: the clients too are spread unevenly`] } };
  }
  const why = res.minExpected < 5 ? `too few clients to tell an uneven balancer from the luck of the hash (the test needs at least 5 expected per backend: ${Math.ceil((5 * list.length))} clients)` : `which chance gives too often to call it an imbalance (p = ${res.pValue.toPrecision(2)}, threshold 0.001)`;
  return {
    finding: null,
    note: `imbalance not judged: ${basis}. Over clients (each counted once): ${spread}, ${why}. Capture traffic from more client addresses to judge how the balancer spreads them`,
  };
}

/** Most intervals open at one instant. */
export function peakConcurrency(iv: readonly [number, number][]): number {
  const ev: [number, number][] = [];
  for (const [a, b] of iv) ev.push([a, 1], [b, -1]);
  ev.sort((x, y) => x[0] - y[0] || x[1] - y[1]);
  let cur = 0;
  let peak = 0;
  for (const [, d] of ev) {
    cur += d;
    if (cur > peak) peak = cur;
  }
  return peak;
}

/** `insufficient-data` as a capture must say it: the sample is what the capture holds, not an -n to raise. */
export function forCapture(f: Finding): Finding {
  const m = f.metrics as { tests?: string[]; requestsNeeded?: number } | undefined;
  const tests = m?.tests ?? [];
  const needed = m?.requestsNeeded ?? 0;
  return {
    ...f,
    title: `too few requests in the capture to decide ${tests.join(', ')}: at least ${needed} needed`,
    remedy: `Capture for longer (until the client has sent at least ${needed} requests of the kind each test needs), or run lbdiag probe against the same VIP: it sets its own sample size.`,
  };
}
