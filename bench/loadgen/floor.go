package main

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bulwarkauth/bulwark/internal/jose"
)

// floorCPU measures, in this process and on every CPU at once, the CPU
// time of the signature work a client_credentials + private_key_jwt token
// request cannot avoid: parse and verify one ES256 assertion, sign one
// ES256 access token (bench.BenchmarkCryptoFloorTokenParallel). Measured
// right next to the load, it shares the load's machine conditions, so
// the ratio of the two is stable even where CPU speed is not.
func floorCPU(d time.Duration) (time.Duration, error) {
	clientKey, err := jose.GenerateKey(jose.ES256)
	if err != nil {
		return 0, err
	}
	serverKey, err := jose.GenerateKey(jose.ES256)
	if err != nil {
		return 0, err
	}
	signer := jose.NewSigner(serverKey)
	keys := jose.NewKeySet(clientKey.Public())
	now := time.Now().Unix()
	assertion, err := jose.SignWithKey(clientKey, "", false, map[string]any{
		"iss": "c", "sub": "c", "aud": "https://issuer.example", "iat": now, "exp": now + 60, "jti": "x",
	})
	if err != nil {
		return 0, err
	}
	claims := map[string]any{"iss": "https://issuer.example", "sub": "c", "client_id": "c", "exp": now + 300, "iat": now, "jti": "y", "scope": "api"}
	var ops atomic.Int64
	var failed atomic.Value
	procs := runtime.GOMAXPROCS(0)
	deadline := time.Now().Add(d)
	start := time.Now()
	var wg sync.WaitGroup
	for range procs {
		wg.Go(func() {
			for time.Now().Before(deadline) {
				t, err := jose.Parse(assertion, nil)
				if err == nil {
					var c jose.Claims
					_, err = t.VerifySet(keys, &c)
				}
				if err == nil {
					_, err = signer.Sign(jose.ES256, "at+jwt", claims)
				}
				if err != nil {
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
	return time.Since(start) * time.Duration(procs) / time.Duration(max(ops.Load(), 1)), nil
}
