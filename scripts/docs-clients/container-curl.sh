#!/bin/sh
# Client side of docs/install.md's container example: one curl, the backend name and connection headers.
curl -si http://127.0.91.11:18088/ | grep -E '^X-Lbdiag-(Backend|Conn):' | tr -d '\r'
