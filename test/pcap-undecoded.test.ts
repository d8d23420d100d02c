/**
 * A capture of HTTP/2 or TLS traffic says why its requests are not tallied instead of saying
 * nothing: real `lbdiag probe --http2` and `lbdiag probe https://… -k` runs against a real
 * `lbdiag whoami --tls` on loopback, captured by tcpdump; the undecoded counts must equal the
 * connections whose first client payload the capture holds (HTTP/2 preface "PRI ", TLS
 * ClientHello), counted by tshark on the raw bytes: tcpdump on lo can lose a packet now and then
 * (seen in CI: 13 prefaces captured of 14 connections), and lbdiag counts what the wire holds. The
 * probe's own count bounds it, and the human report must carry the note.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { hasCommand, runLbdiag, start } from './support/processes.js';
import { startWhoamiProcess } from './support/whoami-process.js';
import { analyse } from '../src/pcap/analyse.js';

const skip = process.getuid?.() !== 0 ? 'needs root for tcpdump' : !hasCommand('tcpdump') || !hasCommand('tshark') ? 'needs tcpdump and tshark' : false;
const HOST = '127.0.97.31';

async function capture(file: string, port: number, run: () => Promise<number>): Promise<number> {
  const dump = start('tcpdump', ['-i', 'lo', '--immediate-mode', '-B', '16384', '-U', '-w', file, `host ${HOST} and tcp port ${port}`]);
  for (const t0 = Date.now(); !/listening on/.test(dump.stderr()) && Date.now() - t0 < 10_000; ) await new Promise((r) => setTimeout(r, 50));
  try {
    return await run();
  } finally {
    await new Promise((r) => setTimeout(r, 200));
    await dump.stop('SIGINT');
  }
}

/** Packets in `file` matching tshark display filter `filter`. */
function tsharkCount(file: string, filter: string): number {
  const r = spawnSync('tshark', ['-r', file, '-Y', filter, '-T', 'fields', '-e', 'frame.number'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.split('\n').filter(Boolean).length;
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
      const opened = await capture(h2File, plain.port, () => probe([`${HOST}:${plain.port}`, '--http2']));
      // Each connection's client preface starts "PRI * HTTP/2.0": one such payload per connection.
      const h2Conns = tsharkCount(h2File, 'tcp.payload[0:4] == 50:52:49:20');
      assert.ok(h2Conns >= 1 && h2Conns <= opened, `${h2Conns} prefaces captured of ${opened} connections`);
      const res = await analyse([h2File], { stallThresholdS: 0.9 });
      assert.equal(res.http?.streams, 0);
      assert.deepEqual(res.http?.undecoded, { http2: h2Conns, tls: 0 }, 'every captured connection counted as HTTP/2');
      assert.match(res.http!.notes.join('\n'), new RegExp(`^${h2Conns} connections spoke cleartext HTTP/2`, 'm'));
    } finally {
      await plain.p.stop();
    }
    const openedTls = await capture(tlsFile, port, () => probe([`https://${HOST}:${port}/`, '-k']));
    // A TLS handshake record (0x16) carrying a ClientHello (type 1): one per connection.
    const tlsConns = tsharkCount(tlsFile, 'tcp.payload[0:1] == 16 && tcp.payload[5:1] == 01');
    assert.ok(tlsConns >= 1 && tlsConns <= openedTls, `${tlsConns} ClientHellos captured of ${openedTls} connections`);
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
