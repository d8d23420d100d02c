/**
 * What every probe detector gets: the run's tallies (one per mode, in run order), the user's
 * expectations, and facts derived once from the tallies. Detectors read it; none changes it.
 */
import type { Detector } from '../../core/detector.js';
import type { Finding } from '../../core/finding.js';
import type { LocalPortFacts } from '../local-ports.js';
import type { ModeTally } from '../tally.js';
import { allBackendNames } from './shares.js';

export interface AnalyseOptions {
  /** `--expect N`: how many backends should answer. */
  expect?: number;
  /** `--expect-backends a,b,c`. */
  expectBackends?: string[];
  /** `--weights a=3,b=1`: expected shares (backends not named weigh 1). */
  weights?: Map<string, number>;
  /** Significance level for `imbalance` (default 0.001). */
  alpha?: number;
  /** The protocol the run spoke (default http1): findings word their meaning and fix for HTTP/2 and gRPC. */
  protocol?: 'http1' | 'h2' | 'grpc';
  /** HTTP/2 runs: GOAWAY frames received from the server, per mode (a server ending connections: gRPC MAX_CONNECTION_AGE). */
  goaways?: Partial<Record<string, number>>;
  /** What the run saw on the wire when the protocols seemed to disagree (protocol-mismatch's evidence). */
  wire?: WireCheck;
  /** The probe machine's port range, tcp_tw_reuse and TIME_WAIT count (for local-port-exhaustion). */
  localPorts?: LocalPortFacts;
  /**
   * Captures only: the client addresses that got identified answers (how many, `atLeast` when
   * there were more than were kept, one of them, and their common IPv4 /24 when they share one),
   * so findings speak of a capture's clients, not of --source.
   */
  captureClients?: { count: number; atLeast: boolean; first: string; slash24: string };
  /** Where the records come from (default probe): a capture's requests were not dealt to connections by lbdiag. */
  source?: 'probe' | 'capture';
}

export interface ProbeContext {
  /** Every mode of the run, in the order they ran. */
  modes: readonly ModeTally[];
  options: AnalyseOptions;
  /** Backends that answered successfully in any mode. */
  seen: ReadonlySet<string>;
}

export function probeContext(modes: readonly ModeTally[], options: AnalyseOptions): ProbeContext {
  return { modes, options, seen: allBackendNames(modes) };
}

/** A detector that looks at the whole run (all modes at once). */
export type RunDetector = Detector<readonly ModeTally[], ProbeContext>;

/** A detector that looks at one mode (the rest of the run is in the context). */
export type ModeDetector = Detector<ModeTally, ProbeContext>;

/**
 * Per-mode detectors as one run detector: for each mode in run order, each detector in the order
 * given (so a mode's related findings stay together, as `intermittent-errors` and
 * `idle-timeout-reset` do).
 */
export function eachMode(...detectors: ModeDetector[]): RunDetector {
  return (modes, ctx) => {
    const out: Finding[] = [];
    for (const m of modes)
      for (const d of detectors) {
        const f = d(m, ctx);
        if (f === null) continue;
        if (Array.isArray(f)) out.push(...(f as readonly Finding[]));
        else out.push(f as Finding);
      }
    return out;
  };
}

/** What the wire showed about the HTTP version (protocol-mismatch's evidence), gathered by the run. */
export interface WireCheck {
  /** The reply to an HTTP/2 connection preface: http1, http2, other, none; and the first line or frames. */
  prefaceReply?: { kind: string; seen: string; alpn?: string | false };
  /** https + --http2: what ALPN agreed on instead of h2 (false: nothing). */
  alpnAgreed?: string | false;
}
