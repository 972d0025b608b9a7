#!/usr/bin/env bash
# Comparison harness: Bulwark and panva's oidc-provider (pinned in
# bench/oidc-provider/package.json) on this machine, one after the other,
# driven by the same bench/loadgen with the same settings: token mode,
# client_credentials + private_key_jwt (ES256) + a DPoP proof (ES256) per
# request, the same client key pair, 500 untimed warm-up requests, and
# -server-pid for each server's CPU time per request. Prints both JSON
# results and the ratios. Loopback only.
#
#   bench/compare.sh [requests] [concurrency]   # default 20000 32
#
# FLOOR=3s also measures the crypto floor after each run. SHOW=1 prints
# each server's first token response and its access token's claims.
# BULWARK=path runs that bulwark binary instead of building one.
set -euo pipefail
cd "$(dirname "$0")/.."
. bench/lib.sh
N=${1:-20000}
C=${2:-32}
PORT=${PORT:-18080}
work=$(mktemp -d)
pid=
trap 'stop_server; rm -rf "$work"' EXIT

build_tools

# drive runs the identical load against the server on $PORT and writes
# loadgen's JSON to $1. Both servers take the assertion with the issuer as
# audience (oidc-provider accepts the issuer or the token endpoint URL)
# and serve the token endpoint at /token.
drive() {
  "$work/loadgen" -mode token -dpop -issuer "http://127.0.0.1:$PORT" -token-path /token \
    -aud "http://127.0.0.1:$PORT" -client bench -key "$work/key.jwk" -scope accounts \
    -n "$N" -c "$C" -server-pid "$pid" ${FLOOR:+-floor "$FLOOR"} ${SHOW:+-show} >"$1" || { cat "$1"; return 1; }
}

start_bulwark
drive "$work/bulwark.json"
stop_server

start_oidc_provider
drive "$work/oidc-provider.json"
stop_server

printf 'bulwark:       %s\n' "$(cat "$work/bulwark.json")"
printf 'oidc-provider: %s\n' "$(cat "$work/oidc-provider.json")"
node -e '
const [b, o] = process.argv.slice(1).map((f) => JSON.parse(require("fs").readFileSync(f, "utf8")));
const r = (x) => x.toFixed(2);
console.log(`throughput ratio (bulwark / oidc-provider req/s): ${r(b.rps / o.rps)}`);
console.log(`server CPU ratio (oidc-provider / bulwark µs per request): ${r(o.server_cpu_us_per_request / b.server_cpu_us_per_request)}`);
' "$work/bulwark.json" "$work/oidc-provider.json"
