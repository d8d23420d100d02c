/**
 * `lbdiag whoami` as a child process for the hostile-input, drain and fuzz tests: start on a
 * loopback address, wait for the banner, read its RSS, time GET / on one keep-alive connection.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { freePort, startLbdiag, type Started } from './processes.js';

export async function until(what: string, check: () => boolean, timeoutMs = 8000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export async function startWhoamiProcess(host: string, args: string[]): Promise<{ p: Started; port: number }> {
  const port = await freePort(host);
  const p = startLbdiag(['whoami', '-H', host, '--port', String(port), ...args]);
  try {
    // Generous: with --workers the primary forks node processes, slow on a loaded 2-core machine.
    await until('the banner', () => /keep-alive|"event":"listening"/.test(p.stdout()) || p.child.exitCode !== null, 30_000);
    assert.equal(p.child.exitCode, null, `whoami exited early: ${p.stderr()}`);
  } catch (e) {
    await p.stop('SIGKILL'); // never leave it running (its pipes would keep the test process alive)
    throw e;
  }
  return { p, port };
}

/** VmRSS of a live process in MiB (0 when gone). */
export function rssMiB(pid: number): number {
  try {
    const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : 0;
  } catch {
    return 0;
  }
}

/**
 * `n` sequential `GET /` on one keep-alive connection; the time of each (ms), sorted.
 * Reads whole responses (Content-Length) by hand.
 */
export async function timeGets(host: string, port: number, n: number): Promise<number[]> {
  const s = net.connect({ host, port });
  await new Promise<void>((resolve, reject) => {
    s.once('connect', resolve);
    s.once('error', reject);
  });
  let buf = Buffer.alloc(0);
  let wake: (() => void) | null = null;
  s.on('data', (d: Buffer) => {
    buf = Buffer.concat([buf, d]);
    wake?.();
  });
  s.on('error', () => {});
  const times: number[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      s.write(`GET / HTTP/1.1\r\nHost: t\r\n\r\n`);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end !== -1) {
          const len = Number(/content-length: (\d+)/i.exec(buf.subarray(0, end).toString('latin1'))?.[1] ?? 0);
          if (buf.length >= end + 4 + len) {
            buf = buf.subarray(end + 4 + len);
            break;
          }
        }
        if (s.destroyed) throw new Error('connection closed');
        await new Promise<void>((resolve, reject) => {
          const t = setTimeout(() => reject(new Error('GET / took over 10 s')), 10_000);
          wake = () => {
            clearTimeout(t);
            wake = null;
            resolve();
          };
        });
      }
      times.push(performance.now() - t0);
    }
  } finally {
    s.destroy();
  }
  return times.sort((a, b) => a - b);
}

export const median = (sorted: number[]): number => sorted[Math.floor(sorted.length / 2)];
