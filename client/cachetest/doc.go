// Package cachetest is the conformance suite for implementations of
// client.Cache, client.Locker and client.ExpiringCache: the memory and file
// caches of package client run it, and so does every cache kept elsewhere
// (Bulwark's Redis cache), so one set of tests states the contract. Call
// Run from a test:
//
//	func TestMyCache(t *testing.T) {
//		cachetest.Run(t, func(t *testing.T) func() client.Cache {
//			backing := newEmptyBackingStore(t)
//			return func() client.Cache { return openHandle(backing) }
//		})
//	}
//
// It is for _test.go files only.
package cachetest
