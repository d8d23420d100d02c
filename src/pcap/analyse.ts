/**
 * files → packets → TCP connections → detectors → findings + summary.
 * Several inputs are merged in time order like mergecap (a small heap; ties go to the earlier
 * file), so frame numbers equal those of the merged capture in Wireshark.
 */
import type { Finding } from '../core/finding.js';
import { UsageError } from '../core/errors.js';
import { openInput } from './source.js';
import { MAX_INTERFACES } from './reader.js';
import { corrupt, fill, newEntry, type Entry, type FileReport } from './capture-input.js';
import { OUTCOME_NAMES, UNKNOWN_LINK, linkName, type Decoded } from './decode.js';
import { OPENED } from './decode/encapsulations.js';
import { PacketLoop, earlier } from './packet-loop.js';
import { MAX_WAIT_S, Tracker } from './tracker.js';
import { clientIsA, serverOf, type Conn } from './connection.js';
import { DETECTORS } from './detectors/index.js';
import { secs, type DetectorContext } from './detectors/context.js';
import { Interrupted } from '../core/interrupt.js';
import type { HttpReport } from './http/summary.js';
import type { BackendFrom } from '../probe/identity.js';
import type { WorkerResult } from './threads/http-thread.js';

export type { FileReport } from './capture-input.js';

export interface AnalyseOptions {
  stallThresholdS: number;
  /** Findings kept per id; the rest are counted in `summary.findingsOmitted`. */
  maxFindingsPerId?: number;
  stdin?: NodeJS.ReadableStream;
  /** Called about every chunk with progress numbers. */
  onProgress?: (p: Progress) => void;
  /** Aborting stops reading (even a read blocked on an idle pipe) and reports what was gathered. */
  signal?: AbortSignal;
  /** Per TCP packet: frame number, tcp.stream and the analysis flags (tests compare with tshark). */
  onTcpPacket?: (frame: number, stream: number, flags: number) => void;
  /** Internal (tests): false keeps every finished connection a full object instead of a compact record; results must not change. */
  compactRecords?: boolean;
  /** HTTP/1.x analysis (default on): exchanges, the probe's tallies and findings. */
  http?: boolean;
  /** Where a response names its backend (`--backend-from`; default auto, the probe's rules). */
  backendFrom?: BackendFrom;
  /** Per parsed HTTP message: tcp.stream, response or request, frame of its last byte (tests compare with tshark). */
  onHttpMessage?: (stream: number, response: boolean, frame: number) => void;
  /**
   * Threads to use (`--threads`; default 1): with 2 or more, the HTTP layer runs in a worker thread
   * while this one reads, decodes and tracks TCP (src/pcap/threads/). The result is the same.
   * One thread is used anyway without HTTP analysis or with `onHttpMessage` (a callback here).
   */
  threads?: number;
}

/** What the packet loop and the tracker call in the HTTP layer, in this thread or through the worker. */
interface HttpHook {
  segment(c: Conn, p: Decoded, buf: Buffer, poff: number, end: number, frame: number): void;
  flush(): void;
  /** `last`: no later call for this `Conn` (the HTTP front does not need it). */
  finish(c: Conn, last: boolean): void;
  revived(c: Conn): void;
}

export interface Progress {
  packets: number;
  bytesRead: number;
  totalBytes: number | null;
}

export interface Summary {
  packets: number;
  bytes: number;
  capturedBytes: number;
  firstTime: string | null;
  lastTime: string | null;
  durationS: number;
  linkTypes: Record<string, number>;
  protocols: Record<string, number>;
  skipped: Record<string, number>;
  /** Packets per encapsulation layer opened to reach the IP packet inside (mpls, gre, vxlan, ...). */
  encapsulations: Record<string, number>;
  /** Capture structures the reader passed over, by reason (not packets: `skipped` counts those). */
  skippedInput: Record<string, number>;
  tcp: {
    packets: number;
    connections: number;
    retransmissions: number;
    resets: number;
    reusedPorts: number;
    peakTracked: number;
    released: number;
  };
  /** Connections per server endpoint (the backend distribution the capture shows), most first. */
  servers: { server: string; connections: number }[];
  serversTotal: number;
  findingsOmitted: number;
  interrupted: boolean;
}

export interface AnalysisResult {
  files: FileReport[];
  summary: Summary;
  findings: Finding[];
  warnings: string[];
  /** HTTP/1.x exchanges found in the capture, tallied like the probe's (absent with http: false). */
  http?: HttpReport;
  /** The findings (also in `findings`) that came from the HTTP exchanges, for the human report's HTTP part. */
  httpFindings?: Finding[];
}

const SERVERS_SHOWN = 100;

export async function analyse(paths: string[], opts: AnalyseOptions): Promise<AnalysisResult> {
  if (paths.filter((p) => p === '-').length > 1) throw new UsageError('stdin (-) can be given only once');
  const warnings: string[] = [];
  const findings: Finding[] = [];
  const perId = new Map<string, number>();
  const maxPerId = opts.maxFindingsPerId ?? 1000;
  let omitted = 0;
  const servers = new Map<string, number>();
  const ctx: DetectorContext = { stallThresholdS: opts.stallThresholdS, origin: 0 };

  // IPv4 server endpoints by address * 65536 + port: formatted once, not once per connection.
  const names = new Map<number, string>();
  const serverName = (c: Conn): string => {
    if (c.v6) return serverOf(c);
    const a = clientIsA(c);
    const key = (a ? c.b0 >>> 0 : c.a0 >>> 0) * 65536 + (a ? c.bp : c.ap);
    let s = names.get(key);
    if (s === undefined) names.set(key, (s = serverOf(c)));
    return s;
  };
  const count = (c: Conn, n: number): void => {
    const s = serverName(c);
    const v = (servers.get(s) ?? 0) + n;
    if (v !== 0) servers.set(s, v);
    else servers.delete(s);
  };
  // A cleanly finished connection no detector reports on is counted now and kept compact by the
  // tracker; detectors are pure functions of the connection, and any later packet revives it.
  // Detectors are pure functions of the TCP state, which the HTTP layer does not change: they are
  // asked first so that the HTTP side is told whether this is the connection's last call.
  const onSettle = (c: Conn): boolean => {
    for (const d of DETECTORS) {
      if (d(c, ctx) !== null) {
        http?.finish(c, false);
        return false;
      }
    }
    http?.finish(c, true);
    count(c, 1);
    return true;
  };
  // HTTP layer (src/pcap/http): finished with the connection whenever the tracker is.
  const backendFrom: BackendFrom = opts.backendFrom ?? { kind: 'auto' };
  const threaded = opts.http !== false && (opts.threads ?? 1) >= 2 && opts.onHttpMessage === undefined;
  // Loaded on use (after the command's Ctrl-C handler is in place): the probe's tallies and diagnosis.
  const H = opts.http === false || threaded ? null : await loadHttp();
  const tallies = H === null ? null : new H.HttpTallies(backendFrom);
  // Loaded on use too: a one-thread run does not load the worker side.
  const thread = threaded ? new (await import('./threads/http-thread.js')).HttpThread(backendFrom) : null;
  const layer = H === null || tallies === null ? null : new H.HttpLayer(tallies, opts.onHttpMessage, H.identityHeaders(backendFrom));
  // The HTTP front too: a --no-http run loads no HTTP module.
  const Front = thread !== null || layer !== null ? (await import('./http/front.js')).HttpFront : null;
  const http: HttpHook | null = Front === null ? null : thread !== null ? new Front(thread) : layer !== null ? new Front(layer) : null;
  const onRevive = (c: Conn): void => {
    http?.revived(c);
    count(c, -1);
  };
  const onFinished = (c: Conn): void => {
    http?.finish(c, true);
    count(c, 1);
    for (const d of DETECTORS) {
      const f = d(c, ctx);
      if (!f) continue;
      const n = perId.get(f.id) ?? 0;
      perId.set(f.id, n + 1);
      if (n < maxPerId) findings.push(f);
      else omitted++;
    }
  };
  const compact = opts.compactRecords ?? true;
  // Without the HTTP layer in this thread nothing keeps a settled connection's Conn (detectors and
  // the server count read it at once; with --threads the HTTP front copies what the worker needs
  // into the ring at once and keeps only its id), so the tracker may reuse it.
  const tracker = new Tracker({ stallThresholdS: opts.stallThresholdS, onFinished, onSettle: compact ? onSettle : undefined, onRevive, recycle: http === null || thread !== null });
  const loop = new PacketLoop(tracker, ctx, opts.onTcpPacket, http);

  // Open every input and read up to its first packet, so a non-capture fails before any output.
  const entries: Entry[] = [];
  const all: Entry[] = [];
  let openInterrupted = false;
  try {
    for (let i = 0; i < paths.length; i++) {
      const e = newEntry(i, paths[i], await openInput(paths[i], opts.stdin, opts.signal));
      all.push(e);
      if (await fill(e, opts.signal)) entries.push(e);
    }
  } catch (err) {
    if (err instanceof Interrupted) openInterrupted = true;
    else {
      for (const e of all) e.input.close();
      thread?.abandon();
      throw err;
    }
  }

  // Heap ordered by timestamp, then file index.
  const heap = entries;
  const less = (x: Entry, y: Entry): boolean => earlier(x.reader, x.index, y.reader, y.index);
  const siftDown = (i: number): void => {
    const n = heap.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) return;
      const r = l + 1;
      const m = r < n && less(heap[r], heap[l]) ? r : l;
      if (!less(heap[m], heap[i])) return;
      const t = heap[i];
      heap[i] = heap[m];
      heap[m] = t;
      i = m;
    }
  };
  for (let i = (heap.length >> 1) - 1; i >= 0; i--) siftDown(i);

  let interrupted = openInterrupted;
  const totalBytes = all.every((e) => e.input.size !== null) ? all.reduce((n, e) => n + (e.input.size ?? 0), 0) : null;
  const progress = (): void => {
    if (!opts.onProgress) return;
    opts.onProgress({ packets: loop.frame, bytesRead: all.reduce((n, e) => n + e.input.bytesRead(), 0), totalBytes });
  };

  try {
    await mergeInputs();
  } catch (err) {
    for (const e of all) e.input.close();
    thread?.abandon();
    throw err;
  }
  // Reads the inputs through the packet loop in time order (a heap of inputs).
  async function mergeInputs(): Promise<void> {
    while (heap.length > 0) {
      const e = heap[0];
      // The runner-up input bounds how far this one may run ahead.
      let bound: Entry | null = null;
      if (heap.length > 1) bound = heap.length > 2 && less(heap[2], heap[1]) ? heap[2] : heap[1];
      const before = loop.frame;
      let ok = false;
      let failed: unknown = null;
      try {
        ok = loop.run(e.reader, e.index, bound === null ? null : bound.reader, bound === null ? 0 : bound.index);
      } catch (err) {
        failed = err;
      }
      // Counted before a corrupt record is reported, so its warning has the right number.
      e.report.packets += loop.frame - before;
      if (failed !== null) corrupt(e, failed);
      if (!ok && !e.done) {
        progress();
        try {
          ok = await fill(e, opts.signal);
        } catch (err) {
          if (!(err instanceof Interrupted)) throw err;
          interrupted = true;
          break;
        }
      }
      if (ok) siftDown(0);
      else {
        const last = heap.pop()!;
        if (heap.length > 0) {
          heap[0] = last;
          siftDown(0);
        }
      }
    }
  }
  for (const e of all) e.input.close();
  tracker.flush();
  let fromThread: WorkerResult | null = null;
  if (thread !== null) fromThread = await thread.close();

  for (const e of all) {
    e.report.format = e.reader.format;
    e.report.linkTypes = [...e.reader.linkTypes].map(linkName);
    if (e.report.warning) warnings.push(`${e.report.path}: ${e.report.warning}`);
  }
  const linkTypes: Record<string, number> = {};
  for (const [k, v] of [...loop.links()].sort((a, b) => b[1] - a[1])) linkTypes[linkName(k)] = (linkTypes[linkName(k)] ?? 0) + v;
  const protocols: Record<string, number> = {};
  const skipped: Record<string, number> = {};
  for (let i = 0; i < OUTCOME_NAMES.length; i++) {
    const outcomes = loop.outcomes;
    if (!outcomes[i]) continue;
    const name = OUTCOME_NAMES[i];
    if (i === UNKNOWN_LINK) continue;
    if (name === 'tcp' || name === 'udp' || name === 'icmp' || name === 'other-ip-protocol' || name === 'non-ip') protocols[name] = outcomes[i];
    else skipped[name] = outcomes[i];
  }
  for (const [k, v] of loop.unknownLinks) skipped[`unsupported-link-type:${linkName(k)}`] = v;
  const dec = loop.dec;
  const opened = dec.encapsulations;
  if (dec.bothViews.copies) {
    warnings.push(
      `${dec.bothViews.copies} TCP segments were captured twice, inside a tunnel and outside it (e.g. tcpdump -i any on a tunnel endpoint): ` +
        `each is analysed once (Wireshark, which tracks TCP by addresses and ports only, flags the second copies as retransmissions); ` +
        `they are counted under skipped as tcp-captured-twice`,
    );
  }
  if (tracker.clockJumps > 0) {
    const j = tracker.longestJump;
    const n = tracker.clockJumps;
    warnings.push(
      `${n} gap${n === 1 ? '' : 's'} of over ${secs(MAX_WAIT_S)} inside connections waiting on a handshake or on unacknowledged data ` +
        `(the longest: ${secs(j.gapS)} in tcp.stream ${j.stream}, frames ${j.fromFrame} to ${j.toFrame}): no TCP stack waits that long, ` +
        `so ${n === 1 ? 'it is not reported as a stall' : 'they are not reported as stalls'}; the capture's timestamps are not continuous ` +
        `(a clock step while capturing, captures merged from hosts whose clocks differ, or an edited file)`,
    );
  }
  const encapsulations: Record<string, number> = {};
  OPENED.forEach((name, i) => {
    if (opened[i]) encapsulations[name] = opened[i];
  });
  for (const [k, v] of Object.entries(skipped)) {
    const m = /^unsupported-(link-type|encapsulation):(.*)$/.exec(k);
    if (m) warnings.push(`${v} packet${v === 1 ? '' : 's'} ${m[1] === 'link-type' ? 'of link type' : 'in'} ${m[2]} not opened: TCP inside ${v === 1 ? 'it is' : 'them is'} not analysed`);
  }
  // What the readers passed over (pcapng interfaces past the limit and the packets on them):
  // not packets of the capture, so apart from `skipped`, which counts every packet once.
  const skippedInput: Record<string, number> = {};
  for (const e of all) {
    for (const [k, v] of e.reader.skipped) skippedInput[k] = (skippedInput[k] ?? 0) + v;
    const over = e.reader.skipped.get('pcapng-interface-over-limit');
    if (over) {
      const lost = e.reader.skipped.get('packet-on-interface-over-limit') ?? 0;
      warnings.push(`${e.report.path}: ${over} interface description blocks past the first ${MAX_INTERFACES} of a section were not kept; ${lost} packets on them were not analysed`);
    }
  }
  const serverList = [...servers].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const iso = (sec: number, nsec: number): string => {
    const ms = sec * 1000 + Math.floor(nsec / 1e6);
    const d = new Date(ms);
    if (!Number.isFinite(d.getTime())) return `${sec}.${String(nsec).padStart(9, '0')}`;
    return d.toISOString().replace(/\.\d{3}Z$/, `.${String(nsec).padStart(9, '0').slice(0, 6)}Z`);
  };
  const { frame, minT, maxT } = loop;
  const summary: Summary = {
    packets: frame,
    bytes: loop.bytes,
    capturedBytes: loop.captured,
    firstTime: frame ? iso(loop.firstSec, loop.firstNsec) : null,
    lastTime: frame ? iso(loop.lastSec, loop.lastNsec) : null,
    durationS: frame ? Math.round((maxT - minT) * 1e6) / 1e6 : 0,
    linkTypes,
    protocols,
    skipped,
    encapsulations,
    skippedInput,
    tcp: {
      packets: tracker.tcpPackets,
      connections: tracker.streams,
      retransmissions: tracker.retransmissions,
      resets: tracker.resets,
      reusedPorts: tracker.reusedPorts,
      peakTracked: tracker.peakLive,
      released: tracker.released,
    },
    servers: serverList.slice(0, SERVERS_SHOWN).map(([server, connections]) => ({ server, connections })),
    serversTotal: serverList.length,
    findingsOmitted: omitted,
    interrupted,
  };
  let httpRes: HttpReport | undefined;
  let httpFindings: Finding[] = [];
  if (fromThread !== null) {
    httpRes = fromThread.report;
    httpFindings = fromThread.findings;
    findings.push(...httpFindings);
  } else if (H !== null && tallies !== null && layer !== null) {
    const r = tallies.result({});
    httpRes = H.httpReport(layer.counters, r);
    httpFindings = r.findings;
    findings.push(...r.findings);
  }
  if (interrupted) warnings.push(`interrupted after ${frame} packets: the report covers what was read until then`);
  if (omitted) warnings.push(`${omitted} more findings not listed (at most ${maxPerId} per id)`);
  // Inputs not opened because the run was interrupted first (a FIFO with no writer yet) are listed too.
  const files = paths.map((p, i) => all[i]?.report ?? { path: p, format: null, gzip: false, linkTypes: [], packets: 0 });
  const result: AnalysisResult = { files, summary, findings, warnings };
  if (httpRes !== undefined) {
    result.http = httpRes;
    result.httpFindings = httpFindings;
  }
  return result;
}

async function loadHttp() {
  const [layer, tallies, summary] = await Promise.all([import('./http/layer.js'), import('./http/tallies.js'), import('./http/summary.js')]);
  return { HttpLayer: layer.HttpLayer, HttpTallies: tallies.HttpTallies, identityHeaders: tallies.identityHeaders, httpReport: summary.httpReport };
}
