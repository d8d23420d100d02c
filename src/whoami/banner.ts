/**
 * The one banner printed at start: addresses, identity, keep-alive settings in force, drain.
 * Text for people, or one NDJSON `listening` event when the log format is json.
 */
import type { ServerSettings } from './answers.js';
import { hostPort } from './connections.js';
import { describeSetting, settingDuration } from './settings.js';

export interface BannerInput {
  name: string;
  version: string;
  addresses: { address: string; port: number }[];
  settings: ServerSettings;
  log: 'off' | 'text' | 'json';
  /** One entry per process answering (one, or one per worker). */
  processes: { pid: number; instance: string }[];
  primaryPid?: number;
  /** --tls: the certificate served. */
  tls?: { fingerprint256: string; names: string; selfSigned: boolean } | null;
}

function describeAddress(a: { address: string; port: number }, scheme: string): string {
  const url = `${scheme}://${hostPort(a.address, a.port)}`;
  if (a.address === '::') return `${url} (all addresses, IPv4 and IPv6)`;
  if (a.address === '0.0.0.0') return `${url} (all IPv4 addresses)`;
  return url;
}

function tryUrl(a: { address: string; port: number }, scheme: string): string {
  const host = a.address === '::' || a.address === '0.0.0.0' ? '127.0.0.1' : a.address;
  return `${scheme}://${hostPort(host, a.port)}/`;
}

export function bannerText(b: BannerInput): string {
  const s = b.settings;
  const who =
    b.processes.length === 1
      ? `instance ${b.processes[0].instance} · pid ${b.processes[0].pid}`
      : `instance ${b.processes[0].instance} · ${b.processes.length} workers (primary pid ${b.primaryPid})`;
  const lines = [`lbdiag whoami ${b.version}: ${b.name} · ${who}`];
  const scheme = b.tls ? 'https' : 'http';
  b.addresses.forEach((a, i) => lines.push(`  ${i === 0 ? 'listening ' : '          '}  ${describeAddress(a, scheme)}`));
  lines.push(
    b.tls
      ? '  protocols   HTTP/1.1 and HTTP/2 (h2) by TLS ALPN on one port · gRPC: grpc.health.v1.Health/Check, lbdiag.v1.WhoAmI/Get'
      : '  protocols   HTTP/1.1 and HTTP/2 (h2c, prior knowledge) on one port · gRPC: grpc.health.v1.Health/Check, lbdiag.v1.WhoAmI/Get',
  );
  if (b.tls) {
    lines.push(`  tls         ${b.tls.selfSigned ? 'self-signed certificate (clients need -k or this fingerprint)' : 'certificate from --cert'} for ${b.tls.names || '(no subject alternative names)'}`);
    lines.push(`              SHA-256 fingerprint ${b.tls.fingerprint256}`);
  }
  if (b.processes.length > 1) {
    lines.push(`  workers     ${b.processes.map((p) => `pid ${p.pid}`).join(' · ')} (one generation: same instance, own pids)`);
  }
  lines.push(
    `  keep-alive  idle-timeout ${describeSetting(s.idleTimeoutMs, s.idleTimeoutIsDefault, 'off (idle connections stay open)')}` +
      ` · max-requests-per-conn ${s.maxRequestsPerConn ?? 'unlimited'}` +
      ` · headers-timeout ${describeSetting(s.headersTimeoutMs, s.headersTimeoutIsDefault)}`,
  );
  if (s.maxConnAgeMs !== null || s.maxStreamsPerConn !== s.maxRequestsPerConn) {
    const parts: string[] = [];
    if (s.maxStreamsPerConn !== s.maxRequestsPerConn) parts.push(`max-streams-per-conn ${s.maxStreamsPerConn ?? 'unlimited'} (HTTP/2 GOAWAY)`);
    if (s.maxConnAgeMs !== null) parts.push(`max-conn-age ${settingDuration(s.maxConnAgeMs)} (HTTP/2 GOAWAY, grace ${settingDuration(s.maxConnAgeGraceMs)}; HTTP/1.1 Connection: close)`);
    lines.push(`              ${parts.join(' · ')}`);
  }
  lines.push(
    s.drainDelayMs > 0
      ? `  drain       ${settingDuration(s.drainDelayMs)} on SIGTERM/SIGINT (/health 503, Connection: close, HTTP/2 GOAWAY), then in-flight requests finish; a second signal exits at once`
      : '  drain       no delay on SIGTERM/SIGINT: stop listening, in-flight requests finish; a second signal exits at once',
  );
  lines.push(`  log         ${b.log === 'off' ? 'off (--log for one line per request and per closed connection)' : b.log}`);
  lines.push(`  try         curl -si${b.tls ? 'k' : ''} ${tryUrl(b.addresses[0], scheme)}   · /api (JSON) · /health · /metrics · ?wait=250ms&status=503&size=16k&close=1`);
  return lines.join('\n') + '\n';
}

export function bannerJson(b: BannerInput): string {
  const s = b.settings;
  return (
    JSON.stringify({
      time: new Date().toISOString(),
      event: 'listening',
      name: b.name,
      version: b.version,
      addresses: b.addresses,
      processes: b.processes,
      idleTimeoutMs: s.idleTimeoutMs,
      idleTimeoutIsDefault: s.idleTimeoutIsDefault,
      maxRequestsPerConn: s.maxRequestsPerConn,
      headersTimeoutMs: s.headersTimeoutMs,
      drainDelayMs: s.drainDelayMs,
      maxStreamsPerConn: s.maxStreamsPerConn,
      maxConnAgeMs: s.maxConnAgeMs,
      protocols: b.tls ? ['http/1.1', 'h2'] : ['http/1.1', 'h2c'],
      tls: b.tls ? { fingerprint256: b.tls.fingerprint256, names: b.tls.names, selfSigned: b.tls.selfSigned } : null,
    }) + '\n'
  );
}
