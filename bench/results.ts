/**
 * What a bench run produces: raw measurements per section and the comparisons (ratios against anchors
 * measured in the same run). Goals are reported, never enforced: the bench exits 0 whatever the ratios.
 */
export type Section = 'whoami' | 'probe' | 'pcap';

export interface Goal {
  /** The ratio must be at least (>=) or at most (<=) this. */
  op: '>=' | '<=';
  value: number;
}

export interface Comparison {
  section: Section;
  /** Stable key, e.g. `whoami.keepalive.vs-bare-node`. */
  id: string;
  subject: string;
  anchor: string;
  unit: string;
  subjectValue?: number;
  anchorValue?: number;
  ratio?: number;
  /** The same ratio per CPU-second of the side measured (client or server): steadier on a busy machine. */
  cpuRatio?: number;
  goal?: Goal;
  status: 'met' | 'missed' | 'info' | 'skipped';
  note?: string;
}

export interface Results {
  generatedAt: string;
  settings: Record<string, unknown>;
  machine: Record<string, unknown>;
  pinning: string;
  measurements: Record<string, unknown[]>;
  comparisons: Comparison[];
  skipped: { what: string; reason: string }[];
}

export function compare(
  section: Section,
  id: string,
  subject: { name: string; value?: number; perCpu?: number },
  anchor: { name: string; value?: number; perCpu?: number },
  unit: string,
  goal?: Goal,
  note?: string,
): Comparison {
  const c: Comparison = { section, id, subject: subject.name, anchor: anchor.name, unit, subjectValue: subject.value, anchorValue: anchor.value, goal, status: 'skipped', note };
  if (subject.value !== undefined && anchor.value !== undefined && anchor.value > 0) {
    c.ratio = Number((subject.value / anchor.value).toPrecision(3));
    if (subject.perCpu && anchor.perCpu) c.cpuRatio = Number((subject.perCpu / anchor.perCpu).toPrecision(3));
    c.status = !goal ? 'info' : (goal.op === '>=' ? c.ratio >= goal.value : c.ratio <= goal.value) ? 'met' : 'missed';
  }
  return c;
}
