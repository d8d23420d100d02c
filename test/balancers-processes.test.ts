import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { waitForPort } from '../src/lab/port-wait.js';
import { isListening } from '../src/lab/proc-net.js';
import { spawnProcess, pidAlive } from '../src/lab/supervisor.js';
import { findBinary, MissingToolError } from '../src/lab/tools.js';
import { start } from './support/processes.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const SUPERVISOR_JS = path.resolve(here, '../src/lab/supervisor.js');

test('stop(): SIGTERM, then SIGKILL after the grace period for a child that ignores SIGTERM', async () => {
  const p = spawnProcess(process.execPath, ['-e', "process.on('SIGTERM', () => {}); console.log('up'); setInterval(() => {}, 1000)"], { name: 'stubborn', graceMs: 300 });
  await new Promise((r) => p.child.stdout?.once('data', r));
  const t0 = Date.now();
  const st = await p.stop();
  assert.equal(st.signal, 'SIGKILL');
  assert.ok(Date.now() - t0 >= 250);
  assert.equal(pidAlive(p.pid), false);
});

test('waitForPort: fails early with the child stderr when it exits before listening', async () => {
  const p = spawnProcess(process.execPath, ['-e', "console.error('[ALERT] cannot bind socket 127.0.30.9:1'); process.exit(3)"], { name: 'fake-lb' });
  await assert.rejects(waitForPort('127.0.30.9', 1, { process: p, timeoutMs: 5000 }), /fake-lb exited \(code 3\).*cannot bind socket/);
});

test('waitForPort: resolves once the child itself listens (read from /proc, no connection sent)', async () => {
  const p = spawnProcess(process.execPath, ['-e', "const s=require('net').createServer(c=>{console.log('CONNECTED');c.destroy()}); setTimeout(()=>s.listen(0,'127.0.30.9',()=>console.error('port '+s.address().port)),200)"], { name: 'late' });
  try {
    const port = await new Promise<number>((resolve) => p.child.stderr?.on('data', (d: Buffer) => { const m = /port (\d+)/.exec(String(d)); if (m) resolve(Number(m[1])); }));
    await waitForPort('127.0.30.9', port, { process: p, timeoutMs: 5000 });
    assert.ok(isListening('127.0.30.9', port, p.pid));
    assert.doesNotMatch(p.stdout(), /CONNECTED/);
  } finally {
    await p.stop();
  }
});

test('missing tools: findBinary finds sbin tools, a MissingToolError is a one-line usage error', () => {
  assert.equal(findBinary('lbdiag-no-such-tool'), null);
  const e = new MissingToolError('lbdiag-no-such-tool') as MissingToolError & { usage?: boolean };
  assert.ok(e.usage === true && !e.message.includes('\n') && e.tool === 'lbdiag-no-such-tool', e.message);
});

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  test(`registry: ${signal} to the parent stops every child it started (process group included)`, async () => {
    // A parent that starts a child which itself forks a grandchild (like nginx master + worker).
    const script = `
      import { spawnProcess } from ${JSON.stringify(SUPERVISOR_JS)};
      const p = spawnProcess(process.execPath, ['-e', "const c=require('child_process').spawn(process.execPath,['-e','setInterval(()=>{},1000)'],{stdio:'ignore'}); console.log(process.pid+' '+c.pid); setInterval(()=>{},1000)"], { name: 'tree' });
      p.child.stdout.on('data', (d) => process.stdout.write('PIDS ' + d));
      setInterval(() => {}, 1000);
    `;
    const parent = start(process.execPath, ['--input-type=module', '-e', script]);
    try {
      const deadline = Date.now() + 5000;
      while (!/PIDS \d+ \d+/.test(parent.stdout()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      const [, a, b] = /PIDS (\d+) (\d+)/.exec(parent.stdout()) ?? [];
      assert.ok(a && b, `parent printed pids: ${parent.stdout()} ${parent.stderr()}`);
      const pids = [Number(a), Number(b)];
      for (const pid of pids) assert.ok(pidAlive(pid));
      process.kill(parent.pid, signal);
      const code = await parent.exited;
      assert.equal(code, signal === 'SIGINT' ? 130 : 143);
      const gone = Date.now() + 3000;
      while (pids.some(pidAlive) && Date.now() < gone) await new Promise((r) => setTimeout(r, 20));
      for (const pid of pids) assert.equal(pidAlive(pid), false, `pid ${pid} left behind`);
    } finally {
      await parent.stop('SIGKILL');
    }
  });
}
