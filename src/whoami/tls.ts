/**
 * `--tls`: the certificate whoami serves. From `--cert FILE --key FILE` (PEM), or a self-signed
 * one made at start (selfsigned, EC P-256, valid 30 days) naming the host name, `localhost` and the
 * addresses whoami listens on (every interface address for a wildcard listener), so a client that
 * pins its fingerprint (printed in the banner) or uses `-k` can connect by any of them.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import tls from 'node:tls';
import { UsageError } from '../core/errors.js';
import { interfaceAddresses } from './identity.js';

export interface TlsMaterial {
  cert: string;
  key: string;
  /** SHA-256 fingerprint of the certificate, colon-separated hex (as openssl x509 -fingerprint -sha256 prints it). */
  fingerprint256: string;
  /** The certificate's subject alternative names, e.g. `DNS:localhost, IP Address:127.0.0.1`. */
  names: string;
  selfSigned: boolean;
}

/** Reads --cert/--key; a usage error names the file and the problem (missing, not PEM, key does not match). */
export function loadTls(certFile: string, keyFile: string): TlsMaterial {
  const read = (file: string, what: string): string => {
    try {
      return readFileSync(file, 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new UsageError(`cannot read ${what} "${file}": ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : (e as Error).message}`);
    }
  };
  const cert = read(certFile, '--cert');
  const key = read(keyFile, '--key');
  let x: X509Certificate;
  try {
    x = new X509Certificate(cert);
  } catch {
    throw new UsageError(`--cert "${certFile}" is not a PEM certificate`);
  }
  try {
    if (!x.checkPrivateKey(createPrivateKey(key))) throw new UsageError(`--key "${keyFile}" does not match the certificate in --cert "${certFile}"`);
    tls.createSecureContext({ cert, key });
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw new UsageError(`--key "${keyFile}" is not a usable PEM private key (${(e as Error).message})`);
  }
  return { cert, key, fingerprint256: x.fingerprint256, names: x.subjectAltName ?? '', selfSigned: false };
}

/** The names and addresses a self-signed certificate for these listen addresses should carry. */
export function certificateNames(hosts: string[]): { dns: string[]; ips: string[] } {
  const dns = new Set<string>(['localhost']);
  const hostname = os.hostname();
  if (hostname && net.isIP(hostname) === 0) dns.add(hostname);
  const ips = new Set<string>(['127.0.0.1', '::1']);
  for (const h of hosts) {
    if (h === '::' || h === '0.0.0.0') {
      for (const a of interfaceAddresses()) ips.add(a.address);
    } else if (net.isIP(h) !== 0) ips.add(h);
    else dns.add(h);
  }
  return { dns: [...dns], ips: [...ips] };
}

export async function selfSignedTls(hosts: string[]): Promise<TlsMaterial> {
  const { dns, ips } = certificateNames(hosts);
  const now = new Date();
  // Loaded only here: it is large, and most whoami starts make no certificate.
  const { generate } = await import('selfsigned');
  const pems = await generate([{ name: 'commonName', value: dns.find((d) => d !== 'localhost') ?? 'localhost' }, { name: 'organizationName', value: 'lbdiag whoami (self-signed)' }], {
    keyType: 'ec',
    curve: 'P-256',
    algorithm: 'sha256',
    notBeforeDate: new Date(now.getTime() - 60_000),
    notAfterDate: new Date(now.getTime() + 30 * 86_400_000),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [...dns.map((value) => ({ type: 2 as const, value })), ...ips.map((ip) => ({ type: 7 as const, ip }))] },
    ],
  });
  const x = new X509Certificate(pems.cert);
  return { cert: pems.cert, key: pems.private, fingerprint256: x.fingerprint256, names: x.subjectAltName ?? '', selfSigned: true };
}
