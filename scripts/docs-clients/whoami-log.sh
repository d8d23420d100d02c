#!/bin/sh
# Client side of docs/whoami.md's --log and drain examples (run by scripts/docs-session.sh with
# $SERVER_PID set): two requests on one keep-alive connection, a ?close=1 answer, a malformed request,
# then SIGTERM while a ?wait=2s request is in flight and a /health request during the drain.
U=http://127.0.91.10:18088
curl -s "$U/api" "$U/api" >/dev/null
curl -s "$U/x?status=503&close=1" >/dev/null
node -e "const s=require('net').connect(18088,'127.0.91.10',()=>s.end('GARBAGE / HTTP/1.1\r\n\r\n'));s.resume()"
sleep 0.3
curl -s "$U/?wait=2s" >/dev/null &
sleep 0.5
kill -TERM "$SERVER_PID"
sleep 0.2
curl -s "$U/health" >/dev/null
wait
