/**
 * TLS test backends: certificates made at test time with the `selfsigned` package (a private CA
 * and leaf certificates it signs, or self-signed ones, with chosen names and dates), and small
 * real node:https servers that answer with lbdiag whoami's identity headers (names from
 * src/wire/identity-headers.ts). Once `lbdiag whoami --tls --cert --key` exists on main, these
 * servers can be replaced by whoami processes started with those certificates.
 */
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import selfsigned from 'selfsigned';
import { BACKEND_HEADER, CONN_HEADER, INSTANCE_HEADER, PID_HEADER, formatConn } from '../../src/wire/identity-headers.js';

export interface Pem {
  cert: string;
  key: string;
}

const EC = { keyType: 'ec' as const, curve: 'P-256' as const, algorithm: 'sha256' };

/** A private CA (basicConstraints cA, keyCertSign). */
export async function makeCa(name = 'lbdiag test CA'): Promise<Pem> {
  const r = await selfsigned.generate([{ name: 'commonName', value: name }], {
    ...EC,
    extensions: [
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
  });
  return { cert: r.cert, key: r.private };
}

export interface LeafOptions {
  /** DNS names (subjectAltName) and the CN (the first). */
  names: string[];
  ips?: string[];
  /** Signed by this CA; self-signed when absent. */
  ca?: Pem;
  notBefore?: Date;
  notAfter?: Date;
}

/** A server certificate for `names` (signed by `ca`, or self-signed). */
export async function makeLeaf(o: LeafOptions): Promise<Pem> {
  const r = await selfsigned.generate([{ name: 'commonName', value: o.names[0] }], {
    ...EC,
    ...(o.notBefore ? { notBeforeDate: o.notBefore } : {}),
    ...(o.notAfter ? { notAfterDate: o.notAfter } : {}),
    ...(o.ca ? { ca: o.ca } : {}),
    extensions: [
      { name: 'basicConstraints', cA: false },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [...o.names.map((value) => ({ type: 2 as const, value })), ...(o.ips ?? []).map((ip) => ({ type: 7 as const, ip }))] },
    ],
  });
  return { cert: r.cert, key: r.private };
}

export interface TlsBackend {
  name: string;
  host: string;
  port: number;
  /** Requests answered. */
  requests: number;
  /** SNI names the clients sent ('' when none), and Host headers. */
  snis: Set<string>;
  hosts: Set<string>;
  close(): Promise<void>;
}

/**
 * A real HTTPS server on loopback answering every request 200 with whoami's identity headers
 * (backend name, instance, pid, connection id and request sequence on it) and a short body.
 */
export async function startTlsBackend(name: string, pem: Pem, host = '127.0.0.1'): Promise<TlsBackend> {
  let connId = 0;
  const seqs = new WeakMap<object, { id: number; seq: number }>();
  const server = https.createServer({ cert: pem.cert, key: pem.key, keepAliveTimeout: 30_000 }, (req, res) => {
    b.requests++;
    b.snis.add((req.socket as TLSSocket).servername || '');
    b.hosts.add(req.headers.host ?? '');
    let c = seqs.get(req.socket);
    if (!c) seqs.set(req.socket, (c = { id: ++connId, seq: 0 }));
    c.seq++;
    req.resume();
    res.setHeader(BACKEND_HEADER, name);
    res.setHeader(INSTANCE_HEADER, `${name}-1`);
    res.setHeader(PID_HEADER, String(process.pid));
    res.setHeader(CONN_HEADER, formatConn(c.id, c.seq));
    res.setHeader('Content-Type', 'text/plain');
    res.end(`${name}\n`);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const b: TlsBackend = {
    name,
    host,
    port: (server.address() as AddressInfo).port,
    requests: 0,
    snis: new Set(),
    hosts: new Set(),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
  return b;
}
