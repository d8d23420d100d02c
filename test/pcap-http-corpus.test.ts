/**
 * HTTP/1.x parsing on captures no one here wrote: the tcpdump project's corpus
 * (../shared/corpus/tcpdump). Every file is read with HTTP analysis on without a crash or hang.
 * Every file with TCP to or from port 80/8080 (as lbdiag decodes it) is asked to tshark, and on
 * its complete streams lbdiag's requests and responses per tcp.stream, with their frames, equal
 * tshark's `http.request` / `http.response`.
 *
 * "Complete" stream: the client's SYN is in the capture, tshark flags no lost segment
 * (`tcp.analysis.lost_segment` / `tcp.analysis.ack_lost_segment`) in it, and no frame of it is
 * cut by the snaplen (frame.cap_len < frame.len). On other streams a parser may legitimately
 * see less than tshark (lbdiag gives up at a hole rather than guess), so only "no crash" holds.
 * (Found once by running tshark over all 830 files: the other HTTP in the corpus is SSDP over UDP
 * and two ARCNET captures, a link type lbdiag counts as unsupported.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { corpusDir, hasCommand } from './support/processes.js';
import { analyse } from '../src/pcap/analyse.js';
import { isUsageError } from '../src/core/errors.js';

const CORPUS = corpusDir();
const files = fs.existsSync(CORPUS) ? fs.readdirSync(CORPUS).sort() : [];
const WEB = /:(80|8080)$/;

type PerStream = Map<number, number[]>;

function tsharkHttp(file: string): { requests: PerStream; responses: PerStream; complete: Set<number>; web: Set<number> } {
  const out = execFileSync(
    'tshark',
    ['-n', '-r', file, '-Y', 'tcp', '-T', 'fields', '-e', 'tcp.stream', '-e', 'frame.number', '-e', 'http.request', '-e', 'http.response', '-e', 'tcp.flags.syn', '-e', 'tcp.flags.ack', '-e', 'tcp.analysis.lost_segment', '-e', 'tcp.analysis.ack_lost_segment', '-e', 'frame.len', '-e', 'frame.cap_len', '-e', 'tcp.port'],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] },
  );
  const requests: PerStream = new Map();
  const responses: PerStream = new Map();
  const syn = new Set<number>();
  const broken = new Set<number>();
  const web = new Set<number>();
  const add = (m: PerStream, s: number, f: number): void => {
    let l = m.get(s);
    if (!l) m.set(s, (l = []));
    l.push(f);
  };
  for (const line of out.split('\n')) {
    const [st, fr, req, res, sy, ack, lost, ackLost, len, cap, ports] = line.split('\t');
    if (!st || !fr) continue;
    const s = Number(st.split(',')[0]);
    if (req) add(requests, s, Number(fr));
    if (res) add(responses, s, Number(fr));
    if ((sy === '1' || sy === 'True') && !(ack === '1' || ack === 'True')) syn.add(s);
    if (lost || ackLost || Number(cap) < Number(len)) broken.add(s);
    if ((ports ?? '').split(',').some((p) => p === '80' || p === '8080')) web.add(s);
  }
  const complete = new Set([...syn].filter((s) => !broken.has(s)));
  return { requests, responses, complete, web };
}

test('corpus: HTTP analysis never crashes or hangs; on complete port 80/8080 streams lbdiag equals tshark', { skip: files.length ? false : `no corpus at ${CORPUS}` }, async (t) => {
  const candidates: string[] = [];
  for (const f of files) {
    const t0 = Date.now();
    try {
      const res = await analyse([path.join(CORPUS, f)], { stallThresholdS: 0.9 });
      if (res.summary.servers.some((s) => WEB.test(s.server)) || (res.http?.streams ?? 0) > 0) candidates.push(f);
    } catch (e) {
      assert.ok(isUsageError(e), `${f}: ${(e as Error).stack}`);
    }
    assert.ok(Date.now() - t0 < 5000, `${f} took ${Date.now() - t0} ms`);
  }
  if (!hasCommand('tshark')) {
    t.diagnostic('tshark not installed: counts not compared');
    return;
  }
  let compared = 0;
  let messages = 0;
  const httpFiles: string[] = [];
  for (const f of candidates) {
    const file = path.join(CORPUS, f);
    const ours = { requests: new Map() as PerStream, responses: new Map() as PerStream };
    await analyse([file], {
      stallThresholdS: 0.9,
      onHttpMessage: (s, response, frame) => {
        const m = response ? ours.responses : ours.requests;
        let l = m.get(s);
        if (!l) m.set(s, (l = []));
        l.push(frame);
      },
    });
    const ts = tsharkHttp(file);
    if (ts.requests.size || ts.responses.size) httpFiles.push(f);
    for (const s of ts.complete) {
      if (!ts.web.has(s)) continue;
      assert.deepEqual(ours.requests.get(s) ?? [], ts.requests.get(s) ?? [], `${f} stream ${s}: request frames = tshark http.request`);
      assert.deepEqual(ours.responses.get(s) ?? [], ts.responses.get(s) ?? [], `${f} stream ${s}: response frames = tshark http.response`);
      compared++;
      messages += (ts.requests.get(s)?.length ?? 0) + (ts.responses.get(s)?.length ?? 0);
    }
  }
  assert.ok(httpFiles.length >= 3, `HTTP over TCP found in ${httpFiles.join(', ')}`);
  assert.ok(messages >= 3, `${messages} HTTP messages compared`);
  t.diagnostic(`${candidates.length} files with TCP port 80/8080; HTTP in ${httpFiles.join(', ')}; ${compared} complete streams compared, ${messages} messages`);
});
