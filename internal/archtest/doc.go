// Package archtest holds tests that enforce Bulwark's architecture: the
// import levels of DESIGN.md (imports point downward only; domain packages
// never import each other; go-jose only in internal/jose, drivers only in
// their store package, cobra only in cmd/bulwark, the YAML library only in
// config, testing helpers never in production code), and a doc comment on
// every package. It has no non-test code.
package archtest
