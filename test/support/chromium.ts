/**
 * Headless Chromium (Debian `chromium`) for the HTML report test: one bounded run per call, a new
 * profile directory each time (removed afterwards), no network features, console messages on
 * stderr (`--enable-logging=stderr`), which the test scans.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { start } from './processes.js';

export const CHROMIUM = '/usr/bin/chromium';

export function hasChromium(): boolean {
  try {
    fs.accessSync(CHROMIUM, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export interface ChromiumRun {
  code: number | string;
  stdout: string;
  stderr: string;
  /** Messages the page wrote to its console (and CSP violations, which Chromium logs there). */
  console: string[];
}

export async function runChromium(args: string[], timeoutMs = 100_000): Promise<ChromiumRun> {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'lbdiag-chromium-'));
  const p = start(CHROMIUM, [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--enable-logging=stderr',
    '--v=0',
    `--user-data-dir=${profile}`,
    ...args,
  ]);
  const timer = setTimeout(() => void p.stop('SIGKILL'), timeoutMs);
  const code = await p.exited;
  clearTimeout(timer);
  fs.rmSync(profile, { recursive: true, force: true });
  const stderr = p.stderr();
  const consoleLines = stderr.split('\n').filter((l) => /:CONSOLE[:(]|Uncaught/.test(l));
  return { code, stdout: p.stdout(), stderr, console: consoleLines };
}
