#!/usr/bin/env bash
# Load harness for the token endpoint: client_credentials + private_key_jwt
# against `bulwark serve` on embedded SQLite, driven by bench/loadgen from a
# separate process. Prints loadgen's JSON (req/s, p50/p99, server CPU per
# request). Usage: bench/token.sh [requests] [concurrency]
# PERF=1 also records a perf profile of the server to /tmp/perf.data.
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-20000}
C=${2:-32}
PORT=${PORT:-18080}
work=$(mktemp -d)
trap 'kill "${pid:-0}" 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT

go build -o "$work/bulwark" ./cmd/bulwark
go build -o "$work/loadgen" ./bench/loadgen
"$work/loadgen" -init "$work"

cat > "$work/bulwark.yaml" <<YAML
issuer: http://127.0.0.1:$PORT
listen: 127.0.0.1:$PORT
storage: {driver: sqlite, dsn: $work/data/bulwark.db}
log: {level: warn}
rate_limits: {window: 1m, login_per_ip: 20, token_per_client: 0, token_per_ip: 0}
clients:
  - client_id: bench
    client_name: Bench
    profile: fapi2
    token_endpoint_auth_method: private_key_jwt
    jwks: $(cat "$work/jwks.json")
    redirect_uris: [https://app.example/cb]
    grant_types: [client_credentials]
    scopes: [accounts]
YAML

"$work/bulwark" serve --config "$work/bulwark.yaml" >"$work/server.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fs "http://127.0.0.1:$PORT/readyz" >/dev/null || { cat "$work/server.log"; exit 1; }

[ -n "${PERF:-}" ] && { perf record -F 999 -g -p "$pid" -o /tmp/perf.data & perfpid=$!; sleep 0.5; }
"$work/loadgen" -token "http://127.0.0.1:$PORT/token" -client bench -key "$work/key.jwk" \
  -scope accounts -n "$N" -c "$C" -server-pid "$pid"
[ -n "${PERF:-}" ] && { kill -INT $perfpid; wait $perfpid || true; cp "$work/bulwark" /tmp/bulwark.perfbin; }
