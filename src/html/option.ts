/**
 * `--html FILE` for the commands: checked before the run (so a long probe is not lost to a typo in
 * the path) and written after it, from the same JSON document `--json` prints. This module is
 * small on purpose; the renderer is imported only when the file is written.
 */
import fs from 'node:fs';
import path from 'node:path';
import { UsageError } from '../core/errors.js';

export const HTML_OPTION_HELP = 'also write a self-contained HTML report (charts, connection → backend map, findings) to FILE; the normal report still goes to stdout';

/** Validates `--html FILE` before the run: not stdout, the directory exists and is writable, not a directory. */
export function checkHtmlPath(file: string): string {
  if (file === '-') throw new UsageError('--html needs a file name (- is not allowed: the report goes to stdout; use --json for a pipe)');
  if (file.trim() === '') throw new UsageError('--html needs a file name');
  const dir = path.dirname(path.resolve(file));
  try {
    fs.accessSync(dir, fs.constants.W_OK);
  } catch (e) {
    throw new UsageError(`cannot write --html ${file}: directory ${dir} ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'does not exist' : 'is not writable'}`);
  }
  let st: fs.Stats | undefined;
  try {
    st = fs.statSync(file);
  } catch {
    st = undefined;
  }
  if (st?.isDirectory()) throw new UsageError(`cannot write --html ${file}: it is a directory`);
  return file;
}

/**
 * Renders `doc` (the command's JSON document, as `--json` prints it) and writes it to `file`
 * through a temporary file and a rename, so a reader never sees half a report. Throws UsageError
 * (one line, exit 2) when the file cannot be written.
 */
export async function writeHtmlReport(file: string, doc: unknown): Promise<void> {
  const { renderHtml } = await import('./index.js');
  // The JSON round trip makes the input exactly what --json prints (no Map, no class instance).
  const html = renderHtml(JSON.parse(JSON.stringify(doc)));
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    fs.writeFileSync(tmp, html);
    fs.renameSync(tmp, file);
  } catch (e) {
    try {
      fs.rmSync(tmp, { force: true });
    } catch {
      // nothing to clean
    }
    throw new UsageError(`cannot write --html ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}
