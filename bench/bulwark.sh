#!/usr/bin/env bash
# Load harness: runs `bulwark serve` on embedded SQLite and drives it with
# bench/loadgen from a separate process. Prints loadgen's JSON: req/s,
# p50/p99 latency and the server's CPU time per request.
#
#   bench/bulwark.sh token [requests] [concurrency]  # client_credentials + private_key_jwt
#   bench/bulwark.sh flow  [flows] [concurrency]     # PAR → authorize → token, signed-in user
#
# FLOOR=3s also measures the crypto floor (token mode) and the ratio to it.
# PERF=1 also records a perf profile of the server to /tmp/perf.data.
set -euo pipefail
cd "$(dirname "$0")/.."
MODE=${1:-token}
N=${2:-20000}
C=${3:-32}
PORT=${PORT:-18080}
work=$(mktemp -d)
trap 'kill "${pid:-0}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT

go build -o "$work/bulwark" ./cmd/bulwark
go build -o "$work/loadgen" ./bench/loadgen
"$work/loadgen" -init "$work"
password=$(head -c 18 /dev/urandom | base64)

cat > "$work/bulwark.yaml" <<YAML
issuer: http://127.0.0.1:$PORT
listen: 127.0.0.1:$PORT
storage: {driver: sqlite, dsn: $work/data/bulwark.db}
log: {level: warn}
rate_limits: {window: 1m, login_per_ip: 20, token_per_client: 0, token_per_ip: 0, par_per_client: 0, par_per_ip: 0}
clients:
  - client_id: bench
    client_name: Bench
    profile: fapi2
    token_endpoint_auth_method: private_key_jwt
    jwks: $(cat "$work/jwks.json")
    redirect_uris: [https://app.example/cb]
    grant_types: [authorization_code, client_credentials]
    scopes: [openid, accounts]
users:
  - {username: alice, password: "$password", email: alice@example.com, name: Alice}
YAML

"$work/bulwark" serve --config "$work/bulwark.yaml" >"$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null || { cat "$work/server.log"; exit 1; }

if [ -n "${PERF:-}" ]; then
  perf record -F 999 -g -p "$pid" -o /tmp/perf.data 2>/dev/null &
  perfpid=$!
  sleep 0.5
fi
case "$MODE" in
  token) scope=accounts ;;
  flow)  scope="openid accounts" ;;
  *) echo "unknown mode $MODE" >&2; exit 2 ;;
esac
"$work/loadgen" -mode "$MODE" -issuer "http://127.0.0.1:$PORT" -client bench -key "$work/key.jwk" \
  -scope "$scope" -username alice -password "$password" -n "$N" -c "$C" -server-pid "$pid" ${FLOOR:+-floor "$FLOOR"}
if [ -n "${PERF:-}" ]; then
  kill -INT "$perfpid"; wait "$perfpid" || true
fi
