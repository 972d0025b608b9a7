// Command loadgen drives an OAuth 2.0 server from a separate process and
// reports throughput, latency and, given the server's PID, the server's
// CPU time per request.
//
// In token mode it sends client_credentials + private_key_jwt requests,
// each with a DPoP proof (RFC 9449, ES256, a key made at start) unless
// -dpop=false, and checks that the answer has token_type DPoP. In flow
// mode it runs the FAPI 2.0 code flow (PAR → authorize → token) for a
// signed-in user, with a DPoP proof on the token request. It works against
// any server that accepts ES256 client assertions, which is how Bulwark
// and other providers are compared with the same tool on the same machine.
//
// Assertions and proofs are single-use, so one of each is signed per
// request, on every CPU, before the clock starts: the measurement covers
// the server, not the generator's signing. A proof is accepted only within
// a short window of its iat (60 s at Bulwark), so a long run is cut into
// rounds of about -round (20 s) at the warm-up rate: each round is signed,
// then sent while the clock and the server's CPU time run; the pauses for
// signing are left out of both.
//
//	loadgen -init ./keys
//	loadgen -issuer http://127.0.0.1:8080 -client bench -key keys/key.jwk -n 20000 -c 32
//	loadgen -mode flow -issuer http://127.0.0.1:8080 -client bench -key keys/key.jwk \
//	        -scope "openid accounts" -password secret -n 5000
package main
