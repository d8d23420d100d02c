/**
 * Copies of a connection's and a decoded segment's state as numbers, so the HTTP layer can run in
 * another thread on a faithful copy (`--threads`): the TCP side writes the fields below with each
 * HTTP event, the HTTP side reads them into its own `Conn`/`Decoded` before calling the unchanged
 * HTTP layer. The lists hold what the HTTP layer (src/pcap/http/) and the connection helpers it
 * calls (connection.ts) read, plus the neighbouring state (identity, times, FIN/RST/SYN frames):
 * all of them would cost about twice as much per packet. test/pcap-threads-mirror.test.ts fails
 * when src/pcap/http/ or connection.ts names a field of Conn, Direction or Decoded that is not
 * copied, so the HTTP layer can never read a stale field in the worker.
 *
 * The copy functions are generated once from the field lists (straight-line property reads and
 * writes, monomorphic), because a loop over names would cost a keyed lookup per field per packet.
 */
import { Conn, Direction } from '../connection.js';
import { Decoded } from '../decode.js';

type Kind = 'num' | 'bool' | readonly string[];

/** String fields are sent as their index in these lists. */
const PREVIOUS_STATE = ['', 'fin', 'rst', 'open'] as const;

const DIRECTION_FIELDS: [string, Kind][] = [
  ['baseSeq', 'num'],
  ['baseSet', 'bool'],
  ['nextseq', 'num'],
  ['lastack', 'num'],
  ['packets', 'num'],
  ['payloadBytes', 'num'],
  ['synFrame', 'num'],
  ['finFrame', 'num'],
  ['finTime', 'num'],
  ['finSeq', 'num'],
  ['finAckedFrame', 'num'],
  ['rstFrame', 'num'],
  ['rstTime', 'num'],
];

const CONN_FIELDS: [string, Kind][] = [
  ['hash', 'num'],
  ['v6', 'bool'],
  ['a0', 'num'],
  ['a1', 'num'],
  ['a2', 'num'],
  ['a3', 'num'],
  ['b0', 'num'],
  ['b1', 'num'],
  ['b2', 'num'],
  ['b3', 'num'],
  ['ap', 'num'],
  ['bp', 'num'],
  ['stream', 'num'],
  ['clientIsA', 'num'],
  ['firstFrame', 'num'],
  ['firstTime', 'num'],
  ['lastFrame', 'num'],
  ['lastTime', 'num'],
  ['packets', 'num'],
  ['reusedPorts', 'bool'],
  ['previousState', PREVIOUS_STATE],
  ['previousStream', 'num'],
];

/** Offsets (poff, rend) are rewritten by the caller: they point into the record's buffer. */
const DECODED_FIELDS: [string, Kind][] = [
  ['v6', 'bool'],
  ['s0', 'num'],
  ['s1', 'num'],
  ['s2', 'num'],
  ['s3', 'num'],
  ['d0', 'num'],
  ['d1', 'num'],
  ['d2', 'num'],
  ['d3', 'num'],
  ['sport', 'num'],
  ['dport', 'num'],
  ['seq', 'num'],
  ['ack', 'num'],
  ['flags', 'num'],
  ['win', 'num'],
  ['seglen', 'num'],
  ['tunnelled', 'bool'],
  ['poff', 'num'],
  ['t', 'num'],
  ['rend', 'num'],
];

/**
 * Fields that are objects owned by one side: the hash chain, the directions (copied field by field),
 * the HTTP layer's own state, the decoder's capture-wide counters. Never copied.
 */
export const NOT_COPIED = {
  conn: ['next', 'ab', 'ba', 'http'],
  direction: [] as string[],
  decoded: ['encapsulations', 'bothViews'],
};

export const COPIED = {
  conn: CONN_FIELDS.map((f) => f[0]),
  direction: DIRECTION_FIELDS.map((f) => f[0]),
  decoded: DECODED_FIELDS.map((f) => f[0]),
};

/** Numbers one connection takes (its own fields and both directions'). */
export const CONN_SLOTS = CONN_FIELDS.length + 2 * DIRECTION_FIELDS.length;
export const DECODED_SLOTS = DECODED_FIELDS.length;

type Writer<T> = (x: T, to: Float64Array, at: number) => void;
type Reader<T> = (x: T, from: Float64Array, at: number) => void;

function writeLines(fields: [string, Kind][], obj: string, start: number, enums: (readonly string[])[]): string[] {
  return fields.map(([name, kind], i) => {
    const slot = `to[at + ${start + i}]`;
    if (kind === 'num') return `${slot} = ${obj}.${name};`;
    if (kind === 'bool') return `${slot} = ${obj}.${name} ? 1 : 0;`;
    enums.push(kind);
    return `${slot} = E${enums.length - 1}.indexOf(${obj}.${name});`;
  });
}

function readLines(fields: [string, Kind][], obj: string, start: number, enums: (readonly string[])[]): string[] {
  return fields.map(([name, kind], i) => {
    const slot = `from[at + ${start + i}]`;
    if (kind === 'num') return `${obj}.${name} = ${slot};`;
    if (kind === 'bool') return `${obj}.${name} = ${slot} !== 0;`;
    enums.push(kind);
    return `${obj}.${name} = E${enums.length - 1}[${slot}];`;
  });
}

function compile<F>(args: string, body: string[], enums: (readonly string[])[]): F {
  const names = enums.map((_, i) => `E${i}`);
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  return new Function(...names, `return function (${args}) {\n${body.join('\n')}\n};`)(...enums) as F;
}

function connBody(lines: typeof writeLines): { body: string[]; enums: (readonly string[])[] } {
  const enums: (readonly string[])[] = [];
  const n = CONN_FIELDS.length;
  const d = DIRECTION_FIELDS.length;
  const body = [...lines(CONN_FIELDS, 'c', 0, enums), 'const ab = c.ab;', ...lines(DIRECTION_FIELDS, 'ab', n, enums), 'const ba = c.ba;', ...lines(DIRECTION_FIELDS, 'ba', n + d, enums)];
  return { body, enums };
}

const cw = connBody(writeLines);
const cr = connBody(readLines);
const dwEnums: (readonly string[])[] = [];
const drEnums: (readonly string[])[] = [];

/** Writes `c`'s state at `to[at .. at + CONN_SLOTS)`. */
export const writeConn: Writer<Conn> = compile('c, to, at', cw.body, cw.enums);
/** Sets `c`'s fields (and its directions') from `from[at .. at + CONN_SLOTS)`. */
export const readConn: Reader<Conn> = compile('c, from, at', cr.body, cr.enums);
export const writeDecoded: Writer<Decoded> = compile('c, to, at', writeLines(DECODED_FIELDS, 'c', 0, dwEnums), dwEnums);
export const readDecoded: Reader<Decoded> = compile('c, from, at', readLines(DECODED_FIELDS, 'c', 0, drEnums), drEnums);

/** The classes whose fields are copied (for the coverage test). */
export const MIRRORED = { Conn, Direction, Decoded };

/** Where a connection's stream number sits in its copy. */
export const CONN_STREAM = COPIED.conn.indexOf('stream');
