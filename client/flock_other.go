//go:build !unix

package client

import "context"

// lockFile is a no-op where flock(2) is unavailable: FileCache.Lock then
// serializes only the goroutines of one process (see FileCache).
func lockFile(ctx context.Context, path string) (func(), error) {
	return func() {}, nil
}
