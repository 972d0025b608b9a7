// Package config reads Bulwark's one configuration schema: a YAML file,
// overlaid by BULWARK_* environment variables, on top of built-in defaults.
// It is the only package that imports the YAML library, and with
// cmd/bulwark the only one that reads the environment.
//
// The flow is Load → Validate → a role's typed configuration
// (File.AuthServer). Load reports what cannot be read (unknown or
// duplicate keys, wrongly typed values, unknown BULWARK_* variables);
// Validate reports what the values mean (an http issuer on a public host,
// a PAR lifetime FAPI 2.0 forbids, a client that breaks its profile).
// Both report every problem at once as Problems, each naming its key and
// the file line or variable it came from, so a configuration is fixed in
// one round. Validate never modifies its File.
//
// # Schema
//
// Every key, with its default (testdata/reference.md lists each key with
// its environment variable):
//
//	issuer: http://127.0.0.1:8080     # https; plain http only on 127.0.0.0/8, ::1, localhost
//	listen: 127.0.0.1:8080
//	tls:
//	  cert_file: ""                   # PEM chain; set both files or neither
//	  key_file: ""
//	storage:
//	  driver: sqlite                  # sqlite | memory
//	  dsn: ./bulwark-data/bulwark.db
//	log:
//	  level: info                     # debug | info | warn | error
//	tokens:                           # Go durations: 90s, 5m, 720h
//	  access_token_ttl: 5m
//	  id_token_ttl: 5m
//	  refresh_token_ttl: 720h
//	  par_ttl: 60s                    # 10s to 599s (FAPI 2.0 SP §5.3.2.2)
//	  login_ttl: 10m
//	  session_ttl: 8h
//	  clock_skew: 10s                 # 10s to 60s (FAPI 2.0 SP §5.3.2.1)
//	  secret_cache_ttl: 5m            # at most 1h
//	  device_code_ttl: 10m            # 1m to 1h (RFC 8628 device flow)
//	  device_poll_interval: 5s        # 1s to 60s
//	rate_limits:                      # per process; 0 turns a limit off
//	  window: 1m
//	  login_per_ip: 20
//	  token_per_client: 0
//	  token_per_ip: 0
//	  par_per_client: 0
//	  par_per_ip: 0
//	clients:                          # RFC 7591 names, as in clients.Client
//	  - client_id: bank-app
//	    client_name: Bank App
//	    profile: fapi2                # fapi2 | standard
//	    token_endpoint_auth_method: private_key_jwt
//	    jwks: {keys: [{kty: EC, crv: P-256, x: "…", y: "…"}]}   # or jwks_uri
//	    redirect_uris: [https://app.example/cb]
//	    grant_types: [authorization_code, refresh_token, client_credentials]
//	    scopes: [openid, profile, email, accounts]
//	    id_token_signed_response_alg: ES256
//	    access_token_audience: [https://api.example]
//	  - client_id: portal
//	    profile: standard
//	    token_endpoint_auth_method: client_secret_basic
//	    client_secret: "at least 16 characters"
//	    redirect_uris: [https://portal.example/cb]
//	users:                            # any key but username, password, subject is a claim
//	  - {username: alice, password: "…", email: alice@example.com, name: Alice, subject: optional-stable-id}
//
// # Environment
//
// Each scalar key is overridden by BULWARK_ and its upper-cased path with
// '.' as '_': BULWARK_ISSUER, BULWARK_STORAGE_DSN, BULWARK_TLS_CERT_FILE,
// BULWARK_TOKENS_ACCESS_TOKEN_TTL, BULWARK_RATE_LIMITS_LOGIN_PER_IP. The
// lists are replaced whole by a YAML or JSON document:
// BULWARK_CLIENTS='[{"client_id": …}]', BULWARK_USERS. Any other BULWARK_*
// variable is an error (BULWARK_TEST_* is left to the test suite). The set
// of keys is derived from File's yaml tags (Keys), not listed by hand.
//
// This package does not open files named in the configuration (TLS keys,
// the database) and does not look at the network: those fail, with their
// own errors, when the role starts.
package config
