import fs from 'node:fs';
import type { Command } from 'commander';
import { action, collect } from '../core/action.js';
import { EXIT_FINDINGS, EXIT_INTERRUPTED, EXIT_OK, EXIT_USAGE, UsageError } from '../core/errors.js';
import { parseFailOn, reachesFailOn } from '../core/finding.js';
import { onInterrupt } from '../core/interrupt.js';
import { ProgressLine } from '../core/progress.js';
import { renderJson, verbosityFromFlags } from '../core/output-flags.js';
import { makeChalk } from '../core/style.js';
import { DURATION_HELP, formatDuration, parseCount, parseDuration, parseRate } from '../core/units.js';
import { parseGrpcMethod } from './h2-options.js';
import { parseBackendFrom } from './identity.js';
import { renderProbeReport } from './report.js';
import { parseHeader } from './request.js';
import { HTML_OPTION_HELP, checkHtmlPath } from '../html/option.js';
import { parseSources } from './sources.js';
import { DEFAULT_CONCURRENCY, DEFAULT_REQUESTS, DEFAULT_TIMEOUT_MS, type ProbeModeOption, type ProbeOptions } from './run.js';
import { parseWorkers, runProbeWorkers } from './workers.js';

interface Flags {
  mode: string;
  requests?: string;
  duration?: string;
  /** hey/oha aliases: -z duration, -q rate, -m method. */
  z?: string;
  q?: string;
  m?: string;
  concurrency?: string;
  interval?: string;
  rate?: string;
  close?: string;
  timeout?: string;
  header?: string[];
  method?: string;
  data?: string;
  backendFrom: string;
  resolve: string;
  maxConnRequests?: string;
  maxConnAge?: string;
  expect?: string;
  expectBackends?: string;
  weights?: string;
  json?: boolean;
  html?: string;
  records?: string;
  failOn: string;
  insecure?: boolean;
  sni?: string;
  cacert?: string;
  source?: string;
  label?: string;
  http2?: boolean;
  grpc?: boolean;
  grpcMethod?: string;
  streams?: string;
  workers?: string;
  quiet?: boolean;
  verbose?: boolean;
  explain?: boolean;
}

export function parseWeights(text: string): Map<string, number> {
  const m = new Map<string, number>();
  for (const part of text.split(',').map((s) => s.trim()).filter(Boolean)) {
    const eq = part.lastIndexOf('=');
    const name = part.slice(0, eq).trim();
    const w = Number(part.slice(eq + 1));
    if (eq <= 0 || !name || !(w >= 0) || !Number.isFinite(w)) throw new UsageError(`invalid --weights "${text}" (example: a=3,b=1,c=1)`);
    m.set(name, w);
  }
  if (m.size === 0 || [...m.values()].every((w) => w === 0)) throw new UsageError(`invalid --weights "${text}" (example: a=3,b=1,c=1)`);
  return m;
}

/** One value from a long option or its hey/oha alias; both given with different values is a usage error. */
function either(long: string | undefined, alias: string | undefined, names: string): string | undefined {
  if (long !== undefined && alias !== undefined && long !== alias) throw new UsageError(`${names} name the same setting: give one`);
  return long ?? alias;
}

const MODES = ['both', 'keepalive', 'short', 'rotate'];

export function optionsFromFlags(vip: string, f: Flags): ProbeOptions {
  const mode = f.mode as ProbeModeOption;
  if (!MODES.includes(f.mode)) throw new UsageError(`invalid --mode "${f.mode}" (expected ${MODES.join(', ')})`);
  const duration = either(f.duration, f.z, '-d/--duration and -z');
  const rateText = either(f.rate, f.q, '--rate and -q');
  const methodText = either(f.method, f.m, '-X/--method and -m');
  if (f.close !== undefined && f.close !== 'server' && f.close !== 'client') throw new UsageError(`invalid --close "${f.close}" (expected server or client)`);
  if (f.close !== undefined && mode !== 'short' && mode !== 'both') throw new UsageError('--close applies to short-lived connections: --mode short or both');
  if (f.interval !== undefined && rateText !== undefined) throw new UsageError('--interval and --rate are exclusive (one paces each connection, the other the whole mode)');
  if ((f.maxConnRequests !== undefined || f.maxConnAge !== undefined) && mode !== 'rotate') throw new UsageError('--max-conn-requests and --max-conn-age need --mode rotate');
  const h2 = Boolean(f.http2 || f.grpc);
  if (f.streams !== undefined && !h2) throw new UsageError('--streams applies to HTTP/2: add --http2 or --grpc');
  if (f.grpcMethod !== undefined && !f.grpc) throw new UsageError('--grpc-method needs --grpc');
  if (f.close !== undefined && h2) throw new UsageError('--close applies to HTTP/1.1 short-lived connections (an HTTP/2 short session is always closed by the client with GOAWAY)');
  if (f.grpc && (f.data !== undefined || methodText !== undefined)) throw new UsageError('--grpc sends the method\'s own request message: --data and -X do not apply');
  const headers: [string, string][] = [];
  for (const h of f.header ?? []) {
    const p = parseHeader(h);
    if (!p) throw new UsageError(`invalid header "${h}" (expected "Name: value")`);
    headers.push(p);
  }
  let data = f.data;
  if (data !== undefined && data.startsWith('@')) {
    try {
      data = fs.readFileSync(data.slice(1), 'utf8');
    } catch (e) {
      throw new UsageError(`cannot read --data ${data}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  const method = (methodText ?? (data !== undefined ? 'POST' : 'GET')).toUpperCase();
  if (!/^[A-Z]+$/.test(method)) throw new UsageError(`invalid method "${methodText}" (letters only, e.g. GET, POST, HEAD)`);
  if (f.resolve !== 'first' && f.resolve !== 'all') throw new UsageError(`invalid --resolve "${f.resolve}" (first or all)`);
  parseBackendFrom(f.backendFrom); // validate early
  const expectBackends = f.expectBackends?.split(',').map((s) => s.trim()).filter(Boolean);
  if (f.expect !== undefined && expectBackends?.length && parseCount(f.expect, '--expect') < new Set(expectBackends).size) {
    throw new UsageError(`--expect ${f.expect} is fewer than the ${new Set(expectBackends).size} backends --expect-backends names`);
  }
  return {
    target: vip,
    mode,
    requests: f.requests !== undefined ? parseCount(f.requests, '-n/--requests') : undefined,
    durationMs: duration !== undefined ? positive(parseDuration(duration, '--duration'), '--duration') : undefined,
    concurrency: f.concurrency !== undefined ? parseCount(f.concurrency, '-c/--concurrency', 1, 10_000) : undefined,
    intervalMs: f.interval !== undefined ? positive(parseDuration(f.interval, '--interval'), '--interval') : undefined,
    rate: rateText !== undefined ? parseRate(rateText, '--rate') : undefined,
    timeoutMs: f.timeout !== undefined ? positive(parseDuration(f.timeout, '--timeout'), '--timeout') : undefined,
    method,
    headers,
    data,
    backendFrom: f.backendFrom,
    resolve: f.resolve,
    maxConnRequests: f.maxConnRequests !== undefined ? parseCount(f.maxConnRequests, '--max-conn-requests') : undefined,
    maxConnAgeMs: f.maxConnAge !== undefined ? positive(parseDuration(f.maxConnAge, '--max-conn-age'), '--max-conn-age') : undefined,
    expect: f.expect !== undefined ? parseCount(f.expect, '--expect') : undefined,
    expectBackends: expectBackends?.length ? expectBackends : undefined,
    weights: f.weights !== undefined ? parseWeights(f.weights) : undefined,
    records: f.records,
    close: f.close as 'server' | 'client' | undefined,
    insecure: f.insecure,
    sni: f.sni,
    cacert: f.cacert,
    sources: f.source !== undefined ? parseSources(f.source) : undefined,
    label: f.label !== undefined ? parseLabel(f.label) : undefined,
    http2: h2 || undefined,
    grpc: f.grpc || undefined,
    grpcMethod: f.grpcMethod !== undefined ? parseGrpcMethod(f.grpcMethod) : undefined,
    streams: f.streams !== undefined ? parseCount(f.streams, '--streams', 1, 1000) : undefined,
  };
}

function parseLabel(text: string): string {
  const t = text.trim();
  if (!t || t.length > 200 || /[\x00-\x1f\x7f]/.test(t)) throw new UsageError(`invalid --label "${text}" (1 to 200 printable characters, e.g. zone-a or 3-node7)`);
  return t;
}

function positive(ms: number, what: string): number {
  if (!(ms > 0)) throw new UsageError(`invalid ${what}: must be above zero`);
  return ms;
}

export function registerProbe(program: Command): void {
  program
    .command('probe')
    .description('send keep-alive and short-lived traffic through a balancer, tally which backend answered, diagnose')
    .argument('<vip>', 'host:port or URL of the virtual server (default scheme http, path /)')
    .option('--mode <mode>', 'both: keep-alive then short-lived; keepalive; short (new connection per request); rotate (keep-alive with retired connections)', 'both')
    .option('-n, --requests <n>', `requests per mode (default ${DEFAULT_REQUESTS} unless --duration)`)
    .option('-d, --duration <dur>', 'run each mode for this long, a hard deadline (requests still in flight then are cut off and counted apart); with -n, whichever ends first (e.g. 10s; 10 = 10s)')
    .option('-z <dur>', 'same as -d (hey, oha)')
    .option('-c, --concurrency <n>', `connections (default ${DEFAULT_CONCURRENCY}): short mode keeps this many requests in flight, each on a new connection; keep-alive and rotate keep this many connections with one request fewer in flight (each sent on an idle connection drawn at random: no lockstep)`)
    .option('--interval <dur>', 'one request per interval per connection (a slow poller), e.g. 500ms')
    .option('--rate <n/s>', 'requests per second for the whole mode, spread over the connections (200, 200/s, 600/m)')
    .option('-q <n/s>', 'same as --rate: for the whole mode (as oha -q; hey -q is per worker: hey -c 4 -q 100 is -q 400 here)')
    .option('--timeout <dur>', `whole-request deadline: connect, head and body, however slowly bytes trickle in (default ${formatDuration(DEFAULT_TIMEOUT_MS)})`)
    .option('--close <who>', 'short-lived connections: server (default: Connection: close, the server closes first and holds TIME_WAIT, as real HTTP/1.1 clients see it) or client (the client closes first and holds TIME_WAIT)')
    .option('-H, --header <header>', 'request header "Name: value" (repeatable)', collect)
    .option('-X, --method <method>', 'request method (default GET, POST with --data)')
    .option('-m <method>', 'same as -X (hey, oha)')
    .option('--data <body>', 'request body; @file reads it from a file')
    .option('--backend-from <how>', 'which backend answered: auto | header:NAME | json:PATH | regex:RE | body', 'auto')
    .option('--resolve <first|all>', 'all: spread connections over every address the host resolves to, broken down per address', 'first')
    .option('--max-conn-requests <n>', 'rotate mode: retire a connection after n requests (default 10 when no --max-conn-age)')
    .option('--max-conn-age <dur>', 'rotate mode: retire a connection once it is this old')
    .option('--expect <n>', 'backends that should answer: fewer is the backend-missing error')
    .option('--expect-backends <names>', 'comma-separated backend names that should answer')
    .option('--weights <name=w,...>', 'expected shares for the imbalance test (unnamed backends weigh 1)')
    .option('--json', 'print one JSON document (schema lbdiag.v1, see schema/ in the repository) instead of tables')
    .option('--html <file>', HTML_OPTION_HELP)
    .option('--records <file>', 'write one NDJSON line per request to file; - writes them to stdout (the report then goes to stderr)')
    .option('--fail-on <severity>', 'exit 1 when a finding is at least this severe: info, warn, error, none', 'error')
    .option('-k, --insecure', 'https: a certificate that fails verification (self-signed, unknown CA, expired, name mismatch) does not fail the request; its problems are still reported')
    .option('--sni <name>', 'https: the server name sent in the TLS handshake (SNI) and verified in the certificate (default: the URL host when it is a name; none for an IP address). The Host header stays the URL host (or -H Host)')
    .option('--cacert <file>', 'https: trust the CA certificates in this PEM file (instead of the system\'s), e.g. a private CA or a self-signed certificate')
    .option('--http2', 'speak HTTP/2: h2c by prior knowledge on http://, ALPN h2 on https://; -c is the number of HTTP/2 connections')
    .option('--streams <n>', 'HTTP/2: concurrent streams per connection (default 1); c x streams in flight (keep-alive and rotate: one fewer, drawn at random over the connections, as with HTTP/1.1)')
    .option('--grpc', 'unary gRPC calls over HTTP/2 (grpc.health.v1.Health/Check unless --grpc-method); identity from the response metadata (x-lbdiag-*) or --backend-from header:NAME')
    .option('--grpc-method <svc/method>', 'gRPC method to call: lbdiag.v1.WhoAmI/Get (identity in the reply), grpc.health.v1.Health/Check (default), or a full path /pkg.Service/Method (sent an empty message)')
    .option('--source <addrs>', 'bind outgoing connections to these local addresses, dealt evenly over the connections in a shuffled order: a list, a range or a CIDR, IPv4 or IPv6 (127.0.0.20-127.0.0.29, 10.0.0.5,10.0.0.6, 127.0.0.16/29); each must be an address of this host')
    .option('--label <name>', 'this run\'s client name in the JSON, for lbdiag merge (default: the host name)')
    .option('-w, --workers <n|auto>', 'run the traffic in n worker threads (as autocannon -w), each with its share of -c, -n and --rate, their tallies merged into one report; auto: one per available core, capped by a container CPU quota (default 1)')
    .option('--quiet', 'human report: the summary line and the findings only, no tables (-q is --rate here, as in oha)')
    .option('-v, --verbose', 'human report: every finding in full (all evidence, the meaning each time, consequences as findings)')
    .option('--explain', 'human report: print each finding\'s meaning every time (by default once per finding id)')
    .addHelpText(
      'after',
      `
Examples:
  lbdiag probe 10.0.0.10:80                          keep-alive vs short-lived, 200 requests each, diagnosed
  lbdiag probe http://vip.example/health -c 8 -n 1000 --expect 3
  lbdiag probe 10.0.0.10:80 --mode keepalive --interval 1s -d 2m   a slow poller, watch for late backends
  lbdiag probe 10.0.0.10:80 --mode rotate --max-conn-age 5s       prove connection rotation spreads the load
  lbdiag probe svc.ns.svc.cluster.local:8080 --resolve all --json > probe.json
  lbdiag probe 10.0.0.10:443 --backend-from header:X-Served-By --records requests.ndjson --fail-on warn
  lbdiag probe 10.0.0.10:80 -z 30s -q 100 -m POST --data @body.json   hey/oha-style flags
  lbdiag probe 127.0.0.1:8080 --mode short --source 127.0.0.20-127.0.0.29   ten client addresses: is it sticky by source?
  lbdiag probe 10.0.0.10:80 --json --label zone-a > zone-a.json; lbdiag merge zone-*.json
  lbdiag probe 10.0.0.10:80 --mode short --records - | jq -c 'select(.error)'   records on stdout, report on stderr
  lbdiag probe 10.0.0.10:80 --html probe.html         the report on stdout, and charts in probe.html
  lbdiag probe https://10.0.0.10/ --sni api.example.com --cacert ca.pem   TLS through an SNI router, private CA
  lbdiag probe https://10.0.0.10/ -k --json | jq '.modes.short.tls'   certificates per backend, unverified
  lbdiag probe 10.0.0.10:8080 --http2 -c 4 --streams 10   h2c: 4 connections x 10 streams; pinned per connection?
  lbdiag probe https://grpc.example:443 --grpc --grpc-method lbdiag.v1.WhoAmI/Get -k   gRPC over TLS (ALPN h2)
  lbdiag probe 10.0.0.10:50051 --grpc --mode rotate --max-conn-requests 50   does rotating gRPC connections spread calls?
  lbdiag probe 10.0.0.10:80 --mode short -c 100 -d 30s --workers auto   load from every core

Durations: ${DURATION_HELP}.

Findings (stable ids): keepalive-pinning, insufficient-data, imbalance, single-backend, backend-missing,
late-backend-starved, stale-instance, backend-restarted, intermittent-errors, all-failing, idle-timeout-reset,
stall-1s, l7-proxy, connection-churn, no-backend-identity, local-port-exhaustion, source-affinity, tls-error,
tls-cert-mismatch, protocol-mismatch.
Error kinds in records: refused, reset, timeout (no byte of an answer, or no connection), head-timeout,
body-timeout, head-too-large, chunk-line-too-long, too-many-1xx, bad-response, no-local-port, closed, http2-frames (HTTP/2 frames to an HTTP/1.1 request);
HTTP/2: h2-protocol-error, alpn-no-h2, refused-stream,
stream-<h2 error> (e.g. stream-internal-error); gRPC: grpc-<status> (e.g. grpc-unavailable), not-serving,
grpc-no-status; https: tls-expired, tls-not-yet-valid, tls-self-signed, tls-unknown-ca, tls-name-mismatch,
tls-cert-invalid, tls-handshake, tls-protocol-version, tls-alpn, tls-not-tls (phase tls; the exact problem in
tlsError).
Exit codes: 0 no finding at --fail-on; 1 a finding at or above it; 2 usage error, unreachable target, or an
input the run showed wrong (a --weights name); 130 interrupted (Ctrl-C: the partial report is printed).`,
    )
    .action(
      action(async (vip: string, flags: Flags) => {
        const failOn = parseFailOn(flags.failOn);
        const options = optionsFromFlags(vip, flags);
        const workers = flags.workers !== undefined ? parseWorkers(flags.workers) : 1;
        // The HTTP/2 engine has no shared id counters for worker threads yet: one thread, many streams.
        if (workers > 1 && options.http2) throw new UsageError('--workers runs HTTP/1.1 traffic only: with --http2 or --grpc, raise --streams (one thread drives many streams) instead');
        if (flags.html !== undefined) checkHtmlPath(flags.html);
        const controller = new AbortController();
        const progress = new ProgressLine();
        const off = onInterrupt(() => controller.abort());
        let report;
        try {
          report = await runProbeWorkers(options, workers, {
            signal: controller.signal,
            onProgress: progress.active
              ? (p) =>
                  progress.update(
                    () =>
                      `probe ${p.mode}: ${p.done}${p.total !== undefined ? `/${p.total}` : ''} requests, ${formatDuration(p.elapsedMs)}${p.durationMs ? `/${formatDuration(p.durationMs)}` : ''}, ${Math.round(p.rate)} req/s, ${p.backends} backends, ${p.errors} errors`,
                  )
              : undefined,
          });
        } finally {
          progress.clear();
          off();
        }
        // --records -: the NDJSON lines own stdout; the report (human or JSON) goes to stderr.
        const sink = options.records === '-' ? process.stderr : process.stdout;
        if (flags.json) sink.write(renderJson(report));
        else sink.write(renderProbeReport(report, { chalk: makeChalk(sink), width: sink.columns || 100, verbosity: verbosityFromFlags(flags), explain: flags.explain }));
        for (const e of report.inputErrors ?? []) process.stderr.write(`lbdiag: ${e}\n`);
        if (flags.html !== undefined) await (await import('../html/option.js')).writeHtmlReport(flags.html, report);
        if (report.interrupted) return EXIT_INTERRUPTED;
        if (report.inputErrors?.length) return EXIT_USAGE;
        return reachesFailOn(report.findings, failOn) ? EXIT_FINDINGS : EXIT_OK;
      }),
    );
}
