/**
 * Streaming capture reader: classic pcap (µs and ns magic, both byte orders, Kuznetsov's
 * "modified" pcap) and pcapng (SHB/IDB/EPB/SPB/OPB, several interfaces and sections,
 * if_tsresol/if_tsoffset). Bytes are pushed in chunks of any size; `next()` exposes one
 * record at a time through public scratch fields (no object per packet). A record that
 * spans chunks is completed when the next chunk arrives.
 */

export type CaptureFormat = 'pcap' | 'pcap-ns' | 'pcap-modified' | 'pcapng';

export const NEED_MORE = 0;
export const PACKET = 1;

/** Thrown when the first bytes are not a capture (→ UsageError by the caller). */
export class NotACaptureError extends Error {}
/** Thrown when a record makes no sense (corrupt file): the caller reports what came before. */
export class CorruptCaptureError extends Error {}

const MAX_RECORD = 64 * 1024 * 1024;

interface Iface {
  linkType: number;
  snaplen: number;
  /** Units per second of the timestamps (1e6 unless if_tsresol says otherwise). */
  units: number;
  /** Seconds added to every timestamp (if_tsoffset). */
  offset: number;
  /** Cache for the 64-bit timestamp split: the high word seen last and what it is worth. */
  hi: number;
  hiSec: number;
  hiRem: number;
}

export class CaptureReader {
  format: CaptureFormat | null = null;
  /** Link types met (pcapng: one per interface). */
  readonly linkTypes = new Set<number>();

  // The current record (valid after next() returned PACKET, until the next call).
  buf: Buffer = Buffer.alloc(0);
  offset = 0;
  caplen = 0;
  origlen = 0;
  sec = 0;
  nsec = 0;
  linkType = 0;

  /** Bytes consumed so far (for progress). */
  consumed = 0;
  /** Set when the input ended inside a record or header. */
  truncatedAt: number | null = null;

  private data: Buffer = Buffer.alloc(0);
  /** End of the valid bytes in `data`. */
  private limit = 0;
  private pos = 0;
  /** A buffer owned by the reader that files are read into (no allocation per chunk). */
  private own: Buffer | null = null;
  private le = true;
  private nsRes = false;
  private modified = false;
  private pcapLink = 0;
  private ifaces: Iface[] = [];
  private ended = false;

  /** Appends a chunk. The previous record stays valid only until the next `next()`. */
  push(chunk: Buffer): void {
    if (this.pos >= this.limit) this.data = chunk;
    else this.data = Buffer.concat([this.data.subarray(this.pos, this.limit), chunk]);
    this.pos = 0;
    this.limit = this.data.length;
  }

  /**
   * For readers that fill a buffer themselves: moves the unread bytes to the front of the
   * reader's own buffer (grown when a record needs it) and returns that buffer and the offset
   * to read into. Call `commit(n)` with the number of bytes read.
   */
  space(chunk: number): { buf: Buffer; offset: number } {
    const left = this.limit - this.pos;
    let own = this.own;
    if (!own || own.length < left + chunk) {
      const n = Buffer.allocUnsafe(Math.max(left + chunk, own ? own.length : 0));
      this.data.copy(n, 0, this.pos, this.limit);
      own = this.own = n;
    } else if (left > 0) this.data.copy(own, 0, this.pos, this.limit);
    this.data = own;
    this.pos = 0;
    this.limit = left;
    return { buf: own, offset: left };
  }

  commit(n: number): void {
    this.limit += n;
  }

  /** No more input: a partial record left over means the file was cut. */
  end(): void {
    this.ended = true;
    const left = this.limit - this.pos;
    if (left > 0 && this.truncatedAt === null) this.truncatedAt = this.consumed;
  }

  /** PACKET when a record is ready in the scratch fields, NEED_MORE when more bytes are needed. */
  next(): number {
    for (;;) {
      const d = this.data;
      const p = this.pos;
      const avail = this.limit - p;
      if (this.format === null) {
        if (!this.readHeader()) return NEED_MORE;
        continue;
      }
      if (this.format !== 'pcapng') {
        const hdr = this.modified ? 24 : 16;
        if (avail < hdr) return NEED_MORE;
        let tsSec, tsFrac, incl, orig;
        if (this.le) {
          tsSec = (d[p] | (d[p + 1] << 8) | (d[p + 2] << 16) | (d[p + 3] << 24)) >>> 0;
          tsFrac = (d[p + 4] | (d[p + 5] << 8) | (d[p + 6] << 16) | (d[p + 7] << 24)) >>> 0;
          incl = (d[p + 8] | (d[p + 9] << 8) | (d[p + 10] << 16) | (d[p + 11] << 24)) >>> 0;
          orig = (d[p + 12] | (d[p + 13] << 8) | (d[p + 14] << 16) | (d[p + 15] << 24)) >>> 0;
        } else {
          tsSec = ((d[p] << 24) | (d[p + 1] << 16) | (d[p + 2] << 8) | d[p + 3]) >>> 0;
          tsFrac = ((d[p + 4] << 24) | (d[p + 5] << 16) | (d[p + 6] << 8) | d[p + 7]) >>> 0;
          incl = ((d[p + 8] << 24) | (d[p + 9] << 16) | (d[p + 10] << 8) | d[p + 11]) >>> 0;
          orig = ((d[p + 12] << 24) | (d[p + 13] << 16) | (d[p + 14] << 8) | d[p + 15]) >>> 0;
        }
        if (incl > MAX_RECORD) throw new CorruptCaptureError(`record of ${incl} bytes at byte ${this.consumed}`);
        if (avail < hdr + incl) return NEED_MORE;
        this.buf = d;
        this.offset = p + hdr;
        this.caplen = incl;
        this.origlen = orig;
        this.sec = tsSec;
        this.nsec = this.nsRes ? tsFrac : tsFrac * 1000;
        if (this.nsec >= 1e9) {
          // Out-of-range fraction (seen in fuzzed files): carry it like Wireshark shows it.
          this.sec += Math.floor(this.nsec / 1e9);
          this.nsec %= 1e9;
        }
        this.linkType = this.pcapLink;
        this.pos = p + hdr + incl;
        this.consumed += hdr + incl;
        return PACKET;
      }
      // pcapng block
      if (avail < 12) return NEED_MORE;
      let type = this.le ? d.readUInt32LE(p) : d.readUInt32BE(p);
      if (d.readUInt32BE(p) === 0x0a0d0d0a) {
        // A section header: its byte order magic decides the order of everything in it.
        const bom = d.readUInt32LE(p + 8);
        if (bom === 0x1a2b3c4d) this.le = true;
        else if (bom === 0x4d3c2b1a) this.le = false;
        else throw new CorruptCaptureError(`bad pcapng byte-order magic at byte ${this.consumed}`);
        type = 0x0a0d0d0a;
      }
      const len = this.le ? d.readUInt32LE(p + 4) : d.readUInt32BE(p + 4);
      if (len < 12 || len % 4 !== 0 || len > MAX_RECORD) throw new CorruptCaptureError(`pcapng block of ${len} bytes at byte ${this.consumed}`);
      if (avail < len) return NEED_MORE;
      this.pos = p + len;
      this.consumed += len;
      switch (type) {
        case 0x0a0d0d0a:
          this.ifaces = [];
          break;
        case 1:
          this.readIdb(d, p, len);
          break;
        case 6:
        case 2: {
          if (len < 32) throw new CorruptCaptureError(`short packet block at byte ${this.consumed - len}`);
          const le = this.le;
          const id = type === 6 ? (le ? d.readUInt32LE(p + 8) : d.readUInt32BE(p + 8)) : le ? d.readUInt16LE(p + 8) : d.readUInt16BE(p + 8);
          const iface = this.ifaces[id];
          if (!iface) throw new CorruptCaptureError(`packet on undeclared interface ${id} at byte ${this.consumed - len}`);
          const hi = le ? d.readUInt32LE(p + 12) : d.readUInt32BE(p + 12);
          const lo = le ? d.readUInt32LE(p + 16) : d.readUInt32BE(p + 16);
          let cap = le ? d.readUInt32LE(p + 20) : d.readUInt32BE(p + 20);
          const orig = le ? d.readUInt32LE(p + 24) : d.readUInt32BE(p + 24);
          if (cap > len - 32) cap = len - 32;
          this.setTime(iface, hi, lo);
          this.buf = d;
          this.offset = p + 28;
          this.caplen = cap;
          this.origlen = orig;
          this.linkType = iface.linkType;
          return PACKET;
        }
        case 3: {
          const iface = this.ifaces[0];
          if (!iface) throw new CorruptCaptureError(`simple packet block without an interface at byte ${this.consumed - len}`);
          const orig = this.le ? d.readUInt32LE(p + 8) : d.readUInt32BE(p + 8);
          let cap = Math.min(orig, len - 16);
          if (iface.snaplen > 0 && cap > iface.snaplen) cap = iface.snaplen;
          this.buf = d;
          this.offset = p + 12;
          this.caplen = cap;
          this.origlen = orig;
          this.sec = 0;
          this.nsec = 0;
          this.linkType = iface.linkType;
          return PACKET;
        }
        default:
          break; // name resolution, statistics, decryption secrets, custom: not packets
      }
    }
  }

  private readHeader(): boolean {
    const d = this.data;
    const p = this.pos;
    const avail = this.limit - p;
    if (avail < 4) {
      if (this.ended) throw new NotACaptureError('not a capture file (too short)');
      return false;
    }
    const be = d.readUInt32BE(p);
    const le = d.readUInt32LE(p);
    if (be === 0x0a0d0d0a) {
      if (avail < 12) return this.short();
      this.format = 'pcapng';
      return true; // the SHB itself is read as a block
    }
    let ns = false;
    let mod = false;
    let little: boolean;
    if (le === 0xa1b2c3d4) little = true;
    else if (be === 0xa1b2c3d4) little = false;
    else if (le === 0xa1b23c4d) (little = true), (ns = true);
    else if (be === 0xa1b23c4d) (little = false), (ns = true);
    else if (le === 0xa1b2cd34) (little = true), (mod = true);
    else if (be === 0xa1b2cd34) (little = false), (mod = true);
    else throw new NotACaptureError('not a pcap or pcapng capture (unknown magic number)');
    if (avail < 24) return this.short();
    this.le = little;
    this.nsRes = ns;
    this.modified = mod;
    this.format = ns ? 'pcap-ns' : mod ? 'pcap-modified' : 'pcap';
    this.pcapLink = (little ? d.readUInt32LE(p + 20) : d.readUInt32BE(p + 20)) & 0x0fffffff;
    this.linkTypes.add(this.pcapLink);
    this.pos = p + 24;
    this.consumed += 24;
    return true;
  }

  private short(): boolean {
    if (this.ended) throw new NotACaptureError('not a capture file (header cut short)');
    return false;
  }

  private readIdb(d: Buffer, p: number, len: number): void {
    const le = this.le;
    const linkType = le ? d.readUInt16LE(p + 8) : d.readUInt16BE(p + 8);
    const snaplen = le ? d.readUInt32LE(p + 12) : d.readUInt32BE(p + 12);
    let units = 1e6;
    let offset = 0;
    let o = p + 16;
    const end = p + len - 4;
    while (o + 4 <= end) {
      const code = le ? d.readUInt16LE(o) : d.readUInt16BE(o);
      const olen = le ? d.readUInt16LE(o + 2) : d.readUInt16BE(o + 2);
      if (code === 0) break;
      if (o + 4 + olen > end) break;
      if (code === 9 && olen >= 1) {
        const v = d[o + 4];
        const exp = v & 0x7f;
        units = v & 0x80 ? 2 ** exp : 10 ** exp;
        if (!Number.isFinite(units) || units < 1) units = 1e6;
      } else if (code === 14 && olen >= 8) {
        offset = Number(le ? d.readBigInt64LE(o + 4) : d.readBigInt64BE(o + 4));
      }
      o += 4 + ((olen + 3) & ~3);
    }
    this.ifaces.push({ linkType, snaplen, units, offset, hi: -1, hiSec: 0, hiRem: 0 });
    this.linkTypes.add(linkType);
  }

  /** 64-bit timestamp in `units` per second → sec/nsec, exact, BigInt only when the high word changes. */
  private setTime(iface: Iface, hi: number, lo: number): void {
    if (hi !== iface.hi) {
      const big = BigInt(hi) << 32n;
      const u = BigInt(iface.units);
      iface.hi = hi;
      iface.hiSec = Number(big / u);
      iface.hiRem = Number(big % u);
    }
    const units = iface.units;
    const rem = iface.hiRem + lo; // < units + 2^32: exact in a double
    const carry = Math.floor(rem / units);
    const frac = rem - carry * units;
    this.sec = iface.hiSec + carry + iface.offset;
    this.nsec = units === 1e9 ? frac : units === 1e6 ? frac * 1000 : Math.floor((frac * 1e9) / units);
  }
}
