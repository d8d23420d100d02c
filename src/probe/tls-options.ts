/**
 * TLS settings of a probe run (`--sni`, `-k/--insecure`, `--cacert`) and the one function that
 * turns them into `tls.ConnectionOptions` for a connection. Used by the HTTP/1.1 connection
 * (connection.ts) and by anything else that opens a TLS socket to the target (an
 * `http2.connect` `createConnection`): same SNI, same trust, same verification everywhere.
 *
 * Verification is done by `verifyPeer` (tls-errors.ts) on 'secureConnect', not by Node's
 * `rejectUnauthorized`: Node destroys the socket before the certificate can be read, and the
 * finding must name what the certificate holds (dates, names, issuer). `connectTls` does it all.
 */
import fs from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import { UsageError } from '../core/errors.js';

export interface TlsSettings {
  /** SNI sent (undefined: none, the target is an IP address and no --sni was given). */
  servername?: string;
  /** The name the certificate must hold: the SNI, else the target's IP address. */
  verifyName: string;
  /** `-k`: do not fail on an untrusted or mismatching certificate (still reported in the TLS info). */
  insecure: boolean;
  /** `--cacert`: the PEM bundle's certificates (they replace the system's trusted CAs, as with curl). */
  ca?: string[];
  /** The --cacert path, for messages. */
  caFile?: string;
}

export interface TlsFlags {
  sni?: string;
  insecure?: boolean;
  cacert?: string;
}

/** A DNS name as SNI carries it (RFC 6066: a host name, no IP literal, no trailing dot). */
export function parseSni(text: string): string {
  const t = text.trim().replace(/\.$/, '');
  if (net.isIP(t.replace(/^\[(.*)\]$/, '$1'))) throw new UsageError(`invalid --sni "${text}": SNI carries a host name, not an IP address (leave --sni out to send none)`);
  if (!t || t.length > 253 || !/^[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]*[A-Za-z0-9_])?)*$/.test(t)) {
    throw new UsageError(`invalid --sni "${text}" (a host name, e.g. api.example.com)`);
  }
  return t.toLowerCase();
}

/** Reads a PEM bundle for --cacert: every certificate in it, or a one-line UsageError. */
export function readCaFile(file: string): string[] {
  let text: string;
  try {
    text = fs.readFileSync(file, 'latin1');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new UsageError(`cannot read --cacert ${file}: ${code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (code ?? (e as Error).message)}`);
  }
  const blocks = text.match(/-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g) ?? [];
  if (blocks.length === 0) throw new UsageError(`invalid --cacert ${file}: no PEM certificate in it (expected "-----BEGIN CERTIFICATE-----" blocks)`);
  blocks.forEach((b, i) => {
    try {
      new X509Certificate(b);
    } catch {
      throw new UsageError(`invalid --cacert ${file}: certificate ${i + 1} of ${blocks.length} is not a valid PEM certificate`);
    }
  });
  return blocks;
}

/**
 * The run's TLS settings from the target and the flags; undefined for an http:// target (where
 * --sni and --cacert are usage errors: nothing would use them).
 */
export function tlsSettings(target: { scheme: string; host: string }, flags: TlsFlags): TlsSettings | undefined {
  if (target.scheme !== 'https') {
    if (flags.sni !== undefined) throw new UsageError('--sni applies to https:// targets (TLS)');
    if (flags.cacert !== undefined) throw new UsageError('--cacert applies to https:// targets (TLS)');
    return undefined;
  }
  const servername = flags.sni !== undefined ? parseSni(flags.sni) : net.isIP(target.host) ? undefined : target.host.replace(/\.$/, '').toLowerCase();
  return {
    servername,
    verifyName: servername ?? target.host,
    insecure: Boolean(flags.insecure),
    ...(flags.cacert !== undefined ? { ca: readCaFile(flags.cacert), caFile: flags.cacert } : {}),
  };
}

/**
 * Options for `tls.connect` to one address of the target: SNI (never an IP address, so Node
 * prints no deprecation warning), the --cacert trust, ALPN when given. `rejectUnauthorized` is
 * false: call `verifyPeer` on 'secureConnect' (or use `connectTls`), which fails the
 * connection unless --insecure.
 */
export function tlsConnectOptions(s: TlsSettings, address: string, port: number, localAddress?: string, alpn?: string[]): tls.ConnectionOptions {
  const o: tls.ConnectionOptions = { host: address, port, rejectUnauthorized: false };
  if (s.servername !== undefined) o.servername = s.servername;
  if (s.ca) o.ca = s.ca;
  if (alpn?.length) o.ALPNProtocols = alpn;
  if (localAddress !== undefined) (o as net.TcpNetConnectOpts).localAddress = localAddress; // tls.connect passes it on to net
  return o;
}
