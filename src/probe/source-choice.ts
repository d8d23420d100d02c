/**
 * Which target address and which local address (`--source`) each new connection uses
 * (`endpointPicker`, for both the HTTP/1.1 and the HTTP/2 engine). Without --source the target's
 * addresses take turns. The source x backend test
 * (detectors/source-affinity.ts) needs the source of a connection to be independent of whatever
 * sequence the balancer follows (round robin, least connections), and it is most decisive when
 * every source has the same number of connections. A shuffled deck gives both: the run's planned
 * connections split evenly over the sources, dealt in one uniformly random order. Against any
 * balancer sequence the table then has both margins fixed and is hypergeometric under no
 * affinity, the exact null of the chi-square test of independence. A run that outlasts its plan
 * (reconnects, -d) deals new decks of at least 32 per source (a keep-alive plan of one connection per
 * source would otherwise repeat as one permutation per round).
 *
 * Not a fixed rotation (3 sources over a 3-backend round robin would map each source to one
 * backend), nor a fresh permutation of the sources per round, used before: each round's sources
 * against a round robin's backends then form a permutation matrix, whose cells vary 1.5 times as
 * much as independence allows; through haproxy `balance roundrobin` the statistic averaged 5.5 on
 * 4 degrees of freedom (40 runs) and once reached p = 6.6e-5, a false `source-affinity`. Nor
 * independent draws per connection: unequal connection counts per source push expected cells
 * below Cochran's limits and leave clear affinity undecided.
 */

import { isIP } from 'node:net';
import type { Endpoint } from './connection.js';

/** Copies of each endpoint per deck when the run does not say how many connections it will open; and at most. */
const DEFAULT_PER_ENDPOINT = 32;
const MAX_PER_ENDPOINT = 4096;

export class SourceDeck<T> {
  private deck: T[] = [];
  private at = 0;
  private perEndpoint: number;

  constructor(
    private readonly endpoints: readonly T[],
    /** Connections the run plans to open (undefined: not known in advance). */
    planned: number | undefined,
  ) {
    const per = planned === undefined ? DEFAULT_PER_ENDPOINT : Math.ceil(planned / endpoints.length);
    this.perEndpoint = Math.min(MAX_PER_ENDPOINT, Math.max(1, per));
  }

  next(): T {
    if (this.at === this.deck.length) this.deal();
    return this.deck[this.at++];
  }

  private deal(): void {
    const d: T[] = [];
    for (const e of this.endpoints) for (let i = 0; i < this.perEndpoint; i++) d.push(e);
    for (let i = d.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      const x = d[i];
      d[i] = d[j];
      d[j] = x;
    }
    this.deck = d;
    this.at = 0;
    // Beyond the plan (keep-alive connections the server closed, reconnects): big decks, so a run of small
    // ones (one source each, per round) never lines up with a round robin again.
    this.perEndpoint = Math.max(this.perEndpoint, DEFAULT_PER_ENDPOINT);
  }
}

/** Connections a mode plans to open: one per request in short mode, -c in keep-alive, per -n/--max-conn-requests in rotate. */
export function plannedConnections(p: { mode: string; concurrency: number; requests?: number; maxConnRequests?: number }): number | undefined {
  if (p.mode === 'short') return p.requests;
  if (p.mode === 'rotate') return p.requests !== undefined && p.maxConnRequests ? Math.ceil(p.requests / p.maxConnRequests) + p.concurrency : undefined;
  return p.concurrency;
}

/**
 * The endpoint of each new connection (call once per connection opened): every (target address,
 * source of its family) pair from a shuffled deck with --source, else the target addresses in turn.
 */
export function endpointPicker(o: {
  addresses: string[];
  sources?: string[];
  endpoint: Omit<Endpoint, 'address'>;
  mode: string;
  concurrency: number;
  requests?: number;
  maxConnRequests?: number;
}): () => Endpoint {
  if (!o.sources?.length) {
    const endpoints: Endpoint[] = o.addresses.map((address) => ({ ...o.endpoint, address }));
    let opened = 0;
    return () => endpoints[opened++ % endpoints.length];
  }
  const sources = o.sources;
  const endpoints: Endpoint[] = o.addresses.flatMap((address) => sources.filter((src) => isIP(src) === isIP(address)).map((localAddress) => ({ ...o.endpoint, address, localAddress })));
  const deck = new SourceDeck(endpoints, plannedConnections(o));
  return () => deck.next();
}
