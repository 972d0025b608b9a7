// Command upstream is the API behind the gateway in bench/gateway.sh: it
// answers every request with 200 and a small JSON body, so a run measures
// the gateway, not the API. -delay makes each answer wait, as an API
// waits for its database, without using CPU.
//
//	upstream -listen 127.0.0.1:19000 [-delay 2ms]
package main
