/**
 * probe over TLS against real node:https backends on loopback (certificates made at test time):
 * --sni (default: the URL host when it is a name, none for an IP, and no Node deprecation warning),
 * -k in every mode, --cacert (a private CA), the Host header independent of the SNI, and the
 * one-line errors for bad TLS flags.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { isUsageError } from '../src/core/errors.js';
import { optionsFromFlags } from '../src/probe/command.js';
import { runProbe } from '../src/probe/run.js';
import { renderHtml } from '../src/html/index.js';
import { tlsSettings } from '../src/probe/tls-options.js';
import dns from 'node:dns/promises';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { ROOT, runLbdiag } from './support/processes.js';
import { makeCa, makeLeaf, startTlsBackend, type Pem, type TlsBackend } from './support/tls-backends.js';

const validate = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true, validateFormats: false }).compile(JSON.parse(fs.readFileSync(path.join(ROOT, 'schema', 'lbdiag-v1.schema.json'), 'utf8')) as object);
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'lbdiag-tls-'));
let ca: Pem;
let selfSigned: TlsBackend;
let signed: TlsBackend;
const caFile = path.join(tmp, 'ca.pem');

before(async () => {
  ca = await makeCa();
  fs.writeFileSync(caFile, ca.cert);
  selfSigned = await startTlsBackend('self', await makeLeaf({ names: ['self.test'] }));
  signed = await startTlsBackend('alpha', await makeLeaf({ names: ['a.test', 'www.a.test'], ca }));
});

after(async () => {
  await selfSigned?.close();
  await signed?.close();
  fs.rmSync(tmp, { recursive: true, force: true });
});

type TlsJson = {
  handshakes: number;
  certificates: { fingerprint256: string; subject: string; sans: string[]; verify: string[]; notAfter: string; connections: number; backends: Record<string, number> }[];
  backends: { name: string; connections: number; versions: Record<string, number>; alpn: Record<string, number>; sni: Record<string, number>; certificates: Record<string, number> }[];
  errors: { kind: string; count: number; details: Record<string, number> }[];
};
type Hist = { count: number; p50: number | null };
type Doc = {
  config: Record<string, unknown>;
  modes: Record<string, { requests: number; ok: number; errors: number; connections: number; errorKinds: Record<string, { count: number; inTls?: number }>; backends: { name: string }[]; latency: { connect: Hist; tls?: Hist }; tls?: TlsJson }>;
  findings: { id: string; severity: string; title: string; evidence: string[]; remedy: string; explanation: string }[];
};

test('-k: a self-signed certificate does not fail the request in any mode, and an IP target sends no SNI and prints no warning', async () => {
  // Through the CLI (stderr must stay empty: no "Setting the TLS ServerName to an IP address" warning) ...
  const r = await runLbdiag(['probe', `https://127.0.0.1:${selfSigned.port}/`, '-k', '--mode', 'both', '-n', '8', '-c', '2', '--json'], { timeoutMs: 20_000 });
  assert.equal(r.stderr, '', 'nothing on stderr');
  const doc = JSON.parse(r.stdout) as Doc;
  assert.ok(validate(doc), JSON.stringify(validate.errors?.slice(0, 3)));
  assert.deepEqual(doc.config.tls, { sni: null, insecure: true, cacert: null });
  // ... and rotate in process (same code path, no second process start).
  const rotate = await runProbe({ target: `https://127.0.0.1:${selfSigned.port}/`, insecure: true, mode: 'rotate', requests: 8, concurrency: 2, maxConnRequests: 2 });
  const modes: Doc['modes'] = { ...doc.modes, rotate: rotate.modes.rotate as unknown as Doc['modes'][string] };
  for (const mode of ['keepalive', 'short', 'rotate']) {
    const m = modes[mode];
    assert.equal(m.ok, 8, `${mode}: ${JSON.stringify(m.errorKinds)}`);
    assert.deepEqual(m.backends.map((b) => b.name), ['self']);
    // The TCP and TLS handshakes are timed apart, once per new connection.
    assert.equal(m.latency.connect.count, m.connections, mode);
    assert.equal(m.latency.tls?.count, m.connections, mode);
    // -k: the certificate's problems are still found and reported, per backend.
    const tls = m.tls!;
    assert.equal(tls.handshakes, m.connections);
    assert.equal(tls.certificates.length, 1);
    assert.deepEqual(tls.certificates[0].verify, ['tls-self-signed', 'tls-name-mismatch']);
    assert.deepEqual(tls.certificates[0].sans, ['DNS:self.test']);
    assert.match(tls.certificates[0].fingerprint256, /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/);
    assert.deepEqual(tls.backends.map((b) => [b.name, b.connections, Object.keys(b.versions)[0], b.alpn, b.sni]), [['self', m.connections, 'TLSv1.3', { 'http/1.1': m.connections }, { '': m.connections }]]);
  }
  assert.ok(modes.rotate.connections >= 4, 'rotate opened new connections (each with its own handshake)');
  assert.deepEqual([...selfSigned.snis], [''], 'no SNI was sent to an IP target');
});

test('--sni sets the TLS server name only: the Host header stays the URL host; --cacert verifies a private CA', async () => {
  signed.hosts.clear();
  signed.snis.clear();
  const r = await runProbe({ target: `https://127.0.0.1:${signed.port}/x`, sni: 'a.test', cacert: caFile, mode: 'short', requests: 4, concurrency: 1 });
  assert.equal(r.modes.short!.ok, 4, JSON.stringify(r.modes.short!.errorKinds));
  assert.deepEqual([...signed.snis], ['a.test']);
  assert.deepEqual([...signed.hosts], [`127.0.0.1:${signed.port}`]);
  // The HTML report: the TLS handshake in the latency split, the certificate per backend.
  const html = renderHtml(JSON.parse(JSON.stringify(r)));
  assert.match(html, /TLS handshake/);
  assert.match(html, /connect \(TCP handshake\)/);
  assert.match(html, /<h5>TLS per backend<\/h5>/);
  assert.ok(html.includes(r.modes.short!.tls!.certificates[0].fingerprint256));
  // -H Host changes the Host header, not the SNI.
  signed.hosts.clear();
  signed.snis.clear();
  const h = await runProbe({ target: `https://127.0.0.1:${signed.port}/`, sni: 'a.test', cacert: caFile, headers: [['Host', 'other.example']], mode: 'short', requests: 2, concurrency: 1 });
  assert.equal(h.modes.short!.ok, 2);
  assert.deepEqual([...signed.snis], ['a.test']);
  assert.deepEqual([...signed.hosts], ['other.example']);
});

test('the default SNI is the URL host when it is a name', async () => {
  assert.equal(tlsSettings({ scheme: 'https', host: 'Api.Example.com.' }, {})?.servername, 'api.example.com');
  assert.equal(tlsSettings({ scheme: 'https', host: '::1' }, {})?.servername, undefined);
  // A real connection to "localhost": the backend listens on the address localhost resolves to first (loopback).
  const { address } = await dns.lookup('localhost', { verbatim: true });
  const local = await startTlsBackend('local', await makeLeaf({ names: ['localhost'], ca }), address);
  try {
    const r = await runProbe({ target: `https://localhost:${local.port}/`, cacert: caFile, mode: 'short', requests: 2, concurrency: 1 });
    assert.equal(r.modes.short!.ok, 2, JSON.stringify(r.modes.short!.errorKinds));
    assert.deepEqual([...local.snis], ['localhost']);
  } finally {
    await local.close();
  }
});

test('bad TLS flags: one line on stderr, exit 2', async () => {
  const notPem = path.join(tmp, 'not.pem');
  fs.writeFileSync(notPem, 'hello\n');
  const badPem = path.join(tmp, 'bad.pem');
  fs.writeFileSync(badPem, '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
  const url = `https://127.0.0.1:${signed.port}/`;
  const cases: [string[], RegExp][] = [
    [['probe', url, '--cacert', path.join(tmp, 'missing.pem')], /^lbdiag: cannot read --cacert .*missing\.pem: no such file$/],
    [['probe', url, '--cacert', tmp], /^lbdiag: cannot read --cacert .*: is a directory$/],
    [['probe', url, '--cacert', notPem], /^lbdiag: invalid --cacert .*not\.pem: no PEM certificate in it/],
    [['probe', url, '--cacert', badPem], /^lbdiag: invalid --cacert .*bad\.pem: certificate 1 of 1 is not a valid PEM certificate$/],
    [['probe', url, '--sni', '10.0.0.1'], /^lbdiag: invalid --sni "10\.0\.0\.1": SNI carries a host name, not an IP address/],
    [['probe', url, '--sni', 'a b'], /^lbdiag: invalid --sni "a b"/],
    [['probe', `http://127.0.0.1:${signed.port}/`, '--sni', 'a.test'], /^lbdiag: --sni applies to https:\/\/ targets \(TLS\)$/],
    [['probe', `http://127.0.0.1:${signed.port}/`, '--cacert', caFile], /^lbdiag: --cacert applies to https:\/\/ targets \(TLS\)$/],
  ];
  // Two through the CLI (exit code 2, one line, no stack); the rest through runProbe (same UsageError, no process start).
  for (const [args, re] of cases.slice(0, 2)) {
    const r = await runLbdiag(args, { timeoutMs: 20_000 });
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr.trim(), re);
  }
  const before = signed.requests;
  for (const [args, re] of cases.slice(2)) {
    const flags = { mode: 'both', backendFrom: 'auto', resolve: 'first', failOn: 'error', ...(args[2] === '--cacert' ? { cacert: args[3] } : { sni: args[3] }) };
    await assert.rejects(
      () => runProbe(optionsFromFlags(args[1], flags)),
      (e: Error) => isUsageError(e) && re.test(`lbdiag: ${e.message}`),
      args.join(' '),
    );
  }
  assert.equal(signed.requests, before, 'no request sent with a bad TLS flag');
});
