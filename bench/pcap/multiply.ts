/**
 * Makes an N× capture out of a 1× one for the flat-memory check, without new traffic: copy k of the
 * file is shifted in time to after copy k-1, plus `extraGapS` of silence (so the whole is one capture
 * N× as long, or longer) and, from copy 1
 * on, its client address is rewritten to 127.0.60.(100+k) (so connections are new 4-tuples, not
 * port reuse), with the IPv4 and TCP checksums updated incrementally (RFC 1624). Classic pcap files
 * (what tcpdump -w writes), Ethernet link type (what tcpdump -i lo records); other link types get
 * the time shift only.
 */
import { closeSync, openSync, readSync, writeSync } from 'node:fs';

const CHUNK = 16 * 2 ** 20;

interface Header {
  little: boolean;
  linktype: number;
  bytes: Buffer;
}

function readHeader(fd: number): Header {
  const bytes = Buffer.alloc(24);
  if (readSync(fd, bytes, 0, 24, 0) !== 24) throw new Error('capture shorter than a pcap header');
  const magic = bytes.readUInt32LE(0);
  const little = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  const big = bytes.readUInt32BE(0);
  if (!little && big !== 0xa1b2c3d4 && big !== 0xa1b23c4d) throw new Error('not a classic pcap file (pcapng is not handled here)');
  return { little, linktype: little ? bytes.readUInt32LE(20) : bytes.readUInt32BE(20), bytes };
}

/** One's-complement 16-bit checksum update when a word changes from `from` to `to`. */
function fixChecksum(buf: Buffer, at: number, from: number, to: number): void {
  let sum = (~buf.readUInt16BE(at) & 0xffff) + (~from & 0xffff) + to;
  sum = (sum & 0xffff) + (sum >>> 16);
  sum = (sum & 0xffff) + (sum >>> 16);
  buf.writeUInt16BE(~sum & 0xffff, at);
}

function ipv4(a: number, b: number, c: number, d: number): number {
  return ((a << 24) | (b << 16) | (c << 8) | d) >>> 0;
}

/** Rewrites the IPv4 address at `at` from `from` to `to`, fixing the IP and TCP checksums. */
function rewriteAddress(pkt: Buffer, ip: number, at: number, to: number, tcpSum: number | undefined): void {
  const from = pkt.readUInt32BE(at);
  pkt.writeUInt32BE(to, at);
  for (const [f, t] of [[from >>> 16, to >>> 16], [from & 0xffff, to & 0xffff]]) {
    if (f === t) continue;
    fixChecksum(pkt, ip + 10, f, t);
    if (tcpSum !== undefined) fixChecksum(pkt, tcpSum, f, t);
  }
}

export interface MultiplyResult {
  packetsIn: number;
  packetsOut: number;
  spanS: number;
  rewroteAddresses: boolean;
}

/** Counts packets and the time span of a classic pcap file. */
export function scanCapture(file: string): { packets: number; spanS: number; linktype: number } {
  let packets = 0;
  let first = -1;
  let last = 0;
  const fd = openSync(file, 'r');
  try {
    const h = readHeader(fd);
    eachRecord(fd, h, (rec, off) => {
      const t = h.little ? rec.readUInt32LE(off) : rec.readUInt32BE(off);
      if (first < 0) first = t;
      last = t;
      packets++;
    });
    return { packets, spanS: first < 0 ? 0 : last - first + 1, linktype: h.linktype };
  } finally {
    closeSync(fd);
  }
}

/**
 * Calls `fn(buffer, offset, length)` for every record (offset of its 16-byte header; the record may be
 * modified in place), then `done(buffer, end)` once per chunk with the bytes of the records just seen.
 */
function eachRecord(fd: number, h: Header, fn: (buf: Buffer, off: number, len: number) => void, done?: (buf: Buffer, end: number) => void): void {
  let buf = Buffer.alloc(CHUNK);
  let have = 0;
  let pos = 24;
  for (;;) {
    const n = readSync(fd, buf, have, buf.length - have, pos);
    pos += n;
    have += n;
    let off = 0;
    while (have - off >= 16) {
      const incl = h.little ? buf.readUInt32LE(off + 8) : buf.readUInt32BE(off + 8);
      if (have - off < 16 + incl) {
        if (16 + incl > buf.length) {
          const bigger = Buffer.alloc(16 + incl + CHUNK);
          buf.copy(bigger, 0, off, have);
          buf = bigger;
          have -= off;
          off = 0;
        }
        break;
      }
      fn(buf, off, 16 + incl);
      off += 16 + incl;
    }
    if (done && off > 0) done(buf, off);
    buf.copy(buf, 0, off, have);
    have -= off;
    if (n === 0) break;
  }
}

export function multiplyCapture(input: string, output: string, copies: number, serverIp: string, extraGapS = 0): MultiplyResult {
  const server = ipv4(...(serverIp.split('.').map(Number) as [number, number, number, number]));
  const { packets, spanS } = scanCapture(input);
  const gap = Math.ceil(spanS) + 2 + Math.max(0, Math.round(extraGapS));
  const fd = openSync(input, 'r');
  const out = openSync(output, 'w');
  const h = readHeader(fd);
  const rewrite = h.linktype === 1;
  let written = 0;
  try {
    writeSync(out, h.bytes);
    for (let k = 0; k < copies; k++) {
      const client = ipv4(127, 0, 60, 100 + k);
      eachRecord(
        fd,
        h,
        (rec, off, len) => {
          if (h.little) rec.writeUInt32LE(rec.readUInt32LE(off) + k * gap, off);
          else rec.writeUInt32BE(rec.readUInt32BE(off) + k * gap, off);
          written++;
          if (!rewrite || k === 0) return;
          const eth = off + 16;
          const ip = eth + 14;
          if (len < 16 + 14 + 20 || rec.readUInt16BE(eth + 12) !== 0x0800 || rec[ip] >> 4 !== 4) return;
          const ihl = (rec[ip] & 0x0f) * 4;
          const tcpSum = rec[ip + 9] === 6 && len >= 16 + 14 + ihl + 18 ? ip + ihl + 16 : undefined;
          if (rec.readUInt32BE(ip + 12) !== server) rewriteAddress(rec, ip, ip + 12, client, tcpSum);
          if (rec.readUInt32BE(ip + 16) !== server) rewriteAddress(rec, ip, ip + 16, client, tcpSum);
        },
        (buf, end) => {
          writeSync(out, buf, 0, end);
        },
      );
    }
  } finally {
    closeSync(fd);
    closeSync(out);
  }
  return { packetsIn: packets, packetsOut: written, spanS: gap * copies, rewroteAddresses: rewrite };
}
