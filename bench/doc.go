// Package bench holds Bulwark's benchmarks: Go benchmarks of the token
// endpoint and the full PAR → authorize → token flow run against the real
// server over loopback HTTP, the cryptographic floor of the same requests,
// and (in loadgen) a load generator that drives any OAuth server's token
// endpoint the same way so that Bulwark and other servers are measured
// with one tool. bulwark.sh runs Bulwark under loadgen; compare.sh runs
// Bulwark and panva's oidc-provider (oidc-provider/server.mjs) in turn
// under the same load. Results are recorded in docs/benchmarks.md.
package bench
