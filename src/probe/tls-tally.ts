/**
 * TLS per mode, tallied from the records of new connections: every certificate seen (with the
 * backends and addresses it came with), per backend the versions, ciphers, ALPN results and
 * certificates, and the TLS errors with their exact problems. Bounded whatever the run length.
 */
import type { ProbeRecord } from './record.js';
import { TLS_KINDS, isTlsKind } from './tls-errors.js';
import type { TlsCertInfo } from './tls-info.js';

const MAX_CERTS = 64;
const MAX_DETAILS = 8;
const MAX_KEYS = 32;

export interface CertTally {
  cert: TlsCertInfo;
  /** Problems verification found (even when -k let the request through). */
  verify: string[];
  connections: number;
  backends: Map<string, number>;
  addresses: Map<string, number>;
}

export interface BackendTlsTally {
  connections: number;
  versions: Map<string, number>;
  ciphers: Map<string, number>;
  alpn: Map<string, number>;
  /** SNI sent ('' for none). */
  snis: Map<string, number>;
  certs: Map<string, number>;
}

export interface TlsErrorTally {
  count: number;
  details: Map<string, number>;
  addresses: Map<string, number>;
}

export interface TlsReport {
  /** Handshakes completed (new connections; with -k, also those whose certificate failed verification). */
  handshakes: number;
  certificates: {
    fingerprint256: string;
    subject: string;
    issuer: string;
    sans: string[];
    notBefore: string;
    notAfter: string;
    selfSigned: boolean;
    verify: string[];
    connections: number;
    backends: Record<string, number>;
    addresses: Record<string, number>;
  }[];
  backends: { name: string; connections: number; versions: Record<string, number>; ciphers: Record<string, number>; alpn: Record<string, number>; sni: Record<string, number>; certificates: Record<string, number> }[];
  errors: { kind: string; count: number; details: Record<string, number>; addresses: Record<string, number> }[];
}

function bump(m: Map<string, number>, k: string, n = 1, max = MAX_KEYS): void {
  if (m.has(k) || m.size < max) m.set(k, (m.get(k) ?? 0) + n);
}

const obj = (m: Map<string, number>): Record<string, number> => Object.fromEntries(m);

export class TlsTally {
  handshakes = 0;
  certs = new Map<string, CertTally>();
  backends = new Map<string, BackendTlsTally>();
  errors = new Map<string, TlsErrorTally>();

  add(r: ProbeRecord, failed: boolean): void {
    const t = r.tls;
    if (t) {
      this.handshakes++;
      if (t.cert) {
        const fp = t.cert.fingerprint256;
        let c = this.certs.get(fp);
        if (!c && this.certs.size < MAX_CERTS) this.certs.set(fp, (c = { cert: t.cert, verify: t.verify ?? [], connections: 0, backends: new Map(), addresses: new Map() }));
        if (c) {
          c.connections++;
          bump(c.addresses, r.addr);
          if (r.backend !== undefined && !failed) bump(c.backends, r.backend);
        }
      }
      if (r.backend !== undefined && !failed) {
        let b = this.backends.get(r.backend);
        if (!b) this.backends.set(r.backend, (b = { connections: 0, versions: new Map(), ciphers: new Map(), alpn: new Map(), snis: new Map(), certs: new Map() }));
        b.connections++;
        bump(b.versions, t.version);
        bump(b.ciphers, t.cipher);
        bump(b.alpn, t.alpn ?? 'none');
        bump(b.snis, t.sni ?? '');
        if (t.cert) bump(b.certs, t.cert.fingerprint256);
      }
    }
    if (r.error !== undefined && isTlsKind(r.error)) {
      let e = this.errors.get(r.error);
      if (!e) this.errors.set(r.error, (e = { count: 0, details: new Map(), addresses: new Map() }));
      e.count++;
      bump(e.details, r.tlsError ?? TLS_KINDS[r.error]?.what ?? r.error, 1, MAX_DETAILS);
      bump(e.addresses, r.addr);
    }
  }

  /** Adds a mode's JSON (lbdiag merge). */
  addReport(j: TlsReport): void {
    this.handshakes += j.handshakes;
    for (const c of j.certificates) {
      const { verify, connections, backends, addresses, ...cert } = c;
      let t = this.certs.get(c.fingerprint256);
      if (!t && this.certs.size < MAX_CERTS) this.certs.set(c.fingerprint256, (t = { cert, verify, connections: 0, backends: new Map(), addresses: new Map() }));
      if (!t) continue;
      t.connections += connections;
      for (const [k, n] of Object.entries(backends)) bump(t.backends, k, n);
      for (const [k, n] of Object.entries(addresses)) bump(t.addresses, k, n);
    }
    for (const b of j.backends) {
      let t = this.backends.get(b.name);
      if (!t) this.backends.set(b.name, (t = { connections: 0, versions: new Map(), ciphers: new Map(), alpn: new Map(), snis: new Map(), certs: new Map() }));
      t.connections += b.connections;
      const pairs: [Map<string, number>, Record<string, number>][] = [
        [t.versions, b.versions],
        [t.ciphers, b.ciphers],
        [t.alpn, b.alpn],
        [t.snis, b.sni],
        [t.certs, b.certificates],
      ];
      for (const [m, rec] of pairs) for (const [k, n] of Object.entries(rec)) bump(m, k, n);
    }
    for (const e of j.errors) {
      let t = this.errors.get(e.kind);
      if (!t) this.errors.set(e.kind, (t = { count: 0, details: new Map(), addresses: new Map() }));
      t.count += e.count;
      for (const [k, n] of Object.entries(e.details)) bump(t.details, k, n, MAX_DETAILS);
      for (const [k, n] of Object.entries(e.addresses)) bump(t.addresses, k, n);
    }
  }

  get empty(): boolean {
    return this.handshakes === 0 && this.errors.size === 0;
  }

  toJSON(): TlsReport {
    return {
      handshakes: this.handshakes,
      certificates: [...this.certs.values()]
        .sort((a, b) => b.connections - a.connections)
        .map((c) => ({ ...c.cert, verify: c.verify, connections: c.connections, backends: obj(c.backends), addresses: obj(c.addresses) })),
      backends: [...this.backends.entries()]
        .sort((a, b) => a[0].localeCompare(b[0]))
        .map(([name, b]) => ({ name, connections: b.connections, versions: obj(b.versions), ciphers: obj(b.ciphers), alpn: obj(b.alpn), sni: obj(b.snis), certificates: obj(b.certs) })),
      errors: [...this.errors.entries()].sort((a, b) => b[1].count - a[1].count).map(([kind, e]) => ({ kind, count: e.count, details: obj(e.details), addresses: obj(e.addresses) })),
    };
  }
}
