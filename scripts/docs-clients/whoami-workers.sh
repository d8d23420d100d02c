#!/bin/sh
# Client side of docs/whoami.md's --workers example: two curls (a new connection each), the identity
# headers of each answer on one line.
for i in 1 2; do
  curl -si http://127.0.91.10:18088/ | grep -E '^X-Lbdiag-(Instance|Conn|Pid|Started)' | tr -d '\r' | tr '\n' ' '
  echo
done
