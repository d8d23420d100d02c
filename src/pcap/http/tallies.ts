/**
 * Adapter from capture exchanges to the probe's tallies and diagnosis (src/probe/tally.ts,
 * src/probe/analyse.ts, used as they are): each exchange becomes the probe's record (stream as
 * the client's connection, request number on it, request time, time to first byte, status,
 * backend identity by the probe's own `identify()` rules), and each connection is filed as the
 * probe's modes are: a connection that carried several requests is a keep-alive connection
 * (`keepalive`), a one-request connection compares as the probe's `short` mode.
 *
 * Bounded memory: a connection's first record waits until its second request (then it is
 * keep-alive) or its end (then it is short); nothing else is kept per request. The first
 * `DECIDE_AFTER` events are held once, to decide two things before any tally sees a record:
 * - a "short plain body" identity that differs on more than half the responses (`backend be1 request 7`) is
 *   not a backend name: such bodies are dropped as identities (said in the notes);
 * - with no identity in any response and several server addresses, the capture was taken on the
 *   balancer's backend side: the server address names the backend (and per-connection pinning is
 *   not judged, since a connection has one server address by definition);
 * - whether the capture holds both sides of a balancer (both-sides.ts): then each request is
 *   counted once, on the client side, and the backend side's copies are left out.
 */
import type { Finding } from '../../core/finding.js';
import { analyse as analyseProbe, type AnalyseOptions } from '../../probe/analyse.js';
import { identify, type BackendFrom } from '../../probe/identity.js';
import type { HttpResponse } from '../../probe/http-response.js';
import type { ProbeRecord } from '../../probe/record.js';
import { ModeTally } from '../../probe/tally.js';
import { BACKEND_KEY, CONN_KEY, INSTANCE_KEY, PID_KEY, STARTED_KEY } from '../../wire/identity-headers.js';
import { clientIsA, serverOf, type Conn } from '../connection.js';
import { choicesByAddress, clientAddress, clientSummary, forCapture, imbalanceOverClients, MAX_CLIENTS, peakConcurrency, type ClientBackends } from './capture-verdicts.js';
import type { HttpSink } from './layer.js';
import { BODY_CAP, type CaptureExchange, type HttpStream } from './stream.js';
import { BothSides } from './both-sides.js';

const DECIDE_AFTER = 4096;
/** Spare records and connection states kept for reuse. */
const SPARE_RECORDS = 1024;
/** Keep-alive connection intervals kept to compute how many were open at once. */
const MAX_INTERVALS = 20000;

export type IdentitySource = 'response' | 'server-address' | 'none';

/**
 * `cli`: the client's address (IPv4 as a number, IPv6 as text) on a connection's first request, else 0.
 * `twin`: in a capture of both sides of a balancer, the server endpoint of this exchange's backend-side copy ('' when none).
 */
type Rec = ProbeRecord & { shortBody: boolean; cli: number | string; twin: string };

const EMPTY = Buffer.alloc(0);
const NO_HEADERS: Record<string, string> = Object.freeze({}) as Record<string, string>;

/** A record with every field present (one shape for all records). */
function blankRecord(): Rec {
  return {
    mode: 'short',
    t: 0,
    order: undefined,
    conn: 0,
    port: 0,
    addr: '',
    reused: false,
    seq: 0,
    totalMs: 0,
    shortBody: false,
    cli: 0,
    twin: '',
    idleMs: undefined,
    error: undefined,
    phase: undefined,
    status: undefined,
    ttfbMs: undefined,
    backend: undefined,
    instance: undefined,
    started: undefined,
    pid: undefined,
    serverConn: undefined,
    serverSeq: undefined,
    forwarded: undefined,
  };
}

/** The inputs and result of the last identity found without lbdiag whoami headers (`n` < 0: none yet). */
interface IdCache {
  n: number;
  body: Buffer;
  ctype: string | undefined;
  via: string | undefined;
  hv: string | undefined;
  backend: string | undefined;
  forwarded: string[] | undefined;
  shortBody: boolean;
}

/** a[at, at + n) equals b[0, n) (a short body byte by byte, a longer one natively). */
function sameBytes(a: Buffer, at: number, b: Buffer, n: number): boolean {
  if (n > 48) return a.compare(b, 0, n, at, at + n) === 0;
  for (let i = 0; i < n; i++) if (a[at + i] !== b[i]) return false;
  return true;
}

/** body[at, at + n) as a Buffer (the buffer itself when that is all of it; a view only when identity rules must read it). */
function bodyView(body: Buffer, at: number, n: number): Buffer {
  if (n === 0) return EMPTY;
  return at === 0 && n === body.length ? body : body.subarray(at, at + n);
}

function blankIdCache(): IdCache {
  return { n: -1, body: Buffer.alloc(BODY_CAP), ctype: undefined, via: undefined, hv: undefined, backend: undefined, forwarded: undefined, shortBody: false };
}

/** Response headers `identify()` reads (src/probe/identity.ts), plus the one --backend-from names. */
export function identityHeaders(from: BackendFrom): string[] {
  const h = [BACKEND_KEY, INSTANCE_KEY, STARTED_KEY, PID_KEY, CONN_KEY, 'content-type', 'via'];
  if (from.kind === 'header') h.push(from.name);
  return h;
}

/** A record, or the end of the connection with that stream number. */
type Event = Rec | number;

interface ConnState {
  first: Rec | null;
  count: number;
  firstT: number;
  /** This connection's entry in `intervals` (keep-alive connections only). */
  iv: [number, number] | null;
}

export interface HttpTallyResult {
  modes: ModeTally[];
  findings: Finding[];
  identity: IdentitySource;
  notes: string[];
  /** Server endpoints the HTTP connections went to (most requests first). */
  servers: string[];
}

export class HttpTallies implements HttpSink {
  readonly keepalive = new ModeTally('keepalive');
  readonly short = new ModeTally('short');
  private held: Event[] | null = [];
  private dropShortBodies = false;
  private useAddress = false;
  private readonly conns = new Map<number, ConnState>();
  private readonly intervals: [number, number][] = [];
  private readonly serverCounts = new Map<string, number>();
  private readonly names = new Map<string, string>();
  /** Per distinct short plain body while events are held: responses with it, and the request number (seq) they had (-1: several). */
  private shortBodyNames = new Map<string, { n: number; seq: number }>();
  private shortBodyCount = 0;
  private readonly addrNames = new Map<Conn, string>();
  private readonly v4Names = new Map<number, string>();
  /** The IPv4 server endpoint of the last exchange and its name (port -1: none yet). */
  private lastV4Addr = 0;
  private lastV4Port = -1;
  private lastV4Name = '';
  /** Both sides of a balancer in one capture (decided with the held events). */
  private readonly sides = new BothSides();
  /** Streams whose exchanges were left out as the backend side's copies (until their end). */
  private readonly innerStreams = new Set<number>();
  /** Who ended a keep-alive connection (1 server side, 2 client side), counted when its end is applied. */
  private readonly closeBy = new Map<number, number>();
  /** Client-side records kept with a response, and those whose backend came from their backend-side twin. */
  private keptResponses = 0;

  constructor(private readonly from: BackendFrom) {
    this.headerRule = from.kind === 'header' ? from.name : undefined;
  }

  exchange(x: CaptureExchange, c: Conn): void {
    const addr = this.server(c);
    // The record outlives this call while events are held, or as the first of its connection (it waits
    // until the connection shows whether it is keep-alive); otherwise it goes straight to a tally, which
    // keeps nothing of it, so one spare record is refilled.
    const st = this.held === null ? this.conns.get(x.stream) : undefined;
    const rec = st !== undefined && st.count >= 1 ? this.spare : (this.freeRecs.pop() ?? blankRecord());
    rec.mode = 'short';
    rec.t = x.reqT * 1000;
    rec.order = x.order;
    rec.conn = x.stream;
    rec.port = clientIsA(c) ? c.ap : c.bp;
    rec.addr = addr;
    rec.reused = x.seq > 1;
    rec.seq = x.seq;
    rec.totalMs = Math.max(0, ((x.error === '' ? x.resEndT : c.lastTime) - x.reqT) * 1000);
    rec.shortBody = false;
    rec.cli = x.seq === 1 ? clientAddress(c) : 0;
    rec.twin = '';
    rec.idleMs = x.idleS >= 0 ? x.idleS * 1000 : undefined;
    rec.error = rec.phase = rec.status = rec.ttfbMs = undefined;
    rec.backend = rec.instance = rec.started = rec.pid = rec.serverConn = rec.serverSeq = rec.forwarded = undefined;
    if (x.error !== '') {
      rec.error = x.error;
      rec.phase = 'response';
    } else {
      rec.status = x.status;
      rec.ttfbMs = Math.max(0, (x.resT - x.reqEndT) * 1000);
      const headers = x.headers;
      const body = x.body;
      const bs = x.bodyStart;
      const n = x.bodyEnd - bs;
      const deep = x.seq === 1;
      if (headers[BACKEND_KEY] === undefined && n <= BODY_CAP) {
        // No lbdiag whoami headers: the identity depends only on the body, the content type, Via (deep)
        // and the --backend-from header, and the same answer repeats response after response (one
        // backend's page): the last result for the same inputs is reused instead of re-running the rules.
        const e = deep ? this.deepId : this.plainId;
        const ctype = headers['content-type'];
        const via = headers.via;
        const hv = this.headerRule === undefined ? undefined : headers[this.headerRule];
        if (e.n >= 0 && e.n === n && e.ctype === ctype && e.via === via && e.hv === hv && sameBytes(body, bs, e.body, n)) {
          rec.backend = e.backend;
          rec.forwarded = e.forwarded;
          rec.shortBody = e.shortBody;
        } else {
          this.identifyInto(x, headers, bodyView(body, bs, n), deep, rec);
          e.n = n;
          body.copy(e.body, 0, bs, bs + n);
          e.ctype = ctype;
          e.via = via;
          e.hv = hv;
          e.backend = rec.backend;
          e.forwarded = rec.forwarded;
          e.shortBody = rec.shortBody;
        }
      } else this.identifyInto(x, headers, bodyView(body, bs, n), deep, rec);
    }
    if (x.error === '') rec.twin = this.sides.pair(x.method, x.status, x.bodyBytes, x.body, x.bodyStart, x.bodyEnd, x.reqT, x.resT, x.resEndT, x.stream, addr, c);
    if (x.close) this.closeAnnounced.add(x.stream);
    this.countServer(addr);
    // Not held: straight to the tallies with the connection's state looked up above.
    if (this.held === null) this.applyRecord(rec, st);
    else this.push(rec);
  }

  /** The probe's identity rules on one response, into `rec` (backend and instance interned, the short-body flag set). */
  private identifyInto(x: CaptureExchange, headers: Record<string, string>, body: Buffer, deep: boolean, rec: Rec): void {
    const res = this.res;
    res.status = x.status;
    res.headers = headers;
    res.body = body;
    res.bodyBytes = x.bodyBytes;
    res.close = x.close;
    identify(res, this.from, deep, rec);
    // Identity strings are interned: a million responses from three backends hold three strings.
    if (rec.backend !== undefined) rec.backend = this.intern(rec.backend);
    if (rec.instance !== undefined) rec.instance = this.intern(rec.instance);
    if (this.from.kind === 'auto' && rec.backend !== undefined && headers[BACKEND_KEY] === undefined && body.length <= 256 && body.toString('utf8').trim() === rec.backend) {
      rec.shortBody = true;
    }
    res.headers = NO_HEADERS;
    res.body = EMPTY;
  }

  /** The header --backend-from names, if that is the rule. */
  private readonly headerRule: string | undefined;
  /** The last identity found without lbdiag whoami headers, for first responses on a connection (deep) and the others. */
  private readonly deepId = blankIdCache();
  private readonly plainId = blankIdCache();

  /** The record `exchange()` refills when nothing keeps it, and the response it hands `identify()`. */
  private readonly spare: Rec = blankRecord();
  /**
   * Records a tally has taken (ModeTally.add keeps nothing of a record) that waited first, as the first
   * of their connection or while events were held: refilled by `exchange()` (it sets every field).
   */
  private readonly freeRecs: Rec[] = [];
  /** States of connections that are over, reused for new ones. */
  private readonly freeStates: ConnState[] = [];
  private readonly res: HttpResponse = { status: 0, headers: NO_HEADERS, body: EMPTY, bodyBytes: 0, close: false };

  connectionDone(c: Conn, s: HttpStream): void {
    // Who ended it: connection-churn claims the other side (server or balancer) ends keep-alive connections.
    if (s.requests > 1) {
      const a = clientIsA(c);
      const cli = a ? c.ab : c.ba;
      const srv = a ? c.ba : c.ab;
      const first = (d: typeof cli): number => Math.min(d.finFrame || Infinity, d.rstFrame || Infinity);
      const fs = first(srv);
      const fc = first(cli);
      // Who asked comes before who sent the first FIN: a server that closes after the client's `Connection: close`
      // does the client's bidding, and a client that closes at once on a `Connection: close` answer (its FIN often
      // leaves before the server's) does the server's.
      // Counted when the end is applied (a backend-side copy of a connection is not counted).
      if (s.clientClose) this.closeBy.set(c.stream, 2);
      else if (this.closeAnnounced.delete(c.stream)) this.closeBy.set(c.stream, 1);
      else if (fs < fc) this.closeBy.set(c.stream, 1);
      else if (fc < fs) this.closeBy.set(c.stream, 2);
    }
    this.closeAnnounced.delete(c.stream);
    // Its Conn may be reused for another connection (the worker reuses them): no name cached under it.
    if (c.v6) this.addrNames.delete(c);
    this.push(c.stream);
  }

  /** Streams whose server side announced the close (`Connection: close` or HTTP/1.0 answer) on a response. */
  private readonly closeAnnounced = new Set<number>();

  /** Keep-alive connections (several requests) by the side that sent the first FIN or RST. */
  private closedByServer = 0;
  private closedByClient = 0;

  private server(c: Conn): string {
    if (!c.v6) {
      // IPv4: the server endpoint as one number, so a capture of many short connections to one server formats it once.
      const a = clientIsA(c);
      const addr = a ? c.b0 : c.a0;
      const port = a ? c.bp : c.ap;
      // The same server as the last exchange's (one VIP, or one backend after another): no lookup.
      if (addr === this.lastV4Addr && port === this.lastV4Port) return this.lastV4Name;
      const key = (addr >>> 0) * 65536 + port;
      let v = this.v4Names.get(key);
      if (v === undefined) {
        v = this.intern(serverOf(c));
        if (this.v4Names.size > 4096) this.v4Names.clear();
        this.v4Names.set(key, v);
      }
      this.lastV4Addr = addr;
      this.lastV4Port = port;
      this.lastV4Name = v;
      return v;
    }
    let s = this.addrNames.get(c);
    if (s === undefined) {
      s = this.intern(serverOf(c));
      if (this.addrNames.size > 1024) this.addrNames.clear();
      this.addrNames.set(c, s);
    }
    return s;
  }

  private intern(s: string): string {
    const v = this.names.get(s);
    if (v !== undefined) return v;
    if (this.names.size < 100000) this.names.set(s, s);
    return s;
  }

  /**
   * One more exchange with server `addr`. Counted in `serverCounts` (in first-seen order, for the
   * servers list) by runs: the count of the current run of exchanges with one server is added when
   * another server comes, or at the end.
   */
  private countServer(addr: string): void {
    if (addr !== this.runServer) {
      this.flushServerRun();
      this.runServer = addr;
      if (!this.serverCounts.has(addr)) this.serverCounts.set(addr, 0);
    }
    this.runCount++;
  }

  private flushServerRun(): void {
    if (this.runCount > 0) this.serverCounts.set(this.runServer, this.serverCounts.get(this.runServer)! + this.runCount);
    this.runCount = 0;
  }

  private runServer = '';
  private runCount = 0;

  private push(e: Event): void {
    if (this.held !== null) {
      this.held.push(e);
      if (typeof e !== 'number' && e.shortBody) {
        this.shortBodyCount++;
        const b = this.shortBodyNames.get(e.backend!);
        if (b === undefined) this.shortBodyNames.set(e.backend!, { n: 1, seq: e.seq });
        else {
          b.n++;
          if (b.seq !== e.seq) b.seq = -1;
        }
      }
      if (this.held.length >= DECIDE_AFTER) this.decide();
      return;
    }
    this.apply(e);
  }

  /** Decides the identity rules on the events held so far, then lets them through. */
  private decide(): void {
    const held = this.held ?? [];
    this.held = null;
    // A backend's name repeats: bodies that mostly differ are per-request text (`request 7 on this connection`,
    // an id, a time). A body counts as repeating when seen 3 times or more, at two request numbers, or twice on
    // first requests: a capture of both sides of a balancer sees each response twice, at the same request
    // number, so "twice" alone does not make per-request text a name.
    let named = 0;
    for (const b of this.shortBodyNames.values()) if (b.n >= 3 || b.seq === -1 || (b.n === 2 && b.seq === 1)) named += b.n;
    const distinct = this.shortBodyNames.size;
    this.dropShortBodies = distinct > 2 && (distinct > 0.5 * this.shortBodyCount || named < 0.5 * this.shortBodyCount);
    let identified = 0;
    let responses = 0;
    for (const e of held) {
      if (typeof e === 'number' || e.status === undefined) continue;
      responses++;
      if (e.backend !== undefined && !(this.dropShortBodies && e.shortBody)) identified++;
    }
    // Both sides of a balancer: the server addresses are the VIP's and the backends', not backends each;
    // the backend side's copies name the backends (applyRecord).
    const both = this.sides.decide();
    this.useAddress = !both && responses > 0 && identified === 0 && this.serverCounts.size >= 2;
    for (const e of held) this.apply(e);
  }

  private apply(e: Event): void {
    if (typeof e !== 'number') return this.applyRecord(e, this.conns.get(e.conn));
    const by = this.closeBy.get(e);
    if (by !== undefined) {
      this.closeBy.delete(e);
      if (!this.innerStreams.has(e)) {
        if (by === 1) this.closedByServer++;
        else this.closedByClient++;
      }
    }
    this.innerStreams.delete(e);
    const st = this.conns.get(e);
    if (!st) return;
    this.conns.delete(e);
    if (st.count === 1 && st.first) this.add(this.short, st.first, st);
    this.freeState(st);
  }

  /** A record, `known` the state of its connection if it has one. */
  private applyRecord(r: Rec, known: ConnState | undefined): void {
    const sides = this.sides;
    if (sides.holdsBoth && sides.isInner(r.addr)) {
      // The backend side's copy of a request the client side shows: counted there, once.
      sides.dropped++;
      if (!this.innerStreams.has(r.conn)) {
        this.innerStreams.add(r.conn);
        if (sides.droppedStreams.size < 9) sides.droppedStreams.add(r.conn);
      }
      this.freeRec(r);
      return;
    }
    if (this.dropShortBodies && r.shortBody) r.backend = undefined;
    if (this.useAddress && r.backend === undefined && r.status !== undefined) r.backend = r.addr;
    if (sides.holdsBoth && r.status !== undefined) {
      this.keptResponses++;
      if (r.backend === undefined && r.twin !== '') {
        r.backend = r.twin;
        sides.lent++;
      }
    }
    let st = known;
    if (!st) {
      st = this.freeStates.pop() ?? { first: null, count: 0, firstT: 0, iv: null };
      st.firstT = r.t;
      this.conns.set(r.conn, st);
    }
    st.count++;
    if (st.count === 1) st.first = r;
    else {
      if (st.count === 2 && st.first) {
        this.add(this.keepalive, st.first, st);
        this.freeRec(st.first);
        st.first = null;
        this.keepalive.connectionsOpened++;
      }
      this.add(this.keepalive, r, st);
      this.freeRec(r);
    }
  }

  /** Per mode: client address -> backend of each of its connections (first request) -> connections; null once over MAX_CLIENTS. */
  private readonly clientBackends: ClientBackends = { keepalive: new Map(), short: new Map() };

  private freeRec(r: Rec): void {
    if (r !== this.spare && this.freeRecs.length < SPARE_RECORDS) this.freeRecs.push(r);
  }

  /** `st`'s connection is over (out of `conns`): its waiting first record, if any, was tallied. */
  private freeState(st: ConnState): void {
    if (st.first !== null) this.freeRec(st.first);
    if (this.freeStates.length >= SPARE_RECORDS) return;
    st.first = null;
    st.count = 0;
    st.iv = null;
    this.freeStates.push(st);
  }

  /** `st`: the state of r's connection (already out of `conns` for a short one). */
  private add(t: ModeTally, r: Rec, st: ConnState): void {
    r.mode = t.mode;
    t.add(r);
    const cl = this.clientBackends[t.mode as 'keepalive' | 'short'];
    if (cl !== null && r.cli !== 0 && r.backend !== undefined && r.status !== undefined && r.status < 500) {
      let b = cl.get(r.cli);
      if (b === undefined) {
        if (cl.size >= MAX_CLIENTS) this.clientBackends[t.mode as 'keepalive' | 'short'] = null;
        else cl.set(r.cli, (b = new Map()));
      }
      if (b !== undefined) b.set(r.backend, (b.get(r.backend) ?? 0) + 1);
    }
    if (t.mode === 'short') t.connectionsOpened++;
    if (t.mode === 'keepalive') {
      // Interval of the connection, for the concurrency (lanes) estimate.
      const end = r.t + r.totalMs;
      if (st.iv !== null) st.iv[1] = Math.max(st.iv[1], end);
      else if (this.intervals.length < MAX_INTERVALS) this.intervals.push((st.iv = [st.firstT, end]));
    }
  }

  /** End of input: the held events are decided, open connections filed, and the probe's diagnosis run. */
  result(options: AnalyseOptions): HttpTallyResult {
    if (this.held !== null) this.decide();
    for (const k of [...this.conns.keys()]) this.apply(k);
    const ka = this.keepalive;
    ka.lanes = Math.max(1, peakConcurrency(this.intervals));
    for (const t of [ka, this.short]) {
      if (t.requests > 0) t.durationMs = Math.max(0, t.endT - t.startT);
    }
    const modes = [ka, this.short].filter((t) => t.requests > 0);
    const direct = choicesByAddress(modes, ka, this.useAddress);
    let findings = modes.length ? analyseProbe(modes, { ...options, source: 'capture', captureClients: clientSummary(this.clientBackends) }) : [];
    // The probe's advice for a small sample is a bigger -n; a capture's is a longer capture.
    findings = findings.map((f) => (f.id === 'insufficient-data' ? forCapture(f) : f));
    const notes: string[] = [];
    // The capture shows who closed: churn is the other side's doing only when it closed most of them.
    if (findings.some((f) => f.id === 'connection-churn') && !(this.closedByServer > this.closedByClient)) {
      findings = findings.filter((f) => f.id !== 'connection-churn');
      notes.push(`${ka.connectionsOpened} keep-alive connections for at most ${ka.lanes} open at once, but the client side closed ${this.closedByClient} of them (first, or by asking with Connection: close; the server side ${this.closedByServer}): the client rotates its connections, not connection-churn`);
    }
    findings = imbalanceOverClients(findings, notes, this.clientBackends);
    // Both sides, no response naming its backend: the backend side's server addresses named them.
    const lentAll = this.sides.holdsBoth && this.sides.lent > 0 && this.sides.lent === this.keptResponses;
    const identity: IdentitySource = this.useAddress || lentAll ? 'server-address' : modes.some((m) => m.backends.size > 0) ? 'response' : 'none';
    if (this.sides.holdsBoth) notes.push(this.sides.note());
    if (this.dropShortBodies) notes.push(`response bodies are short but differ from one response to the next (${this.shortBodyNames.size} distinct in ${this.shortBodyCount}), so they are not backend names; pass --backend-from (header:NAME, json:PATH, regex:RE) to say where the backend's name is`);
    if (this.useAddress) {
      notes.push('no response names its backend; the connections go to several server addresses, so this looks like a capture on the balancer\'s backend side and each server address is taken as the backend');
      // A connection has one server address by definition: per-connection pinning cannot be judged from addresses.
      const pinned = findings.some((f) => f.id === 'keepalive-pinning');
      findings = findings.filter((f) => f.id !== 'keepalive-pinning');
      notes.push(`keep-alive pinning is not judged from server addresses (every connection has exactly one)${pinned ? '; capture on the client side, or have the backends name themselves (lbdiag whoami), to test it' : ''}`);
    }
    if (direct !== '') notes.push(direct);
    if (ka.requests > 0 && this.short.requests === 0)
      notes.push(`only keep-alive connections (${ka.connectionsOpened}, each carrying several requests): their per-connection backends show pinning or per-request balancing; how the balancer spreads new connections needs one-request connections (curl in a loop, or lbdiag probe --mode short)`);
    if (this.short.requests > 0 && ka.requests === 0)
      notes.push(`only one-request connections (${this.short.connectionsOpened}): they show how the balancer spreads new connections; keep-alive pinning cannot be judged (no connection carried two requests)`);
    this.flushServerRun();
    const servers = [...this.serverCounts].sort((a, b) => b[1] - a[1]).map(([s]) => s);
    return { modes, findings, identity, notes, servers };
  }
}
