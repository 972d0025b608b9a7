package dpop_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/sha256"
	"strconv"
	"testing"

	"github.com/bulwarkauth/bulwark/internal/dpop"
)

// BenchmarkVerify is a full Verify of an ES256 proof at the token
// endpoint, with an in-memory replay guard. Each iteration needs a fresh
// proof (the jti is single-use), so they are signed before the clock
// starts.
func BenchmarkVerify(b *testing.B) {
	proofs := make([]string, b.N)
	for i := range proofs {
		s := defaultSpec()
		s.claims["jti"] = "bench-" + strconv.Itoa(i)
		proofs[i] = s.build()
	}
	v := newVerifier(newMemReplay())
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		_, err := v.Verify(ctx, dpop.Request{Proofs: proofs[i : i+1], Method: "POST", URL: tokenURL})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRawES256Verify is the physical floor under BenchmarkVerify:
// one P-256 verification of a 32-byte hash, with no parsing at all.
func BenchmarkRawES256Verify(b *testing.B) {
	k := testKeys().ec
	h := sha256.Sum256([]byte("signing input"))
	sig, err := ecdsa.SignASN1(rand.Reader, k, h[:])
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if !ecdsa.VerifyASN1(&k.PublicKey, h[:], sig) {
			b.Fatal("verify failed")
		}
	}
}
