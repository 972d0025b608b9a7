package main

import (
	"context"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/bulwarkauth/bulwark/internal/dpop"
	"github.com/bulwarkauth/bulwark/internal/jose"
)

// floorCPU measures, in this process and on every CPU at once, the CPU
// time of the signature work a client_credentials + private_key_jwt token
// request cannot avoid: parse and verify one ES256 assertion, with
// withDPoP verify one ES256 DPoP proof (parse, embedded jwk, signature),
// and sign one ES256 access token (bench.BenchmarkCryptoFloorTokenParallel).
// Measured right next to the load, it shares the load's machine
// conditions, so the ratio of the two is stable even where CPU speed is
// not. CPU time is read from /proc, as the server's is, not derived from
// wall time: on a machine shared with other work the floor's threads are
// not running all the time either.
func floorCPU(d time.Duration, withDPoP bool) (time.Duration, error) {
	step, err := floorStep(withDPoP)
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

// floorStep returns one request's floor work. The DPoP proof goes through
// dpop.Verifier, the server's own verifier, with a replay guard that
// records nothing (the replay store is the server's cost, not the
// floor's) and a clock fixed at the proof's iat, so one proof can be
// verified again and again.
func floorStep(withDPoP bool) (func() error, error) {
	clientKey, err := jose.GenerateKey(jose.ES256)
	if err != nil {
		return nil, err
	}
	serverKey, err := jose.GenerateKey(jose.ES256)
	if err != nil {
		return nil, err
	}
	signer := jose.NewSigner(serverKey)
	keys := jose.NewKeySet(clientKey.Public())
	now := time.Now()
	assertion, err := jose.SignWithKey(clientKey, "", false, map[string]any{
		"iss": "c", "sub": "c", "aud": "https://issuer.example", "iat": now.Unix(), "exp": now.Unix() + 60, "jti": "x",
	})
	if err != nil {
		return nil, err
	}
	claims := map[string]any{"iss": "https://issuer.example", "sub": "c", "client_id": "c", "exp": now.Unix() + 300, "iat": now.Unix(), "jti": "y", "scope": "api"}
	var proof string
	verifier := &dpop.Verifier{Replay: noReplay{}, Now: func() time.Time { return now }}
	const tokenURL = "https://issuer.example/token"
	if withDPoP {
		proofKey, err := jose.GenerateKey(jose.ES256)
		if err != nil {
			return nil, err
		}
		if proof, err = dpop.NewProof(proofKey, dpop.ProofParams{Method: "POST", URL: tokenURL, Now: now}); err != nil {
			return nil, err
		}
		claims["cnf"] = map[string]string{"jkt": proofKey.Public().Thumbprint()}
	}
	ctx := context.Background()
	return func() error {
		t, err := jose.Parse(assertion, nil)
		if err != nil {
			return err
		}
		var c jose.Claims
		if _, err := t.VerifySet(keys, &c); err != nil {
			return err
		}
		if withDPoP {
			if _, err := verifier.Verify(ctx, dpop.Request{Proofs: []string{proof}, Method: "POST", URL: tokenURL}); err != nil {
				return err
			}
		}
		_, err = signer.Sign(jose.ES256, "at+jwt", claims)
		return err
	}, nil
}

// noReplay is a dpop.Replay that accepts every key and keeps none.
type noReplay struct{}

func (noReplay) Use(context.Context, string, time.Time) error { return nil }
