/**
 * TLS failures, classified: certificate verification (done here, on 'secureConnect', so the
 * certificate can be named) and handshake errors OpenSSL reports (alerts, version, not TLS).
 * Each failure has a stable error kind (`tls-*`, used in records and tallies), a one-line detail
 * naming the exact problem, and the flag that bypasses or fixes it.
 *
 * A connection closed or reset during the handshake WITHOUT a TLS alert is not classified here:
 * a balancer with no backend (or an SNI router with no route) does exactly that, so it stays a
 * `closed`/`reset` in the `tls` phase and the failure detectors weigh both readings.
 */
import tls from 'node:tls';
import { certInfo, certNames, type TlsCertInfo } from './tls-info.js';
import type { TlsSettings } from './tls-options.js';

export interface TlsFailure {
  /** Stable error kind (see TLS_KINDS). */
  kind: string;
  /** The exact problem, one line: dates, names, issuer. */
  detail: string;
  /** Node/OpenSSL code it came from. */
  code: string;
  cert?: TlsCertInfo;
}

/** Every TLS error kind, with what it means and the flag that fixes or bypasses it. */
export const TLS_KINDS: Record<string, { what: string; fix: string; bypass?: string }> = {
  'tls-expired': { what: 'the certificate has expired', fix: 'renew the certificate on the server', bypass: '-k skips verification meanwhile' },
  'tls-not-yet-valid': { what: 'the certificate is not valid yet', fix: 'check the clocks (of the machine that issued it, and of this one)', bypass: '-k skips verification meanwhile' },
  'tls-self-signed': { what: 'the certificate is self-signed (no CA signed it)', fix: '--cacert FILE with this certificate trusts it (or give the server a certificate from a CA the clients trust)', bypass: '-k skips verification' },
  'tls-unknown-ca': { what: 'the certificate was issued by a CA this client does not trust', fix: '--cacert FILE with the issuing CA (PEM) trusts it (or have the server send its intermediate certificates)', bypass: '-k skips verification' },
  'tls-name-mismatch': { what: 'the certificate does not hold the name the client asked for', fix: '--sni NAME with a name the certificate holds (it is also the name verified), or a certificate for the name the clients use', bypass: '-k skips verification' },
  'tls-cert-invalid': { what: 'the certificate chain is invalid', fix: 'fix the chain the server sends', bypass: '-k skips verification' },
  'tls-handshake': { what: 'the server aborted the TLS handshake with an alert', fix: '--sni NAME when the server picks its certificate or route by SNI; otherwise compare the server\'s TLS versions and ciphers with the client\'s (openssl s_client -connect HOST:PORT -servername NAME)' },
  'tls-protocol-version': { what: 'client and server have no TLS version in common', fix: 'enable TLS 1.2 or 1.3 on the server (Node accepts TLS 1.2 and 1.3 only)' },
  'tls-alpn': { what: 'the server accepts none of the application protocols offered by ALPN', fix: 'offer the protocol it speaks (--http2 for an h2-only server)' },
  'tls-not-tls': { what: 'the server answered something that is not TLS', fix: 'use http:// for a plain-text port, or the port that speaks TLS' },
};

/** The fix and, when a flag can bypass it, the bypass: one sentence. */
export function tlsFixText(kind: string, withBypass = true): string | undefined {
  const k = TLS_KINDS[kind];
  if (!k) return undefined;
  return withBypass && k.bypass ? `${k.fix}; ${k.bypass}` : k.fix;
}

export function isTlsKind(kind: string): boolean {
  return kind.startsWith('tls-');
}

const UNKNOWN_CA = new Set(['SELF_SIGNED_CERT_IN_CHAIN', 'UNABLE_TO_GET_ISSUER_CERT', 'UNABLE_TO_GET_ISSUER_CERT_LOCALLY', 'UNABLE_TO_VERIFY_LEAF_SIGNATURE', 'CERT_UNTRUSTED', 'CERT_REJECTED', 'INVALID_CA']);

function day(iso: string): string {
  return iso ? iso.replace(/\.\d{3}Z$/, 'Z') : 'unknown';
}

/**
 * Verifies the peer of a TLS socket on 'secureConnect' (connected with tlsConnectOptions,
 * rejectUnauthorized false): the chain (OpenSSL's verdict, against --cacert or the system CAs)
 * and the name (the SNI, else the target's IP). Returns every problem found, worst first, or an
 * empty list when the certificate is trusted and names the host.
 */
export function verifyPeer(s: tls.TLSSocket, settings: Pick<TlsSettings, 'verifyName' | 'servername' | 'caFile'>): TlsFailure[] {
  const peer = s.getPeerCertificate(false);
  const cert = certInfo(peer);
  const out: TlsFailure[] = [];
  const code = s.authorized ? '' : String(s.authorizationError ?? 'UNKNOWN');
  if (code && code !== 'ERR_TLS_CERT_ALTNAME_INVALID') out.push(chainFailure(code, cert, settings.caFile));
  if (peer && cert) {
    const nameError = tls.checkServerIdentity(settings.verifyName, peer);
    if (nameError) out.push(nameFailure(cert, settings));
  } else if (!cert) out.push({ kind: 'tls-cert-invalid', code: code || 'NO_CERTIFICATE', detail: 'the server sent no certificate' });
  return out;
}

function chainFailure(code: string, cert: TlsCertInfo | undefined, caFile: string | undefined): TlsFailure {
  // The certificate itself (subject, fingerprint) is in the record's TLS info and the finding's evidence.
  const who = cert?.subject ? ` (${cert.subject})` : '';
  const trust = caFile ? `the CAs in --cacert ${caFile}` : "this machine's trusted CAs";
  switch (code) {
    case 'CERT_HAS_EXPIRED':
      return { kind: 'tls-expired', code, cert, detail: `the certificate expired on ${day(cert?.notAfter ?? '')} (valid from ${day(cert?.notBefore ?? '')})${who}` };
    case 'CERT_NOT_YET_VALID':
      return { kind: 'tls-not-yet-valid', code, cert, detail: `the certificate is not valid before ${day(cert?.notBefore ?? '')} (until ${day(cert?.notAfter ?? '')})${who}` };
    case 'DEPTH_ZERO_SELF_SIGNED_CERT':
      return { kind: 'tls-self-signed', code, cert, detail: `the certificate is self-signed and not among ${trust}${who}` };
    default:
      if (UNKNOWN_CA.has(code)) return { kind: 'tls-unknown-ca', code, cert, detail: `the certificate's issuer ${cert?.issuer ? `"${cert.issuer}" ` : ''}is not among ${trust} (${code})${who}` };
      return { kind: 'tls-cert-invalid', code, cert, detail: `certificate verification failed: ${code}${who}` };
  }
}

function nameFailure(cert: TlsCertInfo, s: Pick<TlsSettings, 'verifyName' | 'servername'>): TlsFailure {
  const names = certNames(cert);
  const asked = s.servername !== undefined ? `"${s.servername}" (the SNI sent)` : `${s.verifyName} (the target's IP address; no SNI was sent)`;
  return {
    kind: 'tls-name-mismatch',
    code: 'ERR_TLS_CERT_ALTNAME_INVALID',
    cert,
    detail: `the certificate holds ${names.length ? names.join(', ') : 'no name'}${cert.sans.length ? '' : ' (no subjectAltName: CN only, which clients no longer accept)'}, not ${asked}`,
  };
}

/**
 * A handshake error OpenSSL reported (an 'error' before 'secureConnect'), classified; null when
 * it is not a TLS-level error (a plain reset or close: see the header).
 */
export function classifyHandshakeError(e: unknown): TlsFailure | null {
  const code = String((e as { code?: string } | undefined)?.code ?? '');
  const reason = String((e as { reason?: string } | undefined)?.reason ?? '');
  if (!code.startsWith('ERR_SSL_') && !code.startsWith('ERR_TLS_')) return null;
  if (/WRONG_VERSION_NUMBER|PACKET_LENGTH_TOO_LONG|HTTP_REQUEST|RECORD_LAYER_FAILURE|UNKNOWN_PROTOCOL/.test(code)) {
    return { kind: 'tls-not-tls', code, detail: `the server did not answer the TLS handshake with TLS (${code}${reason ? `: ${reason}` : ''}): a plain HTTP port?` };
  }
  if (/NO_APPLICATION_PROTOCOL/.test(code)) return { kind: 'tls-alpn', code, detail: 'the server refused every protocol offered by ALPN (alert no_application_protocol)' };
  if (/PROTOCOL_VERSION|UNSUPPORTED_PROTOCOL|NO_PROTOCOLS_AVAILABLE|WRONG_SSL_VERSION|VERSION_TOO_LOW|VERSION_TOO_HIGH/.test(code)) {
    return { kind: 'tls-protocol-version', code, detail: `no TLS version in common (${code})` };
  }
  if (/CERTIFICATE_REQUIRED/.test(code)) return { kind: 'tls-handshake', code, detail: 'the server requires a client certificate (mutual TLS), which the probe does not send' };
  const alert = /ALERT_(.+)$/.exec(code);
  if (alert) return { kind: 'tls-handshake', code, detail: `the server aborted the handshake with the alert ${alert[1].toLowerCase()}${/HANDSHAKE_FAILURE|UNRECOGNIZED_NAME/.test(code) ? ' (no certificate or cipher for this SNI, or no common cipher)' : ''}` };
  return { kind: 'tls-handshake', code, detail: `TLS handshake failed: ${code}${reason ? ` (${reason})` : ''}` };
}
