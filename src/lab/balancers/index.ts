/** The lab's balancers, one entry point: startBalancer(kind, options). */
import type { Balancer, BalancerKind, BalancerOptions } from './types.js';
import { startTcpForwarder } from './tcp-forwarder.js';
import { startHttpProxy } from './http-proxy.js';
import { startHaproxy, startStaleListenerPair } from './haproxy.js';
import { startNginx } from './nginx.js';

export * from './types.js';
export { startTcpForwarder, type TcpForwarder, type TcpForwarderOptions, type TcpForwarderStats } from './tcp-forwarder.js';
export { startHttpProxy, type HttpProxy, type HttpProxyOptions, type HttpProxyStats } from './http-proxy.js';
export {
  startHaproxy,
  startStaleListenerPair,
  haproxyConfig,
  haproxyInstalled,
  requireHaproxy,
  type HaproxyBalancer,
  type HaproxyOptions,
  type HaproxyMode,
  type HaproxyConfigOptions,
  type StaleListenerOptions,
  type StaleListenerPair,
} from './haproxy.js';
export { startNginx, nginxConfig, nginxInstalled, nginxStreamSupport, requireNginx, type NginxBalancer, type NginxOptions, type NginxMode, type StreamSupport } from './nginx.js';

/**
 * Starts a balancer of the given kind. The builtin ones accept port 0 (see `address.port` for the
 * port they got); haproxy and nginx need an explicit free port.
 */
export async function startBalancer(kind: BalancerKind, opts: BalancerOptions): Promise<Balancer> {
  switch (kind) {
    case 'builtin-l4':
      return startTcpForwarder(opts);
    case 'builtin-l7':
      return startHttpProxy(opts);
    case 'haproxy-tcp':
      return startHaproxy({ ...opts, mode: 'tcp' });
    case 'haproxy-http':
      return startHaproxy({ ...opts, mode: 'http' });
    case 'haproxy-stale':
      return startStaleListenerPair(opts);
    case 'nginx-http':
      return startNginx({ ...opts, mode: 'http' });
    case 'nginx-stream':
      return startNginx({ ...opts, mode: 'stream' });
  }
}
