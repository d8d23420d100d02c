/**
 * Listening sockets, read from /proc/<pid>/net/tcp{,6} so that waiting for a balancer does not send
 * it a connection (a probe connection through haproxy would advance its round robin). With a pid,
 * only the sockets that process holds (its fd links), in its own network namespace.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import os from 'node:os';

interface ListenEntry {
  address: string; // dotted IPv4, or a v6 form ('::' for any)
  port: number;
  inode: string;
}

function parseProcNet(text: string, v6: boolean): ListenEntry[] {
  const le = os.endianness() === 'LE';
  const entries: ListenEntry[] = [];
  for (const line of text.split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    if (cols.length < 10 || cols[3] !== '0A') continue; // 0A = LISTEN
    const [addrHex, portHex] = cols[1].split(':');
    const port = parseInt(portHex, 16);
    let address: string;
    if (!v6) {
      const bytes = Buffer.from(addrHex, 'hex');
      if (le) bytes.reverse();
      address = Array.from(bytes).join('.');
    } else {
      const words: Buffer[] = [];
      for (let i = 0; i < 4; i++) {
        const w = Buffer.from(addrHex.slice(i * 8, i * 8 + 8), 'hex');
        if (le) w.reverse();
        words.push(w);
      }
      const b = Buffer.concat(words);
      const groups: string[] = [];
      for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i).toString(16));
      address = groups.join(':');
      if (/^0:0:0:0:0:0:0:0$/.test(address)) address = '::';
      const mapped = /^0:0:0:0:0:ffff:([0-9a-f]+):([0-9a-f]+)$/.exec(address);
      if (mapped) {
        const hi = parseInt(mapped[1], 16);
        const lo = parseInt(mapped[2], 16);
        address = `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
      }
    }
    entries.push({ address, port, inode: cols[9] });
  }
  return entries;
}

function readListeners(procRoot: string): ListenEntry[] {
  const out: ListenEntry[] = [];
  for (const [file, v6] of [['tcp', false], ['tcp6', true]] as const) {
    try {
      out.push(...parseProcNet(readFileSync(`${procRoot}/net/${file}`, 'utf8'), v6));
    } catch {
      /* no such table */
    }
  }
  return out;
}

function socketInodes(pid: number): Set<string> {
  const inodes = new Set<string>();
  try {
    for (const fd of readdirSync(`/proc/${pid}/fd`)) {
      try {
        const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
        if (m) inodes.add(m[1]);
      } catch {
        /* fd closed meanwhile */
      }
    }
  } catch {
    /* process gone or not ours */
  }
  return inodes;
}

function matchesHost(entry: string, host: string): boolean {
  return entry === host || entry === '0.0.0.0' || entry === '::' || (host === 'localhost' && entry === '127.0.0.1');
}

/** True when /proc is readable here (Linux): listener checks are exact and send no traffic. */
export function canReadListeners(): boolean {
  try {
    readFileSync('/proc/self/net/tcp', 'utf8');
    return true;
  } catch {
    return false;
  }
}

/**
 * How many LISTEN sockets cover host:port. With `pid`, only the sockets that process holds, and in
 * that process's network namespace (so it works for a server inside a namespace too).
 */
export function listenerCount(host: string, port: number, pid?: number): number {
  const entries = readListeners(pid ? `/proc/${pid}` : '/proc/self').filter(
    (e) => e.port === port && matchesHost(e.address, host),
  );
  if (!pid) return entries.length;
  const mine = socketInodes(pid);
  return entries.filter((e) => mine.has(e.inode)).length;
}

/** True when something (or, with `pid`, that process) listens on host:port. */
export function isListening(host: string, port: number, pid?: number): boolean {
  return listenerCount(host, port, pid) > 0;
}
