# Shared by bench/bulwark.sh and bench/compare.sh (source it; not a
# command). Builds the binaries, writes the client key pair and starts the
# servers under test on loopback. The caller sets $work (a scratch
# directory) and $PORT, and kills "$pid" on exit.

# build_tools builds bulwark and loadgen into $work and writes the bench
# client's ES256 key pair (key.jwk, jwks.json). BULWARK=path uses that
# bulwark binary instead of building one from the work tree.
build_tools() {
  if [ -n "${BULWARK:-}" ]; then
    cp "$BULWARK" "$work/bulwark"
  else
    go build -o "$work/bulwark" ./cmd/bulwark
  fi
  go build -o "$work/loadgen" ./bench/loadgen
  "$work/loadgen" -init "$work"
}

# start_bulwark runs `bulwark serve` on embedded SQLite with one fapi2
# client (private_key_jwt with the key from build_tools) and one user,
# waits until it is ready and sets $pid and $password.
start_bulwark() {
  password=$(head -c 18 /dev/urandom | base64)
  mkdir -p "$work/data"
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
  "$work/bulwark" serve --config "$work/bulwark.yaml" >"$work/bulwark.log" 2>&1 &
  pid=$!
  wait_ready "http://127.0.0.1:$PORT/readyz" "$work/bulwark.log"
}

# start_oidc_provider runs bench/oidc-provider/server.mjs (panva's
# oidc-provider, in-memory adapter) with the same client key, installing
# its pinned packages first when they are missing, and sets $pid.
start_oidc_provider() {
  if [ ! -d bench/oidc-provider/node_modules/oidc-provider ]; then
    npm ci --prefix bench/oidc-provider --no-audit --no-fund >&2
  fi
  NODE_ENV=production node bench/oidc-provider/server.mjs "$PORT" "$work/jwks.json" >"$work/oidc-provider.log" 2>&1 &
  pid=$!
  wait_ready "http://127.0.0.1:$PORT/.well-known/openid-configuration" "$work/oidc-provider.log"
}

# stop_server ends the server started last and waits for it.
stop_server() {
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  pid=
}

# wait_ready polls url for up to 10 s; on failure it prints log and fails.
wait_ready() {
  for _ in $(seq 1 100); do
    curl -fs "$1" >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  cat "$2" >&2
  return 1
}
