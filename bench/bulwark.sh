#!/usr/bin/env bash
# Load harness: runs `bulwark serve` on embedded SQLite and drives it with
# bench/loadgen from a separate process. Prints loadgen's JSON: req/s,
# p50/p99 latency and the server's CPU time per request.
#
#   bench/bulwark.sh token [requests] [concurrency]  # client_credentials + private_key_jwt + DPoP
#   bench/bulwark.sh flow  [flows] [concurrency]     # PAR → authorize → token (DPoP), signed-in user
#
# FLOOR=3s also measures the crypto floor (token mode) and the ratio to it.
# BULWARK=path runs that bulwark binary instead of building one.
# PERF=1 also records a perf profile of the server to /tmp/perf.data.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
MODE=${1:-token}
N=${2:-20000}
C=${3:-32}
PORT=${PORT:-18080}
case "$MODE" in
  token) scope=accounts ;;
  flow)  scope="openid accounts" ;;
  *) echo "unknown mode $MODE" >&2; exit 2 ;;
esac
work=$(mktemp -d)
pid=
trap 'stop_server; rm -rf "$work"' EXIT

build_tools
start_bulwark

if [ -n "${PERF:-}" ]; then
  perf record -F 999 -g -p "$pid" -o /tmp/perf.data 2>/dev/null &
  perfpid=$!
  sleep 0.5
fi
"$work/loadgen" -mode "$MODE" -issuer "http://127.0.0.1:$PORT" -client bench -key "$work/key.jwk" \
  -scope "$scope" -username alice -password "$password" -n "$N" -c "$C" -server-pid "$pid" ${FLOOR:+-floor "$FLOOR"}
if [ -n "${PERF:-}" ]; then
  kill -INT "$perfpid"; wait "$perfpid" || true
fi
