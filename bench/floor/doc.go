// Package floor is the cryptographic floor of Bulwark's requests: the
// signature work a request cannot avoid, done with the server's own code
// paths and nothing else. bench/loadgen measures it beside a load run and
// the Go benchmarks in bench/ on their own; each figure in
// docs/benchmarks.md is read against it.
package floor
