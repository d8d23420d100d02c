/** One request as the probe saw it: the unit streamed to `--records` and fed to the tallies. */
import type { Identity } from './identity.js';
import type { TlsInfo } from './tls-info.js';

/** Where a request failed: connecting (TCP), in the TLS handshake (TCP accepted), or after the request was written. */
export type ExchangePhase = 'connect' | 'tls' | 'response';

export type ProbeMode = 'keepalive' | 'short' | 'rotate';

/** Every mode, in the order a run goes through them (merge walks them). */
export const MODES: readonly ProbeMode[] = ['keepalive', 'short', 'rotate'];

/** How one exchange on a client connection went, in time: shared by the connection and the record. */
export interface ExchangeTiming {
  /** The connection had carried a request before this one. */
  reused: boolean;
  /** 1-based index of this request on the client connection. */
  seq: number;
  /** On a reused connection: ms it sat idle since the previous response. */
  idleMs?: number;
  /** TCP connect time (the TCP handshake only), on a new connection only. */
  connectMs?: number;
  /** https: TLS handshake time (TCP connected to handshake done), on a new connection only. */
  tlsMs?: number;
  /** Request written to first response byte. */
  ttfbMs?: number;
  /** Request start (including any connect) to the end of the response or the error. */
  totalMs: number;
}

/** One request: where it went, how long it took, how it ended and which backend answered it. */
export interface ProbeRecord extends ExchangeTiming, Identity {
  mode: ProbeMode;
  /** Request start, ms since the run started. */
  t: number;
  /** Dispatch order of the request within its mode (0-based): the order requests left the client. */
  order?: number;
  /** Client connection number, unique within the run (1-based). */
  conn: number;
  /** Client's local port (0 when the connect failed). */
  port: number;
  /** Remote address the connection went to. */
  addr: string;
  /** `--source`: the local address the connection was bound to. */
  src?: string;
  status?: number;
  /** Error kind (refused, reset, timeout, closed, bad-response, ...), when no response came. */
  error?: string;
  /** HTTP/2 (`--http2`, `--grpc`): the stream's id on its connection. */
  stream?: number;
  /** Where it failed: during connect, in the TLS handshake, or after the request was written. */
  phase?: ExchangePhase;
  /** https, first request of a connection: version, cipher, ALPN, certificate (and its problems). */
  tls?: TlsInfo;
  /** A `tls-*` error's exact problem: dates, the certificate's names against the SNI, the alert. */
  tlsError?: string;
}

