// Package memory is an in-process implementation of the store contract.
//
// It backs unit and end-to-end tests and `bulwark serve --dev`: it needs no
// files and no services, and it passes the same conformance suite
// (store/storetest) as the SQLite store, so code tested against it behaves
// the same in production. Its state dies with the process and is not shared
// between processes, so it is not for multi-node or persistent
// deployments.
//
// Each aggregate has its own mutex, so a burst of replay checks does not
// queue behind session writes. Single-use operations check and mark under
// that mutex, which makes them atomic for every caller of the same Store.
// Expiry is lazy: a record past its expiry is treated as missing when it is
// read, and dead records are swept during writes, at a cost amortised to
// O(1) per write, so no background goroutine is needed and memory stays
// bounded by the number of live records.
package memory
