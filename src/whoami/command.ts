/** `lbdiag whoami`: commander wiring, a thin layer over startWhoami (server.ts). */
import type { Command } from 'commander';
import { action, collect } from '../core/action.js';
import { UsageError } from '../core/errors.js';
import { parseCount, parseDuration } from '../core/units.js';
import { runSingle } from './run.js';
import type { WhoamiOptions } from './server.js';
import { DEFAULT_PORT } from './settings.js';
import { isWorker, runPrimary, runWorker } from './workers.js';

interface Flags {
  port: string;
  host?: string[];
  name?: string;
  idleTimeout?: string;
  maxRequestsPerConn?: string;
  headersTimeout?: string;
  drainDelay: string;
  workers: string;
  log?: boolean;
  logFormat?: string;
  echoSecrets?: boolean;
  maxStreamsPerConn?: string;
  maxConnAge?: string;
  maxConnAgeGrace?: string;
  tls?: boolean;
  cert?: string;
  key?: string;
}

function whoamiOptions(f: Flags): { opts: WhoamiOptions; workers: number } {
  const logFormat = f.logFormat;
  if (logFormat !== undefined && logFormat !== 'text' && logFormat !== 'json') throw new UsageError(`invalid --log-format "${logFormat}" (expected text or json)`);
  const opts: WhoamiOptions = {
    port: parseCount(f.port, '--port', 0, 65535),
    host: f.host,
    name: f.name,
    idleTimeoutMs: f.idleTimeout === undefined ? undefined : parseDuration(f.idleTimeout, '--idle-timeout'),
    maxRequestsPerConn: f.maxRequestsPerConn === undefined ? undefined : parseCount(f.maxRequestsPerConn, '--max-requests-per-conn', 0),
    headersTimeoutMs: f.headersTimeout === undefined ? undefined : parseDuration(f.headersTimeout, '--headers-timeout'),
    drainDelayMs: parseDuration(f.drainDelay, '--drain-delay'),
    log: f.log || logFormat !== undefined ? ((logFormat ?? 'text') as 'text' | 'json') : false,
    echoSecrets: f.echoSecrets === true,
    maxStreamsPerConn: f.maxStreamsPerConn === undefined ? undefined : parseCount(f.maxStreamsPerConn, '--max-streams-per-conn', 0),
    maxConnAgeMs: f.maxConnAge === undefined ? undefined : parseDuration(f.maxConnAge, '--max-conn-age'),
    maxConnAgeGraceMs: f.maxConnAgeGrace === undefined ? undefined : parseDuration(f.maxConnAgeGrace, '--max-conn-age-grace'),
    tls: f.tls === true || f.cert !== undefined,
    certFile: f.cert,
    keyFile: f.key,
  };
  if ((f.cert === undefined) !== (f.key === undefined)) throw new UsageError('--cert and --key go together (or give neither: --tls alone makes a self-signed certificate)');
  if (opts.headersTimeoutMs === 0) throw new UsageError('invalid --headers-timeout "0" (must be above zero)');
  return { opts, workers: parseCount(f.workers, '--workers', 1, 256) };
}

export function registerWhoami(program: Command): void {
  program
    .command('whoami')
    .description('backend echo server: names the backend, process and connection (id;seq) in every answer')
    .option('-p, --port <port>', 'TCP port to listen on (0 picks a free one)', String(DEFAULT_PORT))
    .option('-H, --host <address>', 'address to listen on, repeatable (default :: = every IPv4 and IPv6 address)', collect)
    .option('--name <name>', 'backend name in X-Lbdiag-Backend and the answers (default $POD_NAME, else the hostname)')
    .option('--idle-timeout <duration>', 'close a keep-alive connection idle this long (server.keepAliveTimeout; 0 = never; default Node\'s 5s)')
    .option('--max-requests-per-conn <n>', 'the n-th response on a connection carries Connection: close; HTTP/2: GOAWAY after the n-th stream (0 = unlimited)')
    .option('--max-streams-per-conn <n>', 'HTTP/2 only: GOAWAY after the n-th stream on a connection (default: --max-requests-per-conn; 0 = unlimited)')
    .option('--max-conn-age <duration>', 'connections older than this end: HTTP/2 GOAWAY (gRPC MAX_CONNECTION_AGE), HTTP/1.1 Connection: close on the next answer (default never)')
    .option('--max-conn-age-grace <duration>', 'HTTP/2: after the --max-conn-age GOAWAY, streams in flight get this long before the connection is closed', '10s')
    .option('--tls', 'serve HTTPS: HTTP/1.1 and HTTP/2 (h2) chosen by ALPN on the one port; self-signed certificate unless --cert/--key')
    .option('--cert <file>', 'PEM certificate (chain) for --tls (implies --tls; with --key)')
    .option('--key <file>', 'PEM private key for --cert')
    .option('--headers-timeout <duration>', 'answer 408 and close when request headers take longer (default Node\'s 60s)')
    .option('--drain-delay <duration>', 'on SIGTERM/SIGINT keep answering this long with /health 503 and Connection: close', '5s')
    .option('-w, --workers <n>', 'processes sharing the port (node:cluster); one instance (generation), a pid each', '1')
    .option('--log', 'one line per request and per closed connection (with who closed it) on stdout')
    .option('--log-format <format>', 'text or json (NDJSON; implies --log)')
    .option('--echo-secrets', 'echo Authorization, Cookie, API-key and token headers verbatim (default: redacted to scheme and length)')
    .addHelpText(
      'after',
      `
Every response carries X-Lbdiag-Backend (name), X-Lbdiag-Instance (random per whoami start, shared by
its --workers), X-Lbdiag-Started (that start, Unix epoch ms), X-Lbdiag-Conn (<connection id>;seq=<n-th
request on it>) and X-Lbdiag-Pid. One port speaks HTTP/1.1 and HTTP/2: h2c by prior knowledge in clear
(no Upgrade: h2c), h2 by ALPN with --tls; over HTTP/2, seq counts the streams of the connection.

Paths:  /            short text (JSON with Accept: application/json or ?format=json); any unknown path echoes too
        /api         JSON: name, pid, instance, ips, request, connection {id, seq, ageMs, local, remote},
                     forwarded (X-Forwarded-For, Forwarded, Via, X-Real-IP), server {state, idleTimeoutMs, ...}
        /health      200 ok; 503 while draining; POST a status code (e.g. 503) to change it, with
                     Content-Type: application/json or an X-Lbdiag-Health header (no cross-site forms)
        /metrics     Prometheus text: requests by status, connections accepted/active/closed by whom,
                     requests per connection histogram, drain state
Query:  ?wait=250ms (delay, capped at 30s)  ?status=503  ?size=16k (pad the body, capped at 16m)  ?close=1
gRPC:   grpc.health.v1.Health/Check (SERVING; NOT_SERVING while draining or when /health is set down),
        lbdiag.v1.WhoAmI/Get (identity); the x-lbdiag-* names in the response metadata too
Durations: 250ms, 1.5s, 2m; a bare number is seconds.

Examples:
  lbdiag whoami                                  listen on :18088, IPv4 and IPv6
  lbdiag whoami --name web-1 --port 8080 --log   name this backend, log each request and closed connection
  lbdiag whoami --idle-timeout 75s --max-requests-per-conn 100
                                                 outlive the balancer's idle timeout; rotate connections
  lbdiag whoami -H 127.0.0.2 -H ::1 --workers 4  two addresses, four processes on one port
  lbdiag whoami --max-conn-age 30s               GOAWAY after 30s, so long-lived HTTP/2 and gRPC clients
                                                 reconnect (and reach pods added since)
  lbdiag whoami --tls --port 8443                HTTPS (HTTP/1.1 and h2), self-signed, fingerprint in the banner
  lbdiag whoami --cert tls.crt --key tls.key     HTTPS with your certificate
  h2load -n 1000 -c 4 -m 10 http://127.0.0.1:18088/   HTTP/2 load on the same port (nghttp2-client)
  curl -si http://127.0.0.1:18088/api            the JSON answer
  curl -s -X POST -H 'Content-Type: application/json' -d 503 http://127.0.0.1:18088/health
                                                 fail the health check without stopping the server`,
    )
    .action(
      action(async (flags: Flags) => {
        const { opts, workers } = whoamiOptions(flags);
        if (isWorker()) return runWorker(opts);
        if (workers > 1) return runPrimary(workers, opts);
        return runSingle(opts);
      }),
    );
}
