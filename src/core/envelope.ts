/**
 * The one JSON envelope every command prints with `--json` (`probe`, `pcap`, `lab`, `merge`):
 * `{ schema, command, version, startedAt, interrupted, config, findings, ...command fields }`,
 * described by `schema/lbdiag-v1.schema.json`. Findings are sorted here, and only here.
 * A stable contract: add fields, never rename them (a rename keeps the old name one release).
 */
import { createRequire } from 'node:module';
import { sortFindings, type Finding } from './finding.js';

/** The `schema` value of every document; changes only with an incompatible schema (v2). */
export const SCHEMA_ID = 'lbdiag.v1';

export type CommandName = 'probe' | 'pcap' | 'lab' | 'merge';

const require = createRequire(import.meta.url);
/** lbdiag's version (package.json), also in every document. */
export const VERSION = (require('../../../package.json') as { version: string }).version;

export interface Envelope<C extends CommandName = CommandName> {
  schema: typeof SCHEMA_ID;
  command: C;
  version: string;
  /** When the run started, ISO 8601 (UTC). */
  startedAt: string;
  /** Stopped early (Ctrl-C, SIGTERM): the document holds what was gathered until then. */
  interrupted: boolean;
  /** The options that shaped the run, after defaults. */
  config: Record<string, unknown>;
  /** Worst first (see sortFindings). */
  findings: Finding[];
}

export interface EnvelopeHead {
  startedAt: Date | string;
  interrupted: boolean;
  config: Record<string, unknown>;
  findings: readonly Finding[];
}

/** Builds a command's document: the common head first, then the command's own fields. */
export function envelope<C extends CommandName, F extends object>(command: C, head: EnvelopeHead, fields: F): Envelope<C> & F {
  return {
    schema: SCHEMA_ID,
    command,
    version: VERSION,
    startedAt: typeof head.startedAt === 'string' ? head.startedAt : head.startedAt.toISOString(),
    interrupted: head.interrupted,
    config: head.config,
    findings: sortFindings(head.findings),
    ...fields,
  };
}
