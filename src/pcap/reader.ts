/**
 * Streaming capture reader: classic pcap (µs and ns magic, both byte orders, Kuznetsov's
 * "modified" pcap) and pcapng (SHB/IDB/EPB/SPB/OPB, several interfaces and sections,
 * if_tsresol/if_tsoffset). Bytes are pushed in chunks of any size; `next()` exposes one
 * record at a time through public scratch fields (no object per packet). A record that
 * spans chunks is completed when the next chunk arrives.
 *
 * One file (over 400 lines) on purpose: pcap and pcapng share the chunk-spanning buffer and the
 * scratch record fields `next()` fills; split, the per-record path would cross modules for state.
 */

export type CaptureFormat = 'pcap' | 'pcap-ns' | 'pcap-modified' | 'pcapng';

export const NEED_MORE = 0;
export const PACKET = 1;

/** Thrown when the first bytes are not a capture (→ UsageError by the caller). */
export class NotACaptureError extends Error {}
/** Thrown when a record makes no sense (corrupt file): the caller reports what came before. */
export class CorruptCaptureError extends Error {
  constructor(
    readonly what: string,
    readonly at: number,
  ) {
    super(`${what} at byte ${at}`);
  }
}

/**
 * Limits as in Wireshark's wiretap (wtap.h, pcapng.c): a record longer than the largest packet
 * its link type can carry, or a pcapng block longer than MAX_BLOCK_SIZE, means a corrupt file
 * (never a buffer of that size).
 */
export const MAX_PACKET_STANDARD = 262144;
const MAX_PACKET_DBUS = 128 * 1024 * 1024; // also USBPCAP
const MAX_PACKET_EBHSCR = 8 * 1024 * 1024;
const MAX_BLOCK_SIZE = 32 + MAX_PACKET_DBUS + 131072;
/**
 * Interfaces kept per pcapng section. Wireshark keeps every IDB; a file of millions of IDBs
 * would then cost gigabytes, so the ones past this are counted (`skipped`) and the packets on
 * them skipped and counted too.
 */
export const MAX_INTERFACES = 65536;
const SPACE_HEADROOM = 256 * 1024;

/** Largest captured length a record of this link type may have (Wireshark's wtap_max_snaplen_for_encap). */
export function maxSnaplen(linkType: number): number {
  if (linkType === 231 || linkType === 249) return MAX_PACKET_DBUS; // D-Bus, USBPcap
  if (linkType === 279) return MAX_PACKET_EBHSCR;
  return MAX_PACKET_STANDARD;
}

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

/** Unsigned 32-bit reads without Buffer's argument checks (hot path; bounds are checked by the caller). */
function u32le(d: Buffer, p: number): number {
  return (d[p] | (d[p + 1] << 8) | (d[p + 2] << 16) | (d[p + 3] << 24)) >>> 0;
}

function u32be(d: Buffer, p: number): number {
  return ((d[p] << 24) | (d[p + 1] << 16) | (d[p + 2] << 8) | d[p + 3]) >>> 0;
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
  /** Records returned by next() as PACKET. */
  records = 0;
  /** What the reader passed over without failing, by reason (merged into summary.skipped). */
  readonly skipped = new Map<string, number>();

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
  /** IDBs met in this section, kept or not (packets name interfaces by this index). */
  private ifaceCount = 0;
  private maxLink = MAX_PACKET_STANDARD;
  private ended = false;

  /**
   * Appends a chunk. The previous record stays valid only until the next `next()`. A chunk
   * that starts on a record boundary is used in place; a partial record is completed in the
   * reader's own buffer, which grows by doubling (a record spread over many small chunks is
   * copied a bounded number of times, not once per chunk).
   */
  push(chunk: Buffer): void {
    if (this.pos >= this.limit) {
      this.data = chunk;
      this.pos = 0;
      this.limit = chunk.length;
      return;
    }
    const { buf, offset } = this.space(chunk.length);
    chunk.copy(buf, offset);
    this.commit(chunk.length);
  }

  private bump(reason: string, n = 1): void {
    this.skipped.set(reason, (this.skipped.get(reason) ?? 0) + n);
  }

  private corrupt(what: string, at: number): never {
    throw new CorruptCaptureError(what, at);
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
      // Headroom for the partial record carried over, so the buffer is allocated once per input;
      // a record larger than that doubles it (linear copying however the record arrives).
      const n = Buffer.allocUnsafe(Math.max(left + chunk + SPACE_HEADROOM, own ? 2 * own.length : 0));
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
        if (incl > this.maxLink) this.corrupt(`record of ${incl} bytes (this link type allows at most ${this.maxLink})`, this.consumed);
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
        this.records++;
        return PACKET;
      }
      // pcapng block, checked as Wireshark's pcapng.c does (block length at least 12, rounded up
      // to a multiple of 4, at most MAX_BLOCK_SIZE, trailer equal to the header's length).
      if (avail < 12) return NEED_MORE;
      const at = this.consumed;
      let type = this.le ? u32le(d, p) : u32be(d, p);
      const shb = u32be(d, p) === 0x0a0d0d0a;
      if (shb) {
        // A section header: its byte order magic decides the order of everything in it.
        const bom = u32le(d, p + 8);
        if (bom === 0x1a2b3c4d) this.le = true;
        else if (bom === 0x4d3c2b1a) this.le = false;
        else this.corrupt('bad pcapng byte-order magic', at);
        type = 0x0a0d0d0a;
      }
      const le = this.le;
      const raw = le ? u32le(d, p + 4) : u32be(d, p + 4);
      const len = (raw + 3) & ~3;
      if (raw < 12) this.corrupt(`pcapng block of ${raw} bytes (less than 12)`, at);
      if (raw > MAX_BLOCK_SIZE) this.corrupt(`pcapng block of ${raw} bytes (more than ${MAX_BLOCK_SIZE})`, at);
      if (shb && raw < 28) this.corrupt(`section header block of ${raw} bytes (less than 28)`, at);
      if (avail < len) {
        // A packet block's fixed part is checked before waiting for the rest of the block.
        if ((type === 6 || type === 2) && avail >= 28) this.checkPacketBlock(d, p, type, len, at);
        return NEED_MORE;
      }
      const trailer = (((le ? u32le(d, p + len - 4) : u32be(d, p + len - 4)) + 3) & ~3) >>> 0;
      if (trailer !== len) this.corrupt(`pcapng block lengths differ (${raw} at the start, ${trailer} at the end)`, at);
      this.pos = p + len;
      this.consumed += len;
      switch (type) {
        case 0x0a0d0d0a: {
          const major = le ? d[p + 12] | (d[p + 13] << 8) : (d[p + 12] << 8) | d[p + 13];
          const minor = le ? d[p + 14] | (d[p + 15] << 8) : (d[p + 14] << 8) | d[p + 15];
          if (major !== 1 || (minor !== 0 && minor !== 2)) this.corrupt(`unsupported pcapng version ${major}.${minor}`, at);
          this.ifaces = [];
          this.ifaceCount = 0;
          break;
        }
        case 1:
          if (len < 20) this.corrupt(`interface description block of ${raw} bytes (less than 20)`, at);
          if (this.ifaceCount >= MAX_INTERFACES) this.bump('pcapng-interface-over-limit');
          else this.readIdb(d, p, len, at);
          this.ifaceCount++;
          break;
        case 6:
        case 2: {
          const id = this.checkPacketBlock(d, p, type, len, at);
          if (id < 0) break; // on an interface past the limit: counted by checkPacketBlock
          const iface = this.ifaces[id];
          const hi = le ? u32le(d, p + 12) : u32be(d, p + 12);
          const lo = le ? u32le(d, p + 16) : u32be(d, p + 16);
          this.setTime(iface, hi, lo);
          this.buf = d;
          this.offset = p + 28;
          this.caplen = le ? u32le(d, p + 20) : u32be(d, p + 20);
          this.origlen = le ? u32le(d, p + 24) : u32be(d, p + 24);
          this.linkType = iface.linkType;
          this.records++;
          return PACKET;
        }
        case 3: {
          if (raw < 16) this.corrupt(`simple packet block of ${raw} bytes (less than 16)`, at);
          if (this.ifaceCount === 0) this.corrupt('simple packet block before any interface description', at);
          const iface = this.ifaces[0];
          const orig = le ? u32le(d, p + 8) : u32be(d, p + 8);
          let cap = orig;
          if (iface.snaplen > 0 && cap > iface.snaplen) cap = iface.snaplen;
          if (16 + ((cap + 3) & ~3) > len) this.corrupt(`simple packet block of ${raw} bytes too small for ${orig} bytes of packet data`, at);
          if (cap > maxSnaplen(iface.linkType)) this.corrupt(`packet of ${cap} bytes (its link type allows at most ${maxSnaplen(iface.linkType)})`, at);
          this.buf = d;
          this.offset = p + 12;
          this.caplen = cap;
          this.origlen = orig;
          this.sec = 0;
          this.nsec = 0;
          this.linkType = iface.linkType;
          this.records++;
          return PACKET;
        }
        default:
          // Name resolution, statistics, decryption secrets, custom and unknown blocks: not packets.
          break;
      }
    }
  }

  /**
   * Checks an enhanced (6) or obsolete (2) packet block's fixed part as Wireshark does; returns
   * the interface index, or -1 for an interface past MAX_INTERFACES (the packet is counted as
   * skipped when the whole block is there).
   */
  private checkPacketBlock(d: Buffer, p: number, type: number, len: number, at: number): number {
    const le = this.le;
    const name = type === 6 ? 'enhanced packet block' : 'packet block';
    if (len < 32) this.corrupt(`${name} of ${len} bytes (less than 32)`, at);
    const id = type === 6 ? (le ? u32le(d, p + 8) : u32be(d, p + 8)) : le ? d[p + 8] | (d[p + 9] << 8) : (d[p + 8] << 8) | d[p + 9];
    const cap = le ? u32le(d, p + 20) : u32be(d, p + 20);
    if (32 + ((cap + 3) & ~3) > len) this.corrupt(`${name} of ${len} bytes too small for ${cap} bytes of packet data`, at);
    if (id >= this.ifaceCount) this.corrupt(`packet on interface ${id}, but the section declares ${this.ifaceCount}`, at);
    const iface = this.ifaces[id];
    if (iface === undefined) {
      if (this.consumed > at) this.bump('packet-on-interface-over-limit');
      return -1;
    }
    const max = maxSnaplen(iface.linkType);
    if (cap > max) this.corrupt(`packet of ${cap} bytes (its link type allows at most ${max})`, at);
    return id;
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
    this.maxLink = maxSnaplen(this.pcapLink);
    this.pos = p + 24;
    this.consumed += 24;
    return true;
  }

  private short(): boolean {
    if (this.ended) throw new NotACaptureError('not a capture file (header cut short)');
    return false;
  }

  private readIdb(d: Buffer, p: number, len: number, at: number): void {
    const le = this.le;
    const linkType = le ? d[p + 8] | (d[p + 9] << 8) : (d[p + 8] << 8) | d[p + 9];
    const snaplen = le ? u32le(d, p + 12) : u32be(d, p + 12);
    let units = 1e6;
    let offset = 0;
    let o = p + 16;
    const end = p + len - 4;
    while (o < end) {
      if (o + 4 > end) this.corrupt('interface description option header cut by the end of the block', at);
      const code = le ? d[o] | (d[o + 1] << 8) : (d[o] << 8) | d[o + 1];
      const olen = le ? d[o + 2] | (d[o + 3] << 8) : (d[o + 2] << 8) | d[o + 3];
      if (code === 0) break;
      if (o + 4 + olen > end) this.corrupt(`interface description option of ${olen} bytes past the end of the block`, at);
      if (code === 9 && olen === 1) {
        const v = d[o + 4];
        const exp = v & 0x7f;
        if (v & 0x80) {
          if (exp > 63) this.corrupt(`if_tsresol 2^-${exp} (Wireshark reads at most 2^-63)`, at);
          units = 2 ** exp;
        } else {
          if (exp > 19) this.corrupt(`if_tsresol 10^-${exp} (Wireshark reads at most 10^-19)`, at);
          units = 10 ** exp;
        }
      } else if (code === 14 && olen === 8) {
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
