#!/usr/bin/env bash
# Load harness for the gateway: `bulwark serve` (the issuer, embedded
# SQLite), bench/upstream (a fixed 200 JSON answer) and `bulwark gateway`
# in front of it, each its own process on loopback. bench/loadgen gets one
# DPoP-bound token, then sends GET /accounts with it and a fresh proof per
# request, first through the gateway, then straight to the upstream with
# the same bytes. Prints loadgen's JSON for both runs (req/s, p50/p99, the
# gateway's CPU time per request and, with FLOOR, the crypto floor of a
# resource request: one ES256 JWT verify + one DPoP proof verify) and the
# added latency and throughput ratio.
#
#   bench/gateway.sh [requests] [concurrency]
#
# DELAY=2ms makes the upstream wait that long per request (an API's
# database call) without using CPU.
# REPLAY=storage keeps proof jti values in Redis (cache.driver: redis at
# REDIS_URL, default redis://127.0.0.1:6379/0; the gateway then opens
# only Redis) instead of gateway memory.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
N=${1:-20000}
C=${2:-32}
PORT=${PORT:-18080}
GWPORT=${GWPORT:-18090}
UPPORT=${UPPORT:-19000}
REPLAY=${REPLAY:-memory}
work=$(mktemp -d)
pid=
gwpid=
uppid=
trap 'kill $gwpid $uppid 2>/dev/null || true; stop_server; rm -rf "$work"' EXIT

build_tools
go build -o "$work/upstream" ./bench/upstream
start_bulwark

"$work/upstream" -listen "127.0.0.1:$UPPORT" -delay "${DELAY:-0s}" >"$work/upstream.log" 2>&1 &
uppid=$!

storage=
if [ "$REPLAY" = storage ]; then
  storage="cache: {driver: redis, url: ${REDIS_URL:-redis://127.0.0.1:6379/0}, prefix: bench-gw-$$:}"
fi
cat > "$work/gateway.yaml" <<YAML
log: {level: warn}
$storage
gateway:
  listen: 127.0.0.1:$GWPORT
  base_url: http://127.0.0.1:$GWPORT
  issuer: http://127.0.0.1:$PORT
  audiences: [http://127.0.0.1:$GWPORT]
  replay_store: $REPLAY
  routes:
    - {name: accounts, path_prefix: /accounts, upstream: http://127.0.0.1:$UPPORT, scopes: [accounts]}
YAML
"$work/bulwark" gateway --config "$work/gateway.yaml" >"$work/gateway.log" 2>&1 &
gwpid=$!
wait_ready "http://127.0.0.1:$GWPORT/readyz" "$work/gateway.log"
wait_ready "http://127.0.0.1:$UPPORT/" "$work/upstream.log"

gw_url="http://127.0.0.1:$GWPORT/accounts"
common=(-mode resource -issuer "http://127.0.0.1:$PORT" -client bench -key "$work/key.jwk"
  -scope accounts -resource "http://127.0.0.1:$GWPORT" -htu "$gw_url" -n "$N" -c "$C")
via=$("$work/loadgen" "${common[@]}" -url "$gw_url" -server-pid "$gwpid" ${FLOOR:+-floor "$FLOOR"})
direct=$("$work/loadgen" "${common[@]}" -url "http://127.0.0.1:$UPPORT/accounts" -server-pid "$uppid")
echo "gateway: $via"
echo "direct:  $direct"
python3 - "$via" "$direct" <<'PY'
import json, sys
g, d = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(json.dumps({
    "added_p50_ms": round(g["p50_ms"] - d["p50_ms"], 3),
    "added_p99_ms": round(g["p99_ms"] - d["p99_ms"], 3),
    "throughput_ratio": round(g["rps"] / d["rps"], 3),
}))
PY
