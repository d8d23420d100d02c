/**
 * `--source ADDRS`: the local addresses the probe binds its outgoing connections to, so one
 * machine can look like many clients (as `curl --interface`). Accepts a comma-separated list of
 * addresses, ranges (`127.0.0.20-127.0.0.29`, `fd00::1-fd00::8`) and CIDR blocks
 * (`127.0.0.16/29`), IPv4 and IPv6. Every address must be local to this host: one of
 * os.networkInterfaces(), or loopback (on Linux all of 127.0.0.0/8 is local through the `lo`
 * route even though only 127.0.0.1 is configured on it; ::1 for IPv6).
 */
import net from 'node:net';
import os from 'node:os';
import { UsageError } from '../core/errors.js';

/** More source addresses than this in one run is almost certainly a typo (a /16 instead of a /28). */
export const MAX_SOURCES = 4096;

const EXAMPLE = '(examples: 127.0.0.20-127.0.0.29, 10.0.0.5,10.0.0.6, 127.0.0.16/29, fd00::10-fd00::1f)';

function toBig(addr: string): { v: bigint; family: 4 | 6 } {
  if (net.isIPv4(addr)) return { v: addr.split('.').reduce((a, p) => (a << 8n) | BigInt(Number(p)), 0n), family: 4 };
  if (net.isIPv6(addr)) {
    let text = addr;
    // An embedded IPv4 tail (::ffff:1.2.3.4): turn it into two hex groups.
    const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
    if (v4) {
      const b = toBig(v4[1]).v;
      text = `${text.slice(0, -v4[1].length)}${(b >> 16n).toString(16)}:${(b & 0xffffn).toString(16)}`;
    }
    const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
    const h = head ? head.split(':') : [];
    const t = tail ? tail.split(':') : [];
    const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
    return { v: groups.reduce((a, g) => (a << 16n) | BigInt(parseInt(g, 16)), 0n), family: 6 };
  }
  throw new UsageError(`invalid --source address "${addr}" ${EXAMPLE}`);
}

function fromBig(v: bigint, family: 4 | 6): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((s) => String((v >> s) & 255n)).join('.');
  const groups: string[] = [];
  for (let s = 112n; s >= 0n; s -= 16n) groups.push(((v >> s) & 0xffffn).toString(16));
  // Canonical compressed form (RFC 5952): the longest run of two or more zero groups becomes "::".
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

function range(from: bigint, to: bigint, family: 4 | 6, text: string): string[] {
  if (to < from) throw new UsageError(`invalid --source range "${text}": the end is below the start`);
  if (to - from + 1n > BigInt(MAX_SOURCES)) throw new UsageError(`--source "${text}" names ${to - from + 1n} addresses; at most ${MAX_SOURCES}`);
  const out: string[] = [];
  for (let v = from; v <= to; v++) out.push(fromBig(v, family));
  return out;
}

/** The addresses ADDRS names, in order, without duplicates. Throws UsageError on a malformed value. */
export function parseSources(text: string): string[] {
  const out: string[] = [];
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const slash = part.indexOf('/');
    if (slash >= 0) {
      const base = toBig(part.slice(0, slash));
      const bitsText = part.slice(slash + 1);
      const width = base.family === 4 ? 32 : 128;
      const bits = /^\d+$/.test(bitsText) ? Number(bitsText) : NaN;
      if (!(bits >= 0 && bits <= width)) throw new UsageError(`invalid --source prefix length in "${part}" ${EXAMPLE}`);
      const hostBits = BigInt(width - bits);
      const net0 = (base.v >> hostBits) << hostBits;
      let first = net0;
      let last = net0 + (1n << hostBits) - 1n;
      // IPv4 blocks of 4 or more: skip the network and broadcast addresses (not bindable as hosts elsewhere than loopback).
      if (base.family === 4 && hostBits >= 2n && !isLoopback(fromBig(net0, 4))) [first, last] = [first + 1n, last - 1n];
      out.push(...range(first, last, base.family, part));
      continue;
    }
    const dash = part.indexOf('-');
    if (dash > 0) {
      const a = toBig(part.slice(0, dash).trim());
      const bText = part.slice(dash + 1).trim();
      // The end may be a full address or, for IPv4, the last octet only (127.0.0.20-29).
      const b = /^\d+$/.test(bText) && a.family === 4 ? { v: (a.v & ~255n) | BigInt(Number(bText)), family: 4 as const } : toBig(bText);
      if (b.family !== a.family) throw new UsageError(`invalid --source range "${part}": mixes IPv4 and IPv6`);
      if (a.family === 4 && /^\d+$/.test(bText) && Number(bText) > 255) throw new UsageError(`invalid --source range "${part}" ${EXAMPLE}`);
      out.push(...range(a.v, b.v, a.family, part));
      continue;
    }
    const a = toBig(part);
    out.push(fromBig(a.v, a.family));
  }
  const unique = [...new Set(out)];
  if (unique.length === 0) throw new UsageError(`--source names no address ${EXAMPLE}`);
  if (unique.length > MAX_SOURCES) throw new UsageError(`--source names ${unique.length} addresses; at most ${MAX_SOURCES}`);
  return unique;
}

function isLoopback(addr: string): boolean {
  if (net.isIPv4(addr)) return addr.startsWith('127.');
  return addr === '::1';
}

/** Addresses of this host's interfaces (canonical form). */
function localAddresses(): Set<string> {
  const s = new Set<string>();
  for (const list of Object.values(os.networkInterfaces())) {
    for (const i of list ?? []) {
      const a = i.address.split('%')[0];
      s.add(net.isIPv6(a) ? fromBig(toBig(a).v, 6) : a);
    }
  }
  return s;
}

/**
 * Refuses, with one line, any address not on this host: binding to it would fail (EADDRNOTAVAIL)
 * or, with ip_nonlocal_bind, send packets whose answers never come back.
 */
export function checkLocal(addresses: readonly string[]): void {
  const local = localAddresses();
  const bad = addresses.filter((a) => !isLoopback(a) && !local.has(a));
  if (bad.length) {
    const shown = bad.slice(0, 3).join(', ') + (bad.length > 3 ? ` and ${bad.length - 3} more` : '');
    throw new UsageError(`--source ${shown}: not an address of this host (see ip -br addr; all of 127.0.0.0/8 and ::1 are local)`);
  }
}

/** The sources usable towards `targets` (same address family); a usage error when none is. */
export function sourcesFor(sources: readonly string[], targets: readonly string[]): string[] {
  const families = new Set(targets.map((t) => net.isIP(t)));
  const usable = sources.filter((s) => families.has(net.isIP(s)));
  if (usable.length === 0) throw new UsageError(`--source: no address of the target's family (IPv${[...families].join('/IPv')}) among ${sources.slice(0, 3).join(', ')}${sources.length > 3 ? ', ...' : ''}`);
  return usable;
}

/** Orders addresses numerically (IPv4 before IPv6): for tables. */
export function compareAddresses(a: string, b: string): number {
  const fa = net.isIP(a);
  const fb = net.isIP(b);
  if (fa !== fb || fa === 0) return fa - fb || a.localeCompare(b);
  const x = toBig(a).v;
  const y = toBig(b).v;
  return x < y ? -1 : x > y ? 1 : 0;
}
