/**
 * files → packets → TCP connections → detectors → findings + summary.
 * Several inputs are merged in time order like mergecap (a small heap; ties go to the earlier
 * file), so frame numbers equal those of the merged capture in Wireshark.
 */
import type { Finding } from '../report/finding.js';
import { UsageError } from '../report/errors.js';
import { CaptureReader, CorruptCaptureError, NotACaptureError, PACKET, type CaptureFormat } from './reader.js';
import { CHUNK_SIZE, openInput, type Input } from './source.js';
import { Decoded, OUTCOME_NAMES, TCP, UNKNOWN_LINK, decode, linkName } from './decode.js';
import { Tracker } from './tracker.js';
import { serverOf, type Conn } from './connection.js';
import { DETECTORS } from './detectors/index.js';
import type { DetectorContext } from './detectors/context.js';

export interface AnalyseOptions {
  stallThresholdS: number;
  /** Findings kept per id; the rest are counted in `summary.findingsOmitted`. */
  maxFindingsPerId?: number;
  stdin?: NodeJS.ReadableStream;
  /** Called about every chunk with progress numbers. */
  onProgress?: (p: Progress) => void;
  /** Checked between chunks: when true, stop and report what was gathered. */
  shouldStop?: () => boolean;
  /** Per TCP packet: frame number, tcp.stream and the analysis flags (tests compare with tshark). */
  onTcpPacket?: (frame: number, stream: number, flags: number) => void;
}

export interface Progress {
  packets: number;
  bytesRead: number;
  totalBytes: number | null;
}

export interface FileReport {
  path: string;
  format: CaptureFormat | null;
  gzip: boolean;
  linkTypes: string[];
  packets: number;
  /** Set when the file ended inside a record or had a corrupt record: what came before is analysed. */
  warning?: string;
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
}

interface Entry {
  index: number;
  input: Input;
  reader: CaptureReader;
  iter: AsyncIterator<Buffer>;
  report: FileReport;
  done: boolean;
}

const SERVERS_SHOWN = 100;

function earlier(a: CaptureReader, ai: number, b: CaptureReader, bi: number): boolean {
  if (a.sec !== b.sec) return a.sec < b.sec;
  if (a.nsec !== b.nsec) return a.nsec < b.nsec;
  return ai < bi;
}

export async function analyse(paths: string[], opts: AnalyseOptions): Promise<AnalysisResult> {
  if (paths.filter((p) => p === '-').length > 1) throw new UsageError('stdin (-) can be given only once');
  const warnings: string[] = [];
  const findings: Finding[] = [];
  const perId = new Map<string, number>();
  const maxPerId = opts.maxFindingsPerId ?? 1000;
  let omitted = 0;
  const servers = new Map<string, number>();
  const ctx: DetectorContext = { stallThresholdS: opts.stallThresholdS, origin: 0 };

  const onFinished = (c: Conn): void => {
    const s = serverOf(c);
    servers.set(s, (servers.get(s) ?? 0) + 1);
    for (const d of DETECTORS) {
      const f = d(c, ctx);
      if (!f) continue;
      const n = perId.get(f.id) ?? 0;
      perId.set(f.id, n + 1);
      if (n < maxPerId) findings.push(f);
      else omitted++;
    }
  };
  const tracker = new Tracker({ stallThresholdS: opts.stallThresholdS, onFinished });
  const dec = new Decoded();

  // Open every input and read up to its first packet, so a non-capture fails before any output.
  const entries: Entry[] = [];
  const all: Entry[] = [];
  try {
    for (let i = 0; i < paths.length; i++) {
      const input = await openInput(paths[i], opts.stdin);
      const e: Entry = {
        index: i,
        input,
        reader: new CaptureReader(),
        iter: input.chunks[Symbol.asyncIterator](),
        report: { path: paths[i], format: null, gzip: input.gzip, linkTypes: [], packets: 0 },
        done: false,
      };
      all.push(e);
      if (await fill(e, warnings)) entries.push(e);
    }
  } catch (err) {
    for (const e of all) e.input.close();
    throw err;
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

  let frame = 0;
  let bytes = 0;
  let captured = 0;
  let baseSec = -1;
  let firstSec = 0;
  let firstNsec = 0;
  let lastSec = 0;
  let lastNsec = 0;
  let minT = Infinity;
  let maxT = -Infinity;
  const outcomes = new Float64Array(OUTCOME_NAMES.length);
  const linkCounts = new Map<number, number>();
  const unknownLinks = new Map<number, number>();
  let curLink = -1;
  let curLinkCount = 0;
  let interrupted = false;
  const onTcp = opts.onTcpPacket;
  const totalBytes = all.every((e) => e.input.size !== null) ? all.reduce((n, e) => n + (e.input.size ?? 0), 0) : null;
  const progress = (): void => {
    if (!opts.onProgress) return;
    opts.onProgress({ packets: frame, bytesRead: all.reduce((n, e) => n + e.input.bytesRead(), 0), totalBytes });
  };

  while (heap.length > 0) {
    const e = heap[0];
    const r = e.reader;
    // ---- hot path: one record ----
    frame++;
    e.report.packets++;
    bytes += r.origlen;
    captured += r.caplen;
    if (baseSec < 0) {
      baseSec = r.sec;
      firstSec = r.sec;
      firstNsec = r.nsec;
      ctx.origin = r.nsec * 1e-9;
    }
    const t = r.sec - baseSec + r.nsec * 1e-9;
    if (t < minT) (minT = t), (firstSec = r.sec), (firstNsec = r.nsec);
    if (t > maxT) (maxT = t), (lastSec = r.sec), (lastNsec = r.nsec);
    if (r.linkType !== curLink) {
      if (curLink >= 0) linkCounts.set(curLink, (linkCounts.get(curLink) ?? 0) + curLinkCount);
      curLink = r.linkType;
      curLinkCount = 0;
    }
    curLinkCount++;
    const out = decode(r.buf, r.offset, r.caplen, r.linkType, dec);
    outcomes[out]++;
    if (out === TCP) {
      dec.t = t;
      const ta = tracker.process(dec, frame);
      if (onTcp !== undefined) onTcp(frame, tracker.lastStream, ta);
    }
    else if (out === UNKNOWN_LINK) unknownLinks.set(r.linkType, (unknownLinks.get(r.linkType) ?? 0) + 1);
    // ---- next record of this input ----
    let ok = false;
    try {
      ok = r.next() === PACKET;
    } catch (err) {
      corrupt(e, err, warnings);
    }
    if (!ok && !e.done) {
      progress();
      if (opts.shouldStop?.()) {
        interrupted = true;
        break;
      }
      ok = await fill(e, warnings);
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
  if (curLink >= 0) linkCounts.set(curLink, (linkCounts.get(curLink) ?? 0) + curLinkCount);
  for (const e of all) e.input.close();
  tracker.flush();

  for (const e of all) {
    e.report.format = e.reader.format;
    e.report.linkTypes = [...e.reader.linkTypes].map(linkName);
    if (e.report.warning) warnings.push(`${e.report.path}: ${e.report.warning}`);
  }
  const linkTypes: Record<string, number> = {};
  for (const [k, v] of [...linkCounts].sort((a, b) => b[1] - a[1])) linkTypes[linkName(k)] = (linkTypes[linkName(k)] ?? 0) + v;
  const protocols: Record<string, number> = {};
  const skipped: Record<string, number> = {};
  for (let i = 0; i < OUTCOME_NAMES.length; i++) {
    if (!outcomes[i]) continue;
    const name = OUTCOME_NAMES[i];
    if (i === UNKNOWN_LINK) continue;
    if (name === 'tcp' || name === 'udp' || name === 'icmp' || name === 'other-ip-protocol' || name === 'non-ip') protocols[name] = outcomes[i];
    else skipped[name] = outcomes[i];
  }
  for (const [k, v] of unknownLinks) skipped[`unsupported-link-type:${linkName(k)}`] = v;
  const serverList = [...servers].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1));
  const iso = (sec: number, nsec: number): string => {
    const ms = sec * 1000 + Math.floor(nsec / 1e6);
    const d = new Date(ms);
    if (!Number.isFinite(d.getTime())) return `${sec}.${String(nsec).padStart(9, '0')}`;
    return d.toISOString().replace(/\.\d{3}Z$/, `.${String(nsec).padStart(9, '0').slice(0, 6)}Z`);
  };
  const summary: Summary = {
    packets: frame,
    bytes,
    capturedBytes: captured,
    firstTime: frame ? iso(firstSec, firstNsec) : null,
    lastTime: frame ? iso(lastSec, lastNsec) : null,
    durationS: frame ? Math.round((maxT - minT) * 1e6) / 1e6 : 0,
    linkTypes,
    protocols,
    skipped,
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
  if (interrupted) warnings.push(`interrupted after ${frame} packets: the report covers what was read until then`);
  if (omitted) warnings.push(`${omitted} more findings not listed (at most ${maxPerId} per id)`);
  return { files: all.map((e) => e.report), summary, findings, warnings };
}

function corrupt(e: Entry, err: unknown, _warnings: string[]): void {
  if (!(err instanceof CorruptCaptureError)) throw err;
  e.done = true;
  e.report.warning = `corrupt record (${err.message}); analysed the ${e.report.packets} packets before it`;
}

/** Reads until the input has a packet ready (true) or is exhausted (false). */
async function fill(e: Entry, warnings: string[]): Promise<boolean> {
  for (;;) {
    if (e.done) return false;
    let r: number;
    try {
      r = e.reader.next();
    } catch (err) {
      if (err instanceof NotACaptureError) throw new UsageError(`${e.input.name}: ${err.message}`);
      corrupt(e, err, warnings);
      return false;
    }
    if (r === PACKET) return true;
    let chunk: IteratorResult<Buffer>;
    try {
      if (e.input.readInto) {
        const { buf, offset } = e.reader.space(CHUNK_SIZE);
        const n = await e.input.readInto(buf, offset, buf.length - offset);
        if (n > 0) {
          e.reader.commit(n);
          continue;
        }
        chunk = { done: true, value: undefined };
      } else chunk = await e.iter.next();
    } catch (err) {
      // A gzip stream cut short, or a read error: analyse what came before.
      e.done = true;
      if (e.reader.format === null) throw new UsageError(`${e.input.name}: ${(err as Error).message}`);
      e.report.warning = `input ended early (${(err as Error).message}); analysed the ${e.report.packets} packets before the cut`;
      return false;
    }
    if (chunk.done) {
      e.reader.end();
      try {
        r = e.reader.next();
      } catch (err) {
        if (err instanceof NotACaptureError) throw new UsageError(`${e.input.name}: ${err.message}`);
        corrupt(e, err, warnings);
        return false;
      }
      e.done = true;
      if (r === PACKET) {
        e.done = false; // unreachable in practice: end() adds no bytes
        return true;
      }
      if (e.reader.format === null) throw new UsageError(`${e.input.name}: not a capture file (empty)`);
      if (e.reader.truncatedAt !== null) {
        e.report.warning = `file is truncated (cut inside a record at byte ${e.reader.truncatedAt}); analysed the ${e.report.packets} packets before the cut`;
      }
      return false;
    }
    e.reader.push(chunk.value);
  }
}
