/**
 * Reads every packet of a capture with lbdiag's reader and writes packets back out as classic
 * pcap (µs or ns, either byte order) or pcapng (several interfaces, any if_tsresol), so tests can
 * build merged, split, re-encoded or cut captures from real ones.
 */
import fs from 'node:fs';
import { CaptureReader, PACKET } from '../../src/pcap/reader.js';

export interface Packet {
  sec: number;
  nsec: number;
  linkType: number;
  origlen: number;
  data: Buffer;
}

export function readPackets(path: string): Packet[] {
  const r = new CaptureReader();
  r.push(fs.readFileSync(path));
  r.end();
  const out: Packet[] = [];
  while (r.next() === PACKET) {
    out.push({ sec: r.sec, nsec: r.nsec, linkType: r.linkType, origlen: r.origlen, data: Buffer.from(r.buf.subarray(r.offset, r.offset + r.caplen)) });
  }
  return out;
}

export function writePcap(packets: Packet[], opts: { ns?: boolean; bigEndian?: boolean } = {}): Buffer {
  const be = opts.bigEndian ?? false;
  const parts: Buffer[] = [];
  const h = Buffer.alloc(24);
  const u32 = (b: Buffer, v: number, o: number): void => void (be ? b.writeUInt32BE(v >>> 0, o) : b.writeUInt32LE(v >>> 0, o));
  const u16 = (b: Buffer, v: number, o: number): void => void (be ? b.writeUInt16BE(v, o) : b.writeUInt16LE(v, o));
  u32(h, opts.ns ? 0xa1b23c4d : 0xa1b2c3d4, 0);
  u16(h, 2, 4);
  u16(h, 4, 6);
  u32(h, 262144, 16);
  u32(h, packets[0]?.linkType ?? 1, 20);
  parts.push(h);
  for (const p of packets) {
    const r = Buffer.alloc(16);
    u32(r, p.sec, 0);
    u32(r, opts.ns ? p.nsec : Math.floor(p.nsec / 1000), 4);
    u32(r, p.data.length, 8);
    u32(r, p.origlen, 12);
    parts.push(r, p.data);
  }
  return Buffer.concat(parts);
}

export interface NgInterface {
  linkType: number;
  /** if_tsresol byte: 6 = µs, 9 = ns, 0x80|n = 2^-n. */
  tsresol: number;
}

function block(type: number, body: Buffer): Buffer {
  const pad = (4 - (body.length % 4)) % 4;
  const len = 12 + body.length + pad;
  const b = Buffer.alloc(len);
  b.writeUInt32LE(type, 0);
  b.writeUInt32LE(len, 4);
  body.copy(b, 8);
  b.writeUInt32LE(len, len - 4);
  return b;
}

/** pcapng: one section, the given interfaces, each packet on `ifaceOf(i)` as an EPB. */
export function writePcapng(packets: Packet[], ifaces: NgInterface[], ifaceOf: (i: number) => number): Buffer {
  const parts: Buffer[] = [];
  const shb = Buffer.alloc(16);
  shb.writeUInt32LE(0x1a2b3c4d, 0);
  shb.writeUInt16LE(1, 4);
  shb.writeUInt16LE(0, 6);
  shb.writeBigInt64LE(-1n, 8);
  parts.push(block(0x0a0d0d0a, shb));
  for (const f of ifaces) {
    const idb = Buffer.alloc(8 + 8 + 4);
    idb.writeUInt16LE(f.linkType, 0);
    idb.writeUInt32LE(262144, 4);
    idb.writeUInt16LE(9, 8); // if_tsresol
    idb.writeUInt16LE(1, 10);
    idb[12] = f.tsresol;
    // opt_endofopt (4 zero bytes) already zero
    parts.push(block(1, idb));
  }
  packets.forEach((p, i) => {
    const id = ifaceOf(i);
    const res = ifaces[id].tsresol;
    const units = res & 0x80 ? 2n ** BigInt(res & 0x7f) : 10n ** BigInt(res);
    const ts = BigInt(p.sec) * units + (BigInt(p.nsec) * units) / 1_000_000_000n;
    const body = Buffer.alloc(20 + p.data.length);
    body.writeUInt32LE(id, 0);
    body.writeUInt32LE(Number(ts >> 32n), 4);
    body.writeUInt32LE(Number(ts & 0xffffffffn), 8);
    body.writeUInt32LE(p.data.length, 12);
    body.writeUInt32LE(p.origlen, 16);
    p.data.copy(body, 20);
    parts.push(block(6, body));
  });
  return Buffer.concat(parts);
}
