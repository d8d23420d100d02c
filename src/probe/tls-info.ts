/**
 * What one TLS handshake showed: protocol version, cipher, ALPN result and the server's
 * certificate (subject, issuer, names, validity, SHA-256 fingerprint). Read from the socket on
 * 'secureConnect' (and before a failed verification closes it), kept in the records of new
 * connections and tallied per backend. Also the TCP/TLS timing of a TLS socket.
 */
import type tls from 'node:tls';
import { performance } from 'node:perf_hooks';

export interface TlsCertInfo {
  /** Subject, as `CN=a.test, O=...` (the parts present). */
  subject: string;
  issuer: string;
  /** subjectAltName entries: `DNS:a.test`, `IP Address:127.0.0.1`. */
  sans: string[];
  /** ISO 8601. */
  notBefore: string;
  notAfter: string;
  /** SHA-256 of the DER certificate, `AB:CD:...`. */
  fingerprint256: string;
  /** Subject equals issuer (no CA signed it). */
  selfSigned: boolean;
}

export interface TlsInfo {
  /** `TLSv1.3`, `TLSv1.2`, ... */
  version: string;
  cipher: string;
  /** The protocol ALPN chose (`h2`, `http/1.1`), or null when the server chose none. */
  alpn: string | null;
  /** The SNI the client sent (absent when none). */
  sni?: string;
  cert?: TlsCertInfo;
  /**
   * The certificate's problems (TLS error kinds: tls-self-signed, tls-name-mismatch, ...), found
   * even with -k (which only stops them failing the request); empty when it verified.
   */
  verify?: string[];
}

type Name = Record<string, string | string[] | undefined> | undefined;

function nameText(n: Name): string {
  if (!n) return '';
  return Object.entries(n)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => `${k}=${Array.isArray(v) ? v.join('+') : v}`)
    .join(', ');
}

function iso(text: string | undefined): string {
  const d = text ? new Date(text) : undefined;
  return d && Number.isFinite(d.getTime()) ? d.toISOString() : '';
}

/** The certificate as the report shows it (from `getPeerCertificate()`), or undefined when there is none. */
export function certInfo(c: tls.PeerCertificate | undefined | null): TlsCertInfo | undefined {
  if (!c || !c.fingerprint256) return undefined;
  const subject = nameText(c.subject as unknown as Name);
  const issuer = nameText(c.issuer as unknown as Name);
  return {
    subject,
    issuer,
    sans: (c.subjectaltname ?? '').split(/,\s*/).filter(Boolean),
    notBefore: iso(c.valid_from),
    notAfter: iso(c.valid_to),
    fingerprint256: c.fingerprint256,
    selfSigned: subject === issuer && subject !== '',
  };
}

/** The handshake's result on a connected TLS socket. */
export function tlsInfo(s: tls.TLSSocket, sni: string | undefined): TlsInfo {
  const info: TlsInfo = {
    version: s.getProtocol() ?? 'unknown',
    cipher: s.getCipher()?.name ?? 'unknown',
    alpn: typeof s.alpnProtocol === 'string' ? s.alpnProtocol : null,
  };
  if (sni !== undefined) info.sni = sni;
  const cert = certInfo(s.getPeerCertificate(false));
  if (cert) info.cert = cert;
  return info;
}

/** The names a certificate is valid for (DNS and IP subjectAltNames; the CN when it has none, as old clients read it). */
export function certNames(c: TlsCertInfo): string[] {
  const names = c.sans.map((s) => s.replace(/^(DNS|IP Address):/, '')).filter((s) => !/^[A-Za-z ]+:/.test(s));
  if (names.length) return names;
  const cn = /(?:^|, )CN=([^,]+)/.exec(c.subject);
  return cn ? [cn[1]] : [];
}

/**
 * TCP connect and TLS handshake times of a TLS socket (ms since `t0`), from its 'connect' and
 * 'secureConnect' events. Attach right after `tls.connect`; read once the handshake ended.
 */
export class TlsTiming {
  tcpAt = 0;
  tlsAt = 0;
  constructor(
    s: tls.TLSSocket,
    readonly t0 = performance.now(),
  ) {
    s.once('connect', () => (this.tcpAt = performance.now()));
    s.once('secureConnect', () => (this.tlsAt ||= performance.now()));
  }
  /** TCP handshake (undefined until the TCP connection was made). */
  get connectMs(): number | undefined {
    return this.tcpAt ? this.tcpAt - this.t0 : undefined;
  }
  /** TLS handshake, from TCP connected to 'secureConnect'. */
  get tlsMs(): number | undefined {
    return this.tcpAt && this.tlsAt ? this.tlsAt - this.tcpAt : undefined;
  }
}
