/**
 * One TLS connection to the target with the run's settings, for any client that is handed a
 * socket (an `http2.connect` `createConnection`, a gRPC channel): the same SNI, trust and
 * verification as the HTTP/1.1 probe connections (connection.ts), the TCP and TLS handshakes
 * timed apart, and a failed verification turned into an error whose `code` is the TLS error kind
 * (`tls-self-signed`, ...) and whose message is the exact problem.
 */
import tls from 'node:tls';
import { performance } from 'node:perf_hooks';
import { classifyHandshakeError, verifyPeer, type TlsFailure } from './tls-errors.js';
import { TlsTiming, tlsInfo, type TlsInfo } from './tls-info.js';
import { tlsConnectOptions, type TlsSettings } from './tls-options.js';

/** The error a TLS connection fails with: `code` is the tls-* kind, `tlsDetail` the exact problem. */
export class TlsConnectError extends Error {
  readonly code: string;
  constructor(
    readonly failure: TlsFailure,
    readonly info?: TlsInfo,
  ) {
    super(failure.detail);
    this.name = 'TlsConnectError';
    this.code = failure.kind;
  }
}

export interface TlsHandshake {
  info: TlsInfo;
  /** ms from the call to TCP connected. */
  connectMs: number;
  /** ms from TCP connected to the TLS handshake done. */
  tlsMs: number;
}

export interface ConnectTlsOptions {
  address: string;
  port: number;
  localAddress?: string;
  /** ALPN protocols to offer (`['h2']` for HTTP/2). */
  alpn?: string[];
  /** Called once the handshake is done and the certificate accepted (or -k). */
  onHandshake?: (h: TlsHandshake) => void;
}

/**
 * Opens the connection. The socket is returned at once (as `createConnection` must). When the
 * certificate fails verification (and not -k) the socket is destroyed with a TlsConnectError
 * before anything is sent and 'secureConnect' never reaches the caller's listeners. A TLS alert or a non-TLS
 * answer during the handshake is re-emitted as a TlsConnectError too; plain resets and closes
 * stay as they are (a balancer with no backend does that: not a TLS problem).
 */
export function connectTls(s: TlsSettings, o: ConnectTlsOptions): tls.TLSSocket {
  const socket = tls.connect(tlsConnectOptions(s, o.address, o.port, o.localAddress, o.alpn));
  const timing = new TlsTiming(socket);
  // Verification runs inside emit('secureConnect'), before any listener: a certificate that fails
  // must never reach a listener that would start using the socket (http2 sets up its session on
  // 'secureConnect', and doing so on a destroyed socket aborts the process). Handshake errors
  // from OpenSSL are rewritten into TlsConnectError the same way.
  const emit = socket.emit.bind(socket);
  socket.emit = ((event: string | symbol, ...args: unknown[]): boolean => {
    if (event === 'secureConnect') {
      timing.tlsAt ||= performance.now();
      const info = tlsInfo(socket, s.servername);
      const problems = verifyPeer(socket, s);
      info.verify = problems.map((p) => p.kind);
      if (problems.length && !s.insecure) {
        socket.destroy(new TlsConnectError({ ...problems[0], detail: problems.map((p) => p.detail).join('; ') }, info));
        return false;
      }
      o.onHandshake?.({ info, connectMs: timing.connectMs ?? 0, tlsMs: timing.tlsMs ?? 0 });
    } else if (event === 'error' && !(args[0] instanceof TlsConnectError) && timing.tcpAt && !timing.tlsAt) {
      const f = classifyHandshakeError(args[0]);
      if (f) return emit('error', new TlsConnectError(f));
    }
    return emit(event, ...args);
  }) as typeof socket.emit;
  return socket;
}
