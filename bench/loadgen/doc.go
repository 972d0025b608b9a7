// Command loadgen drives an OAuth 2.0 token endpoint with
// client_credentials + private_key_jwt requests and reports throughput and
// latency. It pre-signs one assertion per request (each jti is single-use)
// before the timed phase, so the measurement covers the server, not the
// generator's signing. It works against any server that accepts ES256
// client assertions, which is how Bulwark and other providers are compared
// with the same tool on the same machine.
//
//	loadgen -token http://127.0.0.1:8080/token -aud http://127.0.0.1:8080 \
//	        -client bench -key key.json -n 20000 -c 32
package main
