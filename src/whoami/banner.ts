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
}

function describeAddress(a: { address: string; port: number }): string {
  const url = `http://${hostPort(a.address, a.port)}`;
  if (a.address === '::') return `${url} (all addresses, IPv4 and IPv6)`;
  if (a.address === '0.0.0.0') return `${url} (all IPv4 addresses)`;
  return url;
}

function tryUrl(a: { address: string; port: number }): string {
  const host = a.address === '::' || a.address === '0.0.0.0' ? '127.0.0.1' : a.address;
  return `http://${hostPort(host, a.port)}/`;
}

export function bannerText(b: BannerInput): string {
  const s = b.settings;
  const who =
    b.processes.length === 1
      ? `instance ${b.processes[0].instance} · pid ${b.processes[0].pid}`
      : `instance ${b.processes[0].instance} · ${b.processes.length} workers (primary pid ${b.primaryPid})`;
  const lines = [`lbdiag whoami ${b.version}: ${b.name} · ${who}`];
  b.addresses.forEach((a, i) => lines.push(`  ${i === 0 ? 'listening ' : '          '}  ${describeAddress(a)}`));
  if (b.processes.length > 1) {
    lines.push(`  workers     ${b.processes.map((p) => `pid ${p.pid}`).join(' · ')} (one generation: same instance, own pids)`);
  }
  lines.push(
    `  keep-alive  idle-timeout ${describeSetting(s.idleTimeoutMs, s.idleTimeoutIsDefault, 'off (idle connections stay open)')}` +
      ` · max-requests-per-conn ${s.maxRequestsPerConn ?? 'unlimited'}` +
      ` · headers-timeout ${describeSetting(s.headersTimeoutMs, s.headersTimeoutIsDefault)}`,
  );
  lines.push(
    s.drainDelayMs > 0
      ? `  drain       ${settingDuration(s.drainDelayMs)} on SIGTERM/SIGINT (/health 503, Connection: close), then in-flight requests finish; a second signal exits at once`
      : '  drain       no delay on SIGTERM/SIGINT: stop listening, in-flight requests finish; a second signal exits at once',
  );
  lines.push(`  log         ${b.log === 'off' ? 'off (--log for one line per request and per closed connection)' : b.log}`);
  lines.push(`  try         curl -si ${tryUrl(b.addresses[0])}   · /api (JSON) · /health · /metrics · ?wait=250ms&status=503&size=16k&close=1`);
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
    }) + '\n'
  );
}
