/**
 * `--html FILE` on lab, probe and pcap, as a user runs them (child processes, real sockets, a real
 * capture): the file is one self-contained page (nothing fetched), the connection → backend map
 * has one row per connection, every finding is on the page, a backend named like an HTML tag is
 * shown as text; and the lab report opens in headless Chromium (when installed) with no console
 * message, the SVG charts in the DOM and a screenshot that shows the chart colours.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Finding } from '../src/core/finding.js';
import type { LabReport } from '../src/lab/run.js';
import type { ModeReport, ProbeReport } from '../src/probe/summary.js';
import { runLbdiag, ROOT, type Started } from './support/processes.js';
import { startWhoamiProcess } from './support/whoami-process.js';
import { CHROMIUM, hasChromium, runChromium } from './support/chromium.js';
import { colourCounts, decodePng } from './support/png.js';

const LAB_ADDR = '127.0.164';
const WHOAMI_HOST = '127.0.165.2';
const HOSTILE = '<script>alert(1)</script>';

let dir = '';
before(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lbdiag-html-'));
});
after(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** Structural checks every report must pass: a whole page, nothing fetched, no script. */
function assertSelfContained(html: string): void {
  assert.match(html, /^<!DOCTYPE html>/);
  assert.match(html, /<\/html>\n$/);
  assert.doesNotMatch(html, /<script/i, 'no script element');
  assert.doesNotMatch(html, /<link\b/i, 'no linked stylesheet or font');
  assert.doesNotMatch(html, /<(img|iframe|object|embed|video|audio|source)\b/i, 'no embedded fetch');
  assert.doesNotMatch(html, /\b(src|href|xlink:href|action|poster)\s*=\s*["']?\s*(https?:)?\/\//i, 'no src/href to the network');
  assert.doesNotMatch(html, /url\(\s*["']?\s*(https?:)?\/\//i, 'no url() to the network');
  assert.doesNotMatch(html, /@import/i);
  assert.match(html, /<meta http-equiv="Content-Security-Policy" content="default-src 'none'/);
}

/** The `<section class="card mode">` blocks, in document order, with their mode and conn rows. */
function modeSections(html: string): { mode: string; conns: string[]; html: string }[] {
  return html
    .split('<section class="card mode"')
    .slice(1)
    .map((part) => {
      const body = part.slice(0, part.indexOf('</section>'));
      return { mode: /data-mode="([^"]*)"/.exec(body)?.[1] ?? '', conns: [...body.matchAll(/class="conn-row" data-conn="([^"]*)"/g)].map((m) => m[1]), html: body };
    });
}

function assertFindingsShown(html: string, findings: Finding[]): void {
  const cards = [...html.matchAll(/<article class="finding sev-(\w+)" id="[^"]+" data-finding-id="([^"]+)"/g)].map((m) => m[2]);
  for (const f of findings) assert.ok(cards.includes(f.id), `finding ${f.id} has a card`);
  assert.equal(cards.length, findings.length, 'one card per finding');
}

function assertModesDrawn(html: string, modes: [string, ModeReport][]): void {
  const sections = modeSections(html);
  assert.deepEqual(sections.map((s) => s.mode), modes.map(([m]) => m));
  modes.forEach(([mode, m], i) => {
    const s = sections[i];
    assert.deepEqual(s.conns, m.perConnection.map((c) => String(c.id)).sort((a, b) => Number(a) - Number(b)), `${mode}: one map row per connection`);
    for (const b of m.backends) assert.ok(s.html.includes(`class="share-row" data-backend="${b.name.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;')}"`), `${mode}: share bar for ${b.name}`);
    if (m.timeline.buckets.length) assert.match(s.html, /class="chart timeline"/);
    assert.match(s.html, /class="latency-row" data-phase="server"/);
    if (m.latency.connect.count) assert.match(s.html, /class="latency-row" data-phase="connect"/);
  });
}

let labHtmlFile = '';

test('lab --scenario pinning --html: the charts of both steps, one map row per keep-alive connection, every finding', { timeout: 60_000 }, async () => {
  const file = path.join(dir, 'lab.html');
  const r = await runLbdiag(['lab', '--scenario', 'pinning', '--balancer', 'builtin', '--addresses', LAB_ADDR, '--json', '--html', file], { timeoutMs: 50_000 });
  assert.equal(r.code, 0, r.stderr);
  const rep = JSON.parse(r.stdout) as LabReport;
  const html = fs.readFileSync(file, 'utf8');
  assertSelfContained(html);
  const modes = rep.scenarios.flatMap((s) => Object.entries(s.probe!.modes) as [string, ModeReport][]);
  assertModesDrawn(html, modes);
  // The L4 step pins: every keep-alive row has exactly one ribbon.
  const l4 = modeSections(html)[0];
  assert.equal(l4.mode, 'keepalive');
  const ribbonsPerRow = l4.html.split('class="conn-row"').slice(1).map((row) => (row.match(/class="ribbon"/g) ?? []).length);
  assert.ok(ribbonsPerRow.length >= 2 && ribbonsPerRow.every((k) => k === 1), `L4 rows: ${ribbonsPerRow.join(',')}`);
  assertFindingsShown(html, rep.scenarios.flatMap((s) => s.probe!.findings));
  for (const s of rep.summary) assert.ok(html.includes(s.fix.replace(/&/g, '&amp;')), 'the summary row is on the page');
  labHtmlFile = file;
});

test('lab report in headless Chromium: no console message, SVG charts in the DOM, a screenshot with the chart colours', { timeout: 150_000 }, async (t) => {
  if (!hasChromium()) return t.skip(`${CHROMIUM} not installed (Debian package chromium; .ci/run installs it)`);
  assert.ok(labHtmlFile, 'the lab test wrote the report');
  const url = `file://${labHtmlFile}`;
  const png = path.join(dir, 'lab.png');
  // One run (Chromium starts slowly on a loaded machine): the screenshot and the DOM after load.
  const shot = await runChromium(['--dump-dom', `--screenshot=${png}`, '--window-size=1280,2000', '--hide-scrollbars', url]);
  assert.equal(shot.code, 0, shot.stderr.slice(-2000));
  assert.deepEqual(shot.console, [], 'no console message');
  const img = decodePng(fs.readFileSync(png));
  assert.equal(img.width, 1280);
  assert.equal(img.height, 2000);
  const colours = colourCounts(img);
  assert.ok(colours.size > 50, `${colours.size} distinct colours: not a blank page`);
  // The backend bars (Okabe-Ito blue, orange, green) are drawn: the SVG rendered.
  for (const c of ['#0072b2', '#e69f00', '#009e73']) assert.ok((colours.get(c) ?? 0) > 200, `${c}: ${colours.get(c) ?? 0} pixels`);
  assert.match(shot.stdout, /<svg class="chart connmap"/, 'the map is in the DOM');
  assert.ok((shot.stdout.match(/class="conn-row"/g) ?? []).length >= 2, 'map rows in the DOM');
});

test('probe --html: a backend named like a script tag is text; an expected backend that never answered has its row', { timeout: 60_000 }, async () => {
  const servers: Started[] = [];
  try {
    const { p, port } = await startWhoamiProcess(WHOAMI_HOST, ['--name', HOSTILE]);
    servers.push(p);
    const file = path.join(dir, 'probe.html');
    const r = await runLbdiag(['probe', `${WHOAMI_HOST}:${port}`, '-n', '40', '-c', '2', '--expect-backends', `${HOSTILE},other`, '--json', '--html', file], { timeoutMs: 40_000 });
    assert.ok(r.code === 0 || r.code === 1, r.stderr);
    const rep = JSON.parse(r.stdout) as ProbeReport;
    assert.equal(rep.modes.keepalive!.backends[0].name, HOSTILE);
    const html = fs.readFileSync(file, 'utf8');
    assertSelfContained(html);
    const shown = html.split('&lt;script&gt;alert(1)&lt;/script&gt;').length - 1;
    assert.ok(shown >= 3, `the name is shown, escaped (${shown} times)`);
    // Clipped labels cut the name short, but every occurrence starts escaped.
    assert.equal(html.split('alert(1)').length, html.split('&lt;script&gt;alert(1)').length, 'never unescaped, not even in an attribute');
    assertModesDrawn(html, Object.entries(rep.modes) as [string, ModeReport][]);
    assertFindingsShown(html, rep.findings);
    assert.ok(rep.findings.some((f) => f.id === 'backend-missing'), rep.findings.map((f) => f.id).join(','));
    assert.match(html, /class="share-row missing" data-backend="other"/, 'the expected backend that never answered has its row');
  } finally {
    for (const s of servers) await s.stop();
  }
});

test('pcap --html of a fixture: summary, server endpoints and every finding with its Wireshark filter', { timeout: 30_000 }, async () => {
  const file = path.join(dir, 'pcap.html');
  const capture = path.join(ROOT, 'fixtures', 'syn-port-reuse-drop.pcap');
  const r = await runLbdiag(['pcap', capture, '--json', '--html', file]);
  assert.equal(r.code, 1, r.stderr);
  const doc = JSON.parse(r.stdout) as { findings: Finding[]; summary: { servers: { server: string }[] } };
  assert.ok(doc.findings.length > 0);
  const html = fs.readFileSync(file, 'utf8');
  assertSelfContained(html);
  assertFindingsShown(html, doc.findings);
  for (const f of doc.findings) if (f.filter) assert.ok(html.includes(`<code>${f.filter}</code>`), `filter ${f.filter}`);
  for (const s of doc.summary.servers) assert.ok(html.includes(s.server), s.server);
  assert.match(html, /<h3>Summary<\/h3>/);
});

test('--html - and an unwritable path: one line, exit 2, before any work', { timeout: 60_000 }, async () => {
  const capture = path.join(ROOT, 'fixtures', 'clean-baseline.pcap');
  const cases = [
    [['pcap', capture, '--html', '-'], /^lbdiag: --html needs a file name \(- is not allowed/],
    [['probe', '127.0.0.1:9', '--html', '-'], /^lbdiag: --html needs a file name/],
    [['lab', '--html', '-'], /^lbdiag: --html needs a file name/],
    [['pcap', capture, '--html', path.join(dir, 'no-such-dir', 'x.html')], /^lbdiag: cannot write --html .*does not exist/],
    [['pcap', capture, '--html', dir], /^lbdiag: cannot write --html .*is a directory/],
  ] as [string[], RegExp][];
  // In parallel: each is a start-up and a one-line refusal.
  const results = await Promise.all(cases.map(([args]) => runLbdiag(args, { timeoutMs: 30_000 })));
  cases.forEach(([args, re], i) => {
    const r = results[i];
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, re);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.equal(r.stdout, '');
  });
});

test('renderHtml on hand-made documents: a merge document draws like a probe; 400 connections keep 149 rows and merge the rest', async () => {
  const { renderHtml } = await import('../src/html/index.js');
  const { MAP_MAX_ROWS } = await import('../src/html/charts/connection-map.js');
  const hist = { count: 400, min: 1, mean: 2, p50: 2, p90: 3, p99: 4, max: 5 };
  const conns = Array.from({ length: 400 }, (_, i) => ({
    id: i,
    localPort: 40000 + i,
    address: '127.0.0.1',
    requests: i === 7 ? 50 : 1,
    errors: 0,
    backends: { [i % 2 ? 'b' : 'a']: i === 7 ? 50 : 1 },
    serverConnections: 1,
    firstMs: 0,
    lastMs: 1,
  }));
  const mode = {
    requests: 449, ok: 449, errors: 0, unidentified: 0, connections: 400, requestsOnNewConnections: 400, requestsOnReusedConnections: 49,
    errorsOnNewConnections: 0, errorsOnReusedConnections: 0, startMs: 0, durationMs: 1000, rate: 449, statuses: { '200': 449 }, errorKinds: {},
    backends: [
      { name: 'b', count: 249, share: 0.5546, errors: 0 },
      { name: 'a', count: 200, share: 0.4454, errors: 0 },
    ],
    perConnection: conns, perConnectionOmitted: 0, addresses: [],
    latency: { connect: hist, server: hist, total: hist },
    timeline: { bucketMs: 100, buckets: [{ t: 0, requests: 449, errors: 0, backends: { a: 200, b: 249 } }] },
  };
  const html = renderHtml({ command: 'merge', version: '0', target: { url: 'http://vip/' }, config: {}, modes: { keepalive: mode }, findings: [] });
  assertSelfContained(html);
  assert.match(html, /<h1><span class="cmd">lbdiag merge<\/span>/);
  const [s] = modeSections(html);
  assert.equal(s.conns.length, MAP_MAX_ROWS);
  assert.ok(s.conns.includes('7'), 'the busiest connection keeps its row');
  assert.equal(s.conns.at(-1), 'other');
  assert.match(s.html, /the other 251 are merged into the last row/);
  assert.match(html, />connect \(TCP handshake\)</);
  // https: the probe's connect time ends when the TLS handshake does, and the label says so.
  const tls = renderHtml({ command: 'probe', target: { url: 'https://vip/' }, config: {}, modes: { keepalive: mode }, findings: [] });
  assert.match(tls, />connect \(TCP \+ TLS handshakes\)</);
  assert.throws(() => renderHtml({ command: 'whoami' }), /unknown document command/);
});
