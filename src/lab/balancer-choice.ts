/**
 * `--balancer builtin|haproxy|nginx` → which balancer kind plays layer 4 and layer 7, whether it
 * is installed (a one-line usage error when not), and how the story names it.
 */
import { UsageError } from '../core/errors.js';
import { haproxyInstalled, nginxInstalled, nginxStreamSupport, type BalancerKind } from './balancers/index.js';

/** `--balancer`: which programs play the balancers. */
export type BalancerFamily = 'builtin' | 'haproxy' | 'nginx';

export const BALANCER_FAMILIES: readonly BalancerFamily[] = ['builtin', 'haproxy', 'nginx'];

/** Throws a UsageError (exit 2, one line) when the family's program is not installed. */
export function requireFamily(family: BalancerFamily): void {
  if (family === 'haproxy' && !haproxyInstalled()) throw new UsageError('--balancer haproxy: haproxy is not installed (apt-get install haproxy), or use --balancer builtin');
  if (family === 'nginx' && !nginxInstalled()) throw new UsageError('--balancer nginx: nginx is not installed (apt-get install nginx-light), or use --balancer builtin');
}

export interface KindChoice {
  kind: BalancerKind;
  /** Why a different kind than asked for plays this part (e.g. nginx without the stream module). */
  note?: string;
}

/** The connection-level (layer-4) balancer of a family. */
export function l4Kind(family: BalancerFamily): KindChoice {
  if (family === 'haproxy') return { kind: 'haproxy-tcp' };
  if (family === 'nginx') {
    const s = nginxStreamSupport();
    if (s.ok) return { kind: 'nginx-stream' };
    return { kind: 'builtin-l4', note: `this nginx cannot proxy TCP (${s.reason ?? 'no stream module'}), so the builtin layer-4 forwarder plays that part` };
  }
  return { kind: 'builtin-l4' };
}

/** The request-level (layer-7) balancer of a family. */
export function l7Kind(family: BalancerFamily): KindChoice {
  if (family === 'haproxy') return { kind: 'haproxy-http' };
  if (family === 'nginx') return { kind: 'nginx-http' };
  return { kind: 'builtin-l7' };
}

/** The HTTP/2 per-stream (layer-7) balancer of a family: h2c from clients, h2c to the backends. */
export function h2Kind(family: BalancerFamily): KindChoice {
  if (family === 'haproxy') return { kind: 'haproxy-h2' };
  if (family === 'nginx') return { kind: 'nginx-grpc' };
  return { kind: 'builtin-h2' };
}

/** How the story names a balancer kind. */
export function describeKind(kind: string): string {
  switch (kind) {
    case 'builtin-l4':
      return "lbdiag's builtin layer-4 forwarder (round robin per TCP connection, like an LVS/IPVS service or a BIG-IP standard virtual server)";
    case 'builtin-l7':
      return "lbdiag's builtin layer-7 HTTP proxy (round robin per request, like nginx proxy_pass or haproxy mode http)";
    case 'haproxy-tcp':
      return 'haproxy `mode tcp`, `balance roundrobin` (layer 4: one backend per connection)';
    case 'haproxy-http':
      return 'haproxy `mode http`, `balance roundrobin` (layer 7: one backend per request)';
    case 'haproxy-stale':
      return 'two haproxy processes listening on one port with SO_REUSEPORT: the new generation, and an old one that never exited and answers 503';
    case 'builtin-stale':
      return 'two generations of the builtin balancer sharing one port: each new connection is hashed (source address and port) to one of them, as the kernel does for SO_REUSEPORT listeners; the old one answers 503';
    case 'nginx-http':
      return 'nginx `proxy_pass` to an upstream (layer 7: one backend per request)';
    case 'nginx-stream':
      return 'nginx `stream { proxy_pass }` (layer 4: one backend per connection)';
    case 'builtin-h2':
      return "lbdiag's builtin HTTP/2 proxy (h2c; round robin per stream over one HTTP/2 connection per backend, like Envoy)";
    case 'haproxy-h2':
      return 'haproxy `mode http` with `bind … proto h2` and `server … proto h2`, `balance roundrobin` (layer 7: one backend per HTTP/2 stream)';
    case 'nginx-grpc':
      return 'nginx `listen … http2` with `grpc_pass grpc://` to an upstream (layer 7: one backend per HTTP/2 stream)';
    default:
      return kind;
  }
}

/** Short label for tables: `L4 builtin-l4`. */
export function layerLabel(kind: string): string {
  if (kind.endsWith('-l4') || kind.endsWith('-tcp') || kind.endsWith('-stream')) return `L4 ${kind}`;
  if (kind.endsWith('-l7') || kind.endsWith('-http') || kind.endsWith('-h2') || kind.endsWith('-grpc')) return `L7 ${kind}`;
  return kind;
}
