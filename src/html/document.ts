/**
 * The shapes the HTML renderer reads: the JSON documents `--json` prints (probe, merge, pcap, lab),
 * typed loosely on purpose. The renderer takes a parsed document, never live objects, so a stored
 * file or another command's document (merge) renders the same way; a field a document lacks is
 * left out of the page, never an error.
 */
import type { Finding } from '../core/finding.js';
import type { ModeReport } from '../probe/summary.js';

export type { Finding, ModeReport };

/** `lbdiag probe --json` (and `lbdiag merge --json`, which has the same per-mode shape). */
export interface ProbeDocument {
  command: 'probe' | 'merge';
  version?: string;
  startedAt?: string;
  durationMs?: number;
  interrupted?: boolean;
  target?: { url?: string; addresses?: string[] };
  config?: Record<string, unknown>;
  modes?: Partial<Record<string, ModeReport>>;
  findings?: Finding[];
  inputErrors?: string[];
  /** merge: the runs combined (any shape; listed when present). */
  sources?: unknown[];
}

export interface PcapDocument {
  command: 'pcap';
  version?: string;
  startedAt?: string;
  files?: { path: string; format?: string | null; gzip?: boolean; linkTypes?: string[]; packets?: number }[];
  summary?: {
    packets?: number;
    bytes?: number;
    capturedBytes?: number;
    firstTime?: string | null;
    lastTime?: string | null;
    durationS?: number;
    linkTypes?: Record<string, number>;
    protocols?: Record<string, number>;
    skipped?: Record<string, number>;
    encapsulations?: Record<string, number>;
    skippedInput?: Record<string, number>;
    tcp?: Record<string, number>;
    servers?: { server: string; connections: number }[];
    serversTotal?: number;
    findingsOmitted?: number;
    interrupted?: boolean;
  };
  findings?: Finding[];
  warnings?: string[];
  /** HTTP/1.x seen in the capture: counters and the probe's per-mode shape. */
  http?: {
    streams?: number;
    requests?: number;
    responses?: number;
    exchanges?: number;
    gaps?: number;
    snaplenCut?: number;
    unanswered?: number;
    orphanResponses?: number;
    identity?: string;
    notes?: string[];
    servers?: string[];
    modes?: Partial<Record<string, ModeReport>>;
  };
  interrupted?: boolean;
}

export interface LabStepDocument {
  name: string;
  step: string;
  balancer: string;
  expected?: string[];
  absent?: string[];
  found?: string[];
  checks?: { what: string; ok: boolean }[];
  ok?: boolean;
  skipped?: string;
  probe?: ProbeDocument | (Omit<ProbeDocument, 'command'> & { command?: string }) | null;
  pcap?: { file?: string | null; skipped?: string; findings?: Finding[]; summary?: Record<string, unknown> };
}

export interface LabDocument {
  command: 'lab';
  version?: string;
  startedAt?: string;
  durationMs?: number;
  interrupted?: boolean;
  /** `options` before the envelope, `config` after it: either is read. */
  options?: Record<string, unknown>;
  config?: Record<string, unknown>;
  scenarios?: LabStepDocument[];
  summary?: { scenario: string; naive?: string; finding?: string; fix?: string; ok?: boolean; skipped?: string; error?: string }[];
  ok?: boolean;
  findings?: Finding[];
}

export type HtmlDocument = ProbeDocument | PcapDocument | LabDocument;
