#!/bin/sh
# docs/pcap.md's Ctrl-C on a FIFO with no writer: start `lbdiag pcap lb.fifo` in directory $1,
# wait (bounded: 15 s) until it holds the FIFO open, then send SIGINT as Ctrl-C would; exits with its code.
cd "$1" && mkfifo lb.fifo || exit 3
lbdiag pcap lb.fifo &
p=$!
i=0
until ls -l /proc/$p/fd 2>/dev/null | grep -q 'lb\.fifo'; do
  i=$((i + 1))
  if [ $i -gt 150 ]; then echo "fifo-ctrl-c: lbdiag never opened lb.fifo" >&2; kill -KILL $p; exit 3; fi
  sleep 0.1
done
sleep 0.2
kill -INT $p
wait $p
