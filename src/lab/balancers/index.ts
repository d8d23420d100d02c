/** The lab's balancers, one entry point: startBalancer(kind, options). */
import type { Balancer, BalancerKind, BalancerOptions } from './types.js';
import { startTcpForwarder } from './tcp-forwarder.js';
import { startHttpProxy } from './http-proxy.js';
import { startH2Proxy } from './h2-proxy.js';
import { startHaproxy, startStaleListenerPair } from './haproxy.js';
import { startNginx } from './nginx.js';

export * from './types.js';
export { startTcpForwarder, type TcpForwarder, type TcpForwarderOptions, type TcpForwarderStats } from './tcp-forwarder.js';
export { startHttpProxy, type HttpProxy, type HttpProxyOptions, type HttpProxyStats } from './http-proxy.js';
export { startH2Proxy, forwardableHeaders, type H2Proxy, type H2ProxyOptions, type H2ProxyStats } from './h2-proxy.js';
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
export {
  startNginx,
  nginxConfig,
  nginxInstalled,
  nginxStreamSupport,
  nginxVersion,
  http2SyntaxFor,
  requireNginx,
  type NginxBalancer,
  type NginxOptions,
  type NginxMode,
  type StreamSupport,
  type Http2Syntax,
} from './nginx.js';

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
    case 'builtin-h2':
      return startH2Proxy(opts);
    case 'haproxy-tcp':
      return startHaproxy({ ...opts, mode: 'tcp' });
    case 'haproxy-http':
      return startHaproxy({ ...opts, mode: 'http' });
    case 'haproxy-h2':
      return startHaproxy({ ...opts, mode: 'http', h2: true });
    case 'haproxy-stale':
      return startStaleListenerPair(opts);
    case 'nginx-http':
      return startNginx({ ...opts, mode: 'http' });
    case 'nginx-stream':
      return startNginx({ ...opts, mode: 'stream' });
    case 'nginx-grpc':
      return startNginx({ ...opts, mode: 'grpc' });
  }
}
