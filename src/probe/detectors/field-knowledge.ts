/** Field knowledge several probe findings explain with: how balancers pick backends, and why pools keep old choices. */

/** Layer 4 picks per connection, layer 7 per request. */
export const L4_FIELD =
  'A layer-4 balancer (BIG-IP standard TCP virtual server, LVS/IPVS, a Kubernetes Service via kube-proxy, haproxy `mode tcp`, nginx `stream`) picks a backend once per TCP connection; every request a keep-alive client sends on that connection goes to the same backend. A layer-7 proxy (nginx `proxy_pass`, haproxy `mode http`, Envoy, an HTTP-aware BIG-IP virtual server) picks per request.';

/** Why connection pools opened before a scale-up starve the new backends, and the client-side fixes. */
export const POOL_FIELD =
  'Connection pools opened before a scale-up keep their connections, and an L4 balancer never moves an established connection, so new backends only get the connections opened after they joined. Clients fix this with a maximum connection age or request count: fasthttp `MaxConnDuration`, gRPC `MAX_CONNECTION_AGE` (server side), Envoy `max_requests_per_connection` / `max_connection_duration`, or an L7 balancer.';

/** HTTP/2 and gRPC multiplex every call on one connection: what an L4 balancer does with that. */
export const H2_FIELD =
  'HTTP/2 and gRPC multiplex every request (stream) of a client over one long-lived connection, and a layer-4 balancer (a Kubernetes Service via kube-proxy, a cloud network load balancer, haproxy `mode tcp`, nginx `stream`, LVS/IPVS) picks a backend once per connection: every stream on it goes to that one backend, so a gRPC client with one connection loads one pod, and pods added by the autoscaler get nothing until clients reconnect. A proxy that balances per stream (Envoy, linkerd or another mesh, haproxy `mode http` with `proto h2` servers, nginx `grpc_pass`) spreads the streams of one connection.';

/** The HTTP/2 and gRPC fixes, per stream or per connection lifetime. */
export const H2_REMEDY =
  'Balance per stream: an L7 proxy that speaks HTTP/2 to the backends (Envoy, linkerd/Istio, haproxy `mode http` with `server ... proto h2`, nginx `grpc_pass`); or balance in the client: a headless Service (every pod address in DNS) with the gRPC client\'s `round_robin` policy; or bound connection lifetimes on the server so clients reconnect through the balancer: gRPC `MAX_CONNECTION_AGE` (+ grace), which ends connections with GOAWAY (`lbdiag whoami --max-conn-age 30s` does the same). `lbdiag probe --http2 --mode rotate --max-conn-requests 20` shows the spread rotating connections gives.';
