/**
 * The probe machine's own ephemeral-port facts, read when connects fail with EADDRNOTAVAIL
 * (`no-local-port`): the port range, `tcp_tw_reuse`, and the TIME_WAIT sockets the kernel holds
 * (from /proc/net/tcp and tcp6 of the probe's own network namespace). Linux only; elsewhere
 * every fact is null and the finding says so.
 */
import fs from 'node:fs';
import net from 'node:net';

export interface LocalPortFacts {
  /** net.ipv4.ip_local_port_range */
  range: [number, number] | null;
  /** net.ipv4.tcp_tw_reuse: 0 off, 1 on, 2 loopback only (Linux default). */
  twReuse: number | null;
  /** TIME_WAIT sockets to the target address and port, and to anywhere, when sampled. */
  timeWaitToTarget: number | null;
  timeWaitAll: number | null;
  /**
   * Sockets to the target this machine closed first that are not in TIME_WAIT yet (FIN_WAIT1,
   * FIN_WAIT2, CLOSING): they hold their local port too, and reach TIME_WAIT when the peer's FIN
   * comes (a busy server sends it a little later than the run's last connect failed).
   */
  closingToTarget: number | null;
  target: string;
  /** Who closed the probe's short-lived connections first. */
  close: 'server' | 'client';
}

function readText(path: string): string | null {
  try {
    return fs.readFileSync(path, 'utf8');
  } catch {
    return null;
  }
}

export function readLocalPortFacts(address: string, port: number, close: 'server' | 'client'): LocalPortFacts {
  const rangeText = readText('/proc/sys/net/ipv4/ip_local_port_range');
  const r = rangeText?.trim().split(/\s+/).map(Number);
  const range: [number, number] | null = r && r.length === 2 && r.every(Number.isInteger) ? [r[0], r[1]] : null;
  const tw = readText('/proc/sys/net/ipv4/tcp_tw_reuse');
  const twReuse = tw !== null && /^\d+$/.test(tw.trim()) ? Number(tw.trim()) : null;
  let toTarget: number | null = null;
  let all: number | null = null;
  let closing: number | null = null;
  const want = canonical(address);
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const text = readText(file);
    if (text === null) continue;
    toTarget ??= 0;
    all ??= 0;
    closing ??= 0;
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length < 4) continue;
      // 06 TIME_WAIT; 04 FIN_WAIT1, 05 FIN_WAIT2, 0B CLOSING (closed here first, TIME_WAIT to come).
      const tw = f[3] === '06';
      if (!tw && f[3] !== '04' && f[3] !== '05' && f[3] !== '0B') continue;
      if (tw) all++;
      const [remHex, portHex] = f[2].split(':');
      if (parseInt(portHex, 16) === port && decodeProcAddress(remHex) === want) {
        if (tw) toTarget++;
        else closing++;
      }
    }
  }
  return { range, twReuse, timeWaitToTarget: toTarget, timeWaitAll: all, closingToTarget: closing, target: net.isIPv6(address) ? `[${address}]:${port}` : `${address}:${port}`, close };
}

/** IPv4 (and IPv4-mapped IPv6) as dotted quad, IPv6 in full lower-case hex groups. */
function canonical(address: string): string {
  const v4 = /^(?:::ffff:)?(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (v4) return v4[1];
  const sl = new net.SocketAddress({ address, family: 'ipv6' });
  return expand6(sl.address);
}

function expand6(a: string): string {
  const [head, tail] = a.split('::');
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail ? tail.split(':') : [];
  const fill = tail !== undefined ? Array(8 - h.length - t.length).fill('0') : [];
  return [...h, ...fill, ...t].map((g) => parseInt(g, 16).toString(16)).join(':');
}

/** /proc/net/tcp{,6} addresses: 32-bit words in host byte order (little-endian on x86 and arm64). */
export function decodeProcAddress(hex: string): string {
  const words: number[][] = [];
  for (let i = 0; i < hex.length; i += 8) {
    const w = hex.slice(i, i + 8);
    words.push([6, 4, 2, 0].map((j) => parseInt(w.slice(j, j + 2), 16)));
  }
  const bytes = words.flat();
  if (bytes.length === 4) return bytes.join('.');
  if (bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 255 && bytes[11] === 255) return bytes.slice(12).join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] << 8) | bytes[i + 1]).toString(16));
  return groups.join(':');
}
