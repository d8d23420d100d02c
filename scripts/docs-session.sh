#!/bin/sh
# A server session for `npm run docs` markers whose output is what a server prints (whoami's banner,
# --log lines, drain messages): start the server, wait until it prints READY, run CLIENT (sh), stop it,
# then print the parts named in SHOW.
#
#   scripts/docs-session.sh READY CLIENT SHOW STOP -- server command...
#
#   READY   extended regex matched against the server's stdout and stderr (bounded: 15 s)
#   CLIENT  sh commands run once the server is ready, with $SERVER_PID set (may be empty: ':')
#   SHOW    comma-separated parts to print, in order: client, out (server stdout), err (server stderr)
#   STOP    term: SIGTERM after CLIENT, then wait; int2: SIGINT twice 0.3 s apart (exits at once);
#           wait: CLIENT signals the server itself, only wait for it to exit
# The server is waited for at most 20 s after that, then killed (SIGKILL, by pid). Exit 0 when the
# server exited by itself after the stop (any code), 3 when it had to be killed or never got ready.
ready=$1 client=$2 show=$3 stop=$4
shift 4
[ "$1" = "--" ] && shift
dir=$(mktemp -d "${TMPDIR:-/tmp}/lbdiag-docs-session-XXXXXX")
trap 'rm -rf "$dir"' EXIT
"$@" >"$dir/out" 2>"$dir/err" </dev/null &
pid=$!
i=0
until grep -Eq "$ready" "$dir/out" "$dir/err" 2>/dev/null; do
  i=$((i + 1))
  if [ $i -gt 150 ] || ! kill -0 $pid 2>/dev/null; then
    echo "docs-session: the server did not print /$ready/ (stderr: $(tail -n 3 "$dir/err"))" >&2
    kill -KILL $pid 2>/dev/null
    exit 3
  fi
  sleep 0.1
done
SERVER_PID=$pid sh -c "$client" >"$dir/client" 2>&1
case "$stop" in
  term) kill -TERM $pid 2>/dev/null ;;
  int2) kill -INT $pid 2>/dev/null; sleep 0.3; kill -INT $pid 2>/dev/null ;;
  wait) ;;
  *) echo "docs-session: STOP must be term, int2 or wait" >&2; kill -KILL $pid; exit 3 ;;
esac
i=0
code=0
while kill -0 $pid 2>/dev/null; do
  i=$((i + 1))
  if [ $i -gt 200 ]; then
    kill -KILL $pid 2>/dev/null
    code=3
    break
  fi
  sleep 0.1
done
wait $pid 2>/dev/null
for part in $(echo "$show" | tr ',' ' '); do cat "$dir/$part"; done
exit $code
