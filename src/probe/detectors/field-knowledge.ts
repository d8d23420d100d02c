/** Field knowledge several probe findings explain with: how balancers pick backends, and why pools keep old choices. */

/** Layer 4 picks per connection, layer 7 per request. */
export const L4_FIELD =
  'A layer-4 balancer (BIG-IP standard TCP virtual server, LVS/IPVS, a Kubernetes Service via kube-proxy, haproxy `mode tcp`, nginx `stream`) picks a backend once per TCP connection; every request a keep-alive client sends on that connection goes to the same backend. A layer-7 proxy (nginx `proxy_pass`, haproxy `mode http`, Envoy, an HTTP-aware BIG-IP virtual server) picks per request.';

/** Why connection pools opened before a scale-up starve the new backends, and the client-side fixes. */
export const POOL_FIELD =
  'Connection pools opened before a scale-up keep their connections, and an L4 balancer never moves an established connection, so new backends only get the connections opened after they joined. Clients fix this with a maximum connection age or request count: fasthttp `MaxConnDuration`, gRPC `MAX_CONNECTION_AGE` (server side), Envoy `max_requests_per_connection` / `max_connection_duration`, or an L7 balancer.';
