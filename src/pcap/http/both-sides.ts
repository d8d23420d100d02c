/**
 * Captures that hold both sides of a balancer. Taken on the balancer host (`tcpdump -i any`) or
 * on a bridge, a capture sees each request twice: on the client's connection to the VIP and on
 * the balancer's connection to the backend (an HTTP proxy's own connection; the same connection
 * after iptables DNAT, with another 4-tuple; haproxy `mode tcp`'s second connection carrying the
 * same bytes). Counted twice, every request count, share and p-value is computed as if there were
 * twice as many independent draws, and a backend-side connection (one server address by
 * definition) mixes with the client's.
 *
 * Evidence, per exchange: the backend side's copy of an exchange has the same method, status,
 * body length and first body bytes, and nests inside the client side's in time (the balancer
 * forwards the request after it arrived and relays the answer after it came back: outer request
 * <= inner request, inner first and last response bytes <= outer ones), on another connection to
 * another server endpoint. Exchanges are paired one to one as they complete (the inner one
 * completes first; of several nested candidates, the tightest fit). Per server endpoint, on the first events (the tallies' held phase): an
 * endpoint is on the backend side ("inner") when at least 80 % of its exchanges were found inside
 * another endpoint's, and on the client side ("outer") when at least 80 % of its exchanges held
 * one and almost none were inside another's. The capture holds both sides only when both kinds
 * exist and at least 80 % of all the inner and of all the outer endpoints' exchanges were paired,
 * one to one, with at least MIN_PAIRS pairs: a capture of one side with concurrent identical
 * answers from a slow and a fast server nests some exchanges by chance, but cannot pair nearly
 * all of both sets one to one.
 *
 * Then each request is counted once, on the client side; the backend side's exchanges only lend
 * their server address as the backend's identity to their client-side twin when no response names
 * its backend (what the backend side alone proves).
 */
import { clientOf, type Conn } from '../connection.js';

/** Share of an endpoint's exchanges that must be paired for it to be called inner or outer. */
const SHARE = 0.8;
/** Fewest pairs that can show both sides. */
export const MIN_PAIRS = 5;
/** Candidates (completed exchanges not yet found inside another) kept at most, and for how long (capture seconds). */
const MAX_CANDIDATES = 16384;
const WINDOW_S = 120;
/** Body bytes that go into an exchange's key. */
const KEY_BODY = 32;

interface Candidate {
  reqT: number;
  resT: number;
  resEndT: number;
  server: string;
  stream: number;
  client: string;
}

interface EndpointStats {
  n: number;
  inner: number;
  outer: number;
  /** Inner exchanges here on a connection from the same client address and port as their outer twin's. */
  sameClientPort: number;
  /** Inner exchanges here whose client address was the server address of their outer twin. */
  fromOuterAddress: number;
}

function hostOf(endpoint: string): string {
  const i = endpoint.lastIndexOf(':');
  return endpoint.startsWith('[') ? endpoint.slice(1, endpoint.indexOf(']')) : endpoint.slice(0, i);
}

export class BothSides {
  /** Pairing runs while undecided, and after the decision only when both sides were found. */
  private active = true;
  private decided = false;
  private both = false;
  private readonly byKey = new Map<number, Candidate[]>();
  private count = 0;
  private readonly stats = new Map<string, EndpointStats>();
  private pairs = 0;
  /** Endpoints on the backend side and the client side (after the decision). */
  readonly innerEndpoints = new Set<string>();
  readonly outerEndpoints = new Set<string>();
  /** Exchanges left out (backend side), after the decision and during the held phase. */
  dropped = 0;
  droppedStreams = new Set<number>();
  /** Client-side exchanges that took their backend from their backend-side twin. */
  lent = 0;

  get holdsBoth(): boolean {
    return this.both;
  }

  private stat(server: string): EndpointStats {
    let s = this.stats.get(server);
    if (s === undefined) this.stats.set(server, (s = { n: 0, inner: 0, outer: 0, sameClientPort: 0, fromOuterAddress: 0 }));
    return s;
  }

  /**
   * One completed exchange with a response (key fields as in CaptureExchange), on connection `c` to
   * `server`. Returns the server endpoint of its backend-side twin ('' when none is found).
   */
  pair(method: string, status: number, bodyBytes: number, body: Buffer, bs: number, be: number, reqT: number, resT: number, resEndT: number, stream: number, server: string, c: Conn): string {
    if (!this.active) return '';
    let h = 0x811c9dc5 ^ status;
    for (let i = 0; i < method.length; i++) h = Math.imul(h ^ method.charCodeAt(i), 16777619);
    h = Math.imul(h ^ (bodyBytes & 0xffffffff), 16777619);
    const end = Math.min(be, bs + KEY_BODY);
    for (let i = bs; i < end; i++) h = Math.imul(h ^ body[i], 16777619);
    const st = this.decided ? undefined : this.stat(server);
    if (st !== undefined) st.n++;
    let list = this.byKey.get(h);
    let inner = '';
    if (list !== undefined) {
      // Forget what is too old to be inside anything that completes now (the list is in completion order).
      let drop = 0;
      while (drop < list.length && list[drop].resEndT < resEndT - WINDOW_S) drop++;
      if (drop > 0) {
        list.splice(0, drop);
        this.count -= drop;
      }
      // Only exchanges that completed after this one's request began can be inside it: scan back from the
      // newest and stop at the first that completed before. Of those nested, the tightest fit is the twin
      // (several identical answers at once: the one forwarded first after this request and answered last).
      let best = -1;
      let bestSlack = Infinity;
      for (let i = list.length - 1; i >= 0; i--) {
        const y = list[i];
        if (y.resEndT < reqT) break;
        if (y.stream === stream || y.server === server) continue;
        if (reqT <= y.reqT && y.resT <= resT && y.resEndT <= resEndT) {
          const slack = y.reqT - reqT + (resEndT - y.resEndT);
          if (slack < bestSlack) (best = i), (bestSlack = slack);
        }
      }
      if (best >= 0) {
        const y = list[best];
        list.splice(best, 1);
        this.count--;
        inner = y.server;
        this.pairs++;
        if (st !== undefined) {
          st.outer++;
          const si = this.stat(y.server);
          si.inner++;
          const cl = clientOf(c);
          if (y.client === cl) si.sameClientPort++;
          else if (hostOf(y.client) === hostOf(server)) si.fromOuterAddress++;
        }
      }
    }
    // After the decision only the backend side's exchanges can be found inside others.
    if (this.decided && !this.innerEndpoints.has(server)) return inner;
    if (this.count >= MAX_CANDIDATES) {
      this.byKey.clear();
      this.count = 0;
      list = undefined;
    }
    if (list === undefined) this.byKey.set(h, (list = []));
    list.push({ reqT, resT, resEndT, server, stream, client: this.decided ? '' : clientOf(c) });
    this.count++;
    return inner;
  }

  /** Decides from the pairs seen so far (once); afterwards pairing runs only when both sides were found. */
  decide(): boolean {
    if (this.decided) return this.both;
    this.decided = true;
    let innerN = 0;
    let innerPaired = 0;
    let outerN = 0;
    let outerPaired = 0;
    for (const [ep, s] of this.stats) {
      if (s.n === 0) continue;
      if (s.inner >= SHARE * s.n) {
        this.innerEndpoints.add(ep);
        innerN += s.n;
        innerPaired += s.inner;
      } else if (s.outer >= SHARE * s.n && s.inner <= (1 - SHARE) * s.n) {
        this.outerEndpoints.add(ep);
        outerN += s.n;
        outerPaired += s.outer;
      }
    }
    this.both = this.innerEndpoints.size > 0 && this.outerEndpoints.size > 0 && this.pairs >= MIN_PAIRS && innerPaired >= SHARE * innerN && outerPaired >= SHARE * outerN;
    if (!this.both) {
      this.innerEndpoints.clear();
      this.outerEndpoints.clear();
      this.active = false;
      this.byKey.clear();
      this.count = 0;
    }
    return this.both;
  }

  /** True when the exchange on `server` is the backend side's copy (left out of the tallies). */
  isInner(server: string): boolean {
    return this.both && this.innerEndpoints.has(server);
  }

  /** The note for the report: what showed both sides, which connections were counted. */
  note(): string {
    const list = (s: Set<string>): string => {
      const a = [...s];
      return a.length > 4 ? `${a.slice(0, 4).join(', ')} and ${a.length - 4} more` : a.join(', ');
    };
    let how = '';
    let same = 0;
    let fromOuter = 0;
    let inner = 0;
    for (const ep of this.innerEndpoints) {
      const s = this.stats.get(ep)!;
      same += s.sameClientPort;
      fromOuter += s.fromOuterAddress;
      inner += s.inner;
    }
    if (same >= SHARE * inner) how = '; the backend-side connections keep the client\'s own address and port (the same connections after destination NAT: iptables DNAT, IPVS NAT, kube-proxy)';
    else if (fromOuter >= SHARE * inner) how = '; the backend-side connections come from the address the client-side connections went to (the balancer\'s own connections: an HTTP proxy, or a TCP proxy such as haproxy mode tcp)';
    const streams = [...this.droppedStreams];
    const shown = streams.slice(0, 8).join(', ') + (streams.length > 8 ? ', …' : '');
    return (
      `this capture holds both sides of a balancer: the exchanges on connections to ${list(this.innerEndpoints)} repeat those to ${list(this.outerEndpoints)} ` +
      `(same method, status and body, nested in time: forwarded after the request came, answered before the client got it; ${this.pairs} pairs)${how}. ` +
      `Each request is counted once, on the client side (connections to ${list(this.outerEndpoints)}); the ${this.dropped} backend-side exchange${this.dropped === 1 ? '' : 's'} (tcp.stream ${shown}) are left out of the tallies` +
      (this.lent > 0 ? `, and their server address names the backend of ${this.lent} client-side exchange${this.lent === 1 ? '' : 's'} whose response does not name it` : '')
    );
  }
}
