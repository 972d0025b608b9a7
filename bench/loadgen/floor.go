package main

import (
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bulwarkauth/bulwark/bench/floor"
)

// floorCPU measures, in this process and on every CPU at once, the CPU
// time of the signature work a client_credentials + private_key_jwt token
// request cannot avoid: parse and verify one ES256 assertion, with
// withDPoP verify one ES256 DPoP proof (parse, embedded jwk, signature),
// and sign one ES256 access token (package bench/floor; bench.BenchmarkCryptoFloorTokenParallel).
// Measured right next to the load, it shares the load's machine
// conditions, so the ratio of the two is stable even where CPU speed is
// not. CPU time is read from /proc, as the server's is, not derived from
// wall time: on a machine shared with other work the floor's threads are
// not running all the time either.
//
// In resource mode the floor is a resource server's: verify one ES256 JWT
// access token and one DPoP proof with ath (resourceFloorStep).
func floorCPU(d time.Duration, mode string, withDPoP bool) (time.Duration, error) {
	step, err := floor.Token(withDPoP)
	if mode == "resource" {
		step, err = floor.Resource()
	}
	if err != nil {
		return 0, err
	}
	var ops atomic.Int64
	var failed atomic.Value
	procs := runtime.GOMAXPROCS(0)
	deadline := time.Now().Add(d)
	cpu0, err := cpuTime(os.Getpid())
	if err != nil {
		return 0, err
	}
	var wg sync.WaitGroup
	for range procs {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				if err := step(); err != nil {
					failed.Store(err)
					return
				}
				ops.Add(1)
			}
		})
	}
	wg.Wait()
	if err, ok := failed.Load().(error); ok {
		return 0, err
	}
	cpu1, err := cpuTime(os.Getpid())
	if err != nil {
		return 0, err
	}
	return (cpu1 - cpu0) / time.Duration(max(ops.Load(), 1)), nil
}
