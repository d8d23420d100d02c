/**
 * A live status line on stderr, only when stderr is a TTY (never in pipes, files or CI logs).
 * Throttled so that a hot loop can call `update` on every item cheaply.
 */
export class ProgressLine {
  private readonly enabled: boolean;
  private last = 0;
  private shown = false;

  constructor(
    private readonly stream: NodeJS.WriteStream = process.stderr,
    private readonly intervalMs = 200,
    enabled?: boolean,
  ) {
    this.enabled = enabled ?? Boolean(stream.isTTY);
  }

  get active(): boolean {
    return this.enabled;
  }

  /** `text` is only computed when the line is due to be redrawn. */
  update(text: () => string, force = false): void {
    if (!this.enabled) return;
    const now = Date.now();
    if (!force && now - this.last < this.intervalMs) return;
    this.last = now;
    const cols = this.stream.columns || 100;
    const line = text().slice(0, cols - 1);
    this.stream.write(`\r\x1b[2K${line}`);
    this.shown = true;
  }

  /** Erases the line so the report starts on a clean row. */
  clear(): void {
    if (this.enabled && this.shown) this.stream.write('\r\x1b[2K');
    this.shown = false;
  }
}
