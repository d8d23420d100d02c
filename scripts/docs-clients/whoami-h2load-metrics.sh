#!/bin/sh
# docs/whoami.md's HTTP/2 metrics: h2load (20000 streams, 4 h2c connections, 10 streams each at once),
# a few HTTP/1.1 requests, then the protocol and streams-per-connection lines of /metrics.
U=http://127.0.91.13:18088
h2load -n 20000 -c 4 -m 10 "$U/" >/dev/null || exit 3
curl -s "$U/" >/dev/null
curl -s "$U/api" >/dev/null
curl -s "$U/metrics" | grep -E '^lbdiag_whoami_(connections_by_protocol_total\{|streams_per_connection_(sum|count))'
