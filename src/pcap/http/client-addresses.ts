/**
 * The client addresses of a capture's HTTP connections, for findings that depend on how many
 * clients there were (single-backend: one client address cannot tell source affinity from one
 * backend in service; several in one IPv4 /24 are one client to nginx `ip_hash`). One entry per
 * distinct address up to a cap; beyond it only "many" matters.
 */
import { clientIsA, ipv4String, ipv6String, type Conn } from '../connection.js';

const CAP = 4096;

export class ClientAddresses {
  private readonly v4 = new Set<number>();
  private readonly v6 = new Set<string>();
  private first = '';

  /** One connection's client address. */
  add(c: Conn): void {
    if (this.v4.size + this.v6.size >= CAP) return;
    const a = clientIsA(c);
    if (!c.v6) {
      const w = (a ? c.a0 : c.b0) >>> 0;
      if (this.v4.has(w)) return;
      this.v4.add(w);
      if (this.first === '') this.first = ipv4String(w);
      return;
    }
    const s = a ? ipv6String(c.a0, c.a1, c.a2, c.a3) : ipv6String(c.b0, c.b1, c.b2, c.b3);
    if (this.v6.has(s)) return;
    this.v6.add(s);
    if (this.first === '') this.first = s;
  }

  /** How many distinct addresses (at most the cap), one of them, and their common /24 ('' unless all IPv4 in one). */
  summary(): { count: number; first: string; slash24: string } {
    const count = this.v4.size + this.v6.size;
    let slash24 = '';
    if (this.v6.size === 0 && this.v4.size >= 2) {
      const nets = new Set([...this.v4].map((w) => w >>> 8));
      if (nets.size === 1) slash24 = `${ipv4String(((this.v4.values().next().value as number) & 0xffffff00) >>> 0)}/24`;
    }
    return { count, first: this.first, slash24 };
  }
}

/** The client's address of a connection (IPv4 as a number, IPv6 as text). */
export function clientAddress(c: Conn): number | string {
  const a = clientIsA(c);
  if (!c.v6) return (a ? c.a0 : c.b0) >>> 0 || 0.5; // 0.0.0.0 kept apart from "none"
  return a ? ipv6String(c.a0, c.a1, c.a2, c.a3) : ipv6String(c.b0, c.b1, c.b2, c.b3);
}
