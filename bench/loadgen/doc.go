// Command loadgen drives an OAuth 2.0 server from a separate process and
// reports throughput, latency and, given the server's PID, the server's
// CPU time per request.
//
// In token mode it sends client_credentials + private_key_jwt requests;
// it pre-signs one assertion per request (each jti is single-use) before
// the timed phase, so the measurement covers the server, not the
// generator's signing. It works against any server that accepts ES256
// client assertions, which is how Bulwark and other providers are
// compared with the same tool on the same machine. In flow mode it runs
// the FAPI 2.0 code flow (PAR → authorize → token) for a signed-in user.
//
//	loadgen -init ./keys
//	loadgen -issuer http://127.0.0.1:8080 -client bench -key keys/key.jwk -n 20000 -c 32
//	loadgen -mode flow -issuer http://127.0.0.1:8080 -client bench -key keys/key.jwk \
//	        -scope "openid accounts" -password secret -n 5000
package main
