/** What every load generator (and lbdiag probe, measured the same way) looks like to the bench. */
export interface LoadSpec {
  url: string;
  host: string;
  port: number;
  keepAlive: boolean;
  concurrency: number;
  /** Run for this long... */
  durationS: number;
  /** ...or, when the tool supports it, for exactly this many requests. */
  requests?: number;
}

export interface Parsed {
  /** Responses counted by the tool. */
  requests: number;
  /** The tool's own requests/s (falls back to requests / elapsed). */
  rps?: number;
  elapsedS?: number;
  errors: number;
  non2xx: number;
  note?: string;
}

export interface LoadTool {
  name: string;
  /** Implementation language, shown next to the name. */
  lang: string;
  /** undefined when usable, else why not (missing, cannot do this mode). */
  unavailable(spec: Pick<LoadSpec, 'keepAlive' | 'requests'>): string | undefined;
  command(spec: LoadSpec): [string, string[]];
  parse(stdout: string, stderr: string, spec: LoadSpec): Parsed;
}

export const num = (s: string | undefined): number => (s === undefined ? NaN : Number(s));
