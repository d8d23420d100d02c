/**
 * A capture of HTTP/2 or TLS traffic says why its requests are not tallied instead of saying
 * nothing: real `lbdiag probe --http2` and `lbdiag probe https://… -k` runs against a real
 * `lbdiag whoami --tls` on loopback, captured by tcpdump; the undecoded counts must equal the
 * connections the probe says it opened, and the human report must carry the note.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { hasCommand, runLbdiag, start } from './support/processes.js';
import { startWhoamiProcess } from './support/whoami-process.js';
import { analyse } from '../src/pcap/analyse.js';

const skip = process.getuid?.() !== 0 ? 'needs root for tcpdump' : !hasCommand('tcpdump') ? 'needs tcpdump' : false;
const HOST = '127.0.97.31';

async function capture(file: string, port: number, run: () => Promise<number>): Promise<number> {
  const dump = start('tcpdump', ['-i', 'lo', '--immediate-mode', '-U', '-w', file, `host ${HOST} and tcp port ${port}`]);
  for (const t0 = Date.now(); !/listening on/.test(dump.stderr()) && Date.now() - t0 < 10_000; ) await new Promise((r) => setTimeout(r, 50));
  try {
    return await run();
  } finally {
    await new Promise((r) => setTimeout(r, 200));
    await dump.stop('SIGINT');
  }
}

/** Connections the probe opened, from its JSON. */
async function probe(args: string[]): Promise<number> {
  const r = await runLbdiag(['probe', ...args, '-n', '12', '-c', '2', '--json', '--fail-on', 'none'], { timeoutMs: 30_000 });
  assert.equal(r.code, 0, r.stderr);
  const doc = JSON.parse(r.stdout) as { modes: Record<string, { connections: number; requests: number; ok: number }> };
  for (const m of Object.values(doc.modes)) assert.equal(m.ok, m.requests, 'every request answered');
  return Object.values(doc.modes).reduce((n, m) => n + m.connections, 0);
}

test('pcap: HTTP/2 (prior knowledge) and TLS connections are counted and named, not silently skipped', { skip, timeout: 90_000 }, async () => {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lbdiag-undecoded-'));
  const { p, port } = await startWhoamiProcess(HOST, ['--tls', '--name', 'be1']);
  try {
    const h2File = path.join(tmp, 'h2.pcap');
    const tlsFile = path.join(tmp, 'tls.pcap');
    // HTTP/2 over TLS is TLS on the wire; cleartext HTTP/2 needs a plain port: whoami --tls serves only TLS, so h2c goes to a second whoami.
    const plain = await startWhoamiProcess(HOST, ['--name', 'be2']);
    try {
      const h2Conns = await capture(h2File, plain.port, () => probe([`${HOST}:${plain.port}`, '--http2']));
      const res = await analyse([h2File], { stallThresholdS: 0.9 });
      assert.equal(res.http?.streams, 0);
      assert.deepEqual(res.http?.undecoded, { http2: h2Conns, tls: 0 }, 'every connection of the probe counted as HTTP/2');
      assert.match(res.http!.notes.join('\n'), new RegExp(`^${h2Conns} connections spoke cleartext HTTP/2`, 'm'));
    } finally {
      await plain.p.stop();
    }
    const tlsConns = await capture(tlsFile, port, () => probe([`https://${HOST}:${port}/`, '-k']));
    const res = await analyse([tlsFile], { stallThresholdS: 0.9 });
    assert.deepEqual(res.http?.undecoded, { http2: 0, tls: tlsConns });
    const human = await runLbdiag(['pcap', tlsFile]);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, new RegExp(`note: ${tlsConns} connections carried TLS: encrypted, not decoded`));
  } finally {
    await p.stop();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});
