/**
 * Waiting until a child process reads its stdin before signalling it: a signal that arrives
 * while Node is still starting ends the process with the default action (Node's own start-up
 * handler re-raises it), which a fixed sleep cannot rule out on a loaded machine. lbdiag installs
 * its SIGINT/SIGTERM handlers before it starts reading, and Node starts reading a pipe by adding
 * its fd to the event loop's epoll set, which /proc/<pid>/fdinfo shows ("tfd: <fd>").
 */
import fs from 'node:fs';

function watches(pid: number, fd: number): boolean {
  const re = new RegExp(`^tfd:\\s+${fd}\\s`, 'm');
  for (const n of fs.readdirSync(`/proc/${pid}/fd`)) {
    try {
      if (fs.readlinkSync(`/proc/${pid}/fd/${n}`) !== 'anon_inode:[eventpoll]') continue;
      if (re.test(fs.readFileSync(`/proc/${pid}/fdinfo/${n}`, 'utf8'))) return true;
    } catch {
      /* closed meanwhile */
    }
  }
  return false;
}

export async function waitForReading(pid: number, fd = 0, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let ok = false;
    try {
      ok = watches(pid, fd);
    } catch {
      throw new Error(`process ${pid} is gone`);
    }
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`process ${pid} did not start reading fd ${fd} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
