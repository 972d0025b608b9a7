package bench

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"runtime"
	"testing"
	"time"

	"github.com/bulwarkauth/bulwark/internal/jose"
)

// BenchmarkCryptoFloorToken is the signature work one client_credentials +
// private_key_jwt token request cannot avoid: verifying the client's ES256
// assertion and signing the ES256 access token. The token endpoint's
// throughput is judged against this floor.
func BenchmarkCryptoFloorToken(b *testing.B) {
	clientKey, _ := jose.GenerateKey(jose.ES256)
	serverKey, _ := jose.GenerateKey(jose.ES256)
	signer := jose.NewSigner(serverKey)
	keys := jose.NewKeySet(clientKey.Public())
	now := time.Now().Unix()
	assertion, err := jose.SignWithKey(clientKey, "", false, map[string]any{
		"iss": "c", "sub": "c", "aud": "https://issuer.example", "iat": now, "exp": now + 60, "jti": "x",
	})
	if err != nil {
		b.Fatal(err)
	}
	claims := map[string]any{"iss": "https://issuer.example", "sub": "c", "client_id": "c", "exp": now + 300, "iat": now, "jti": "y", "scope": "api"}
	b.ReportAllocs()
	for b.Loop() {
		t, err := jose.Parse(assertion, nil)
		if err != nil {
			b.Fatal(err)
		}
		var c jose.Claims
		if _, err := t.VerifySet(keys, &c); err != nil {
			b.Fatal(err)
		}
		if _, err := signer.Sign(jose.ES256, "at+jwt", claims); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCryptoFloorTokenParallel is the same work on every CPU at
// once, as the server runs under load. ns/op is wall time per request
// across all CPUs; multiply by GOMAXPROCS for CPU time per request, the
// figure compared with the server's CPU time per request.
func BenchmarkCryptoFloorTokenParallel(b *testing.B) {
	clientKey, _ := jose.GenerateKey(jose.ES256)
	serverKey, _ := jose.GenerateKey(jose.ES256)
	signer := jose.NewSigner(serverKey)
	keys := jose.NewKeySet(clientKey.Public())
	now := time.Now().Unix()
	assertion, err := jose.SignWithKey(clientKey, "", false, map[string]any{
		"iss": "c", "sub": "c", "aud": "https://issuer.example", "iat": now, "exp": now + 60, "jti": "x",
	})
	if err != nil {
		b.Fatal(err)
	}
	claims := map[string]any{"iss": "https://issuer.example", "sub": "c", "client_id": "c", "exp": now + 300, "iat": now, "jti": "y", "scope": "api"}
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			t, err := jose.Parse(assertion, nil)
			if err != nil {
				b.Error(err)
				return
			}
			var c jose.Claims
			if _, err := t.VerifySet(keys, &c); err != nil {
				b.Error(err)
				return
			}
			if _, err := signer.Sign(jose.ES256, "at+jwt", claims); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)*float64(runtime.GOMAXPROCS(0))/1000, "cpu-µs/op")
}

// BenchmarkCryptoES256Verify and BenchmarkCryptoES256Sign split the floor.
func BenchmarkCryptoES256Verify(b *testing.B) {
	k, _ := jose.GenerateKey(jose.ES256)
	tok, _ := jose.SignWithKey(k, "", false, map[string]any{"sub": "x"})
	keys := jose.NewKeySet(k.Public())
	b.ReportAllocs()
	for b.Loop() {
		t, _ := jose.Parse(tok, nil)
		var c jose.Claims
		if _, err := t.VerifySet(keys, &c); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCryptoES256Sign(b *testing.B) {
	k, _ := jose.GenerateKey(jose.ES256)
	s := jose.NewSigner(k)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Sign(jose.ES256, "at+jwt", map[string]any{"sub": "x"}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCryptoPrimitivesES256 is the bare arithmetic under the floor:
// one P-256 ECDSA verification and one signature over SHA-256 digests,
// with no JOSE encoding. The gap between it and BenchmarkCryptoFloorToken
// is the cost of JWS parsing and serialisation.
func BenchmarkCryptoPrimitivesES256(b *testing.B) {
	client, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	server, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	digest := sha256.Sum256([]byte("header.payload"))
	sig, _ := ecdsa.SignASN1(rand.Reader, client, digest[:])
	b.ReportAllocs()
	for b.Loop() {
		d := sha256.Sum256([]byte("header.payload"))
		if !ecdsa.VerifyASN1(&client.PublicKey, d[:], sig) {
			b.Fatal("verify failed")
		}
		if _, err := ecdsa.SignASN1(rand.Reader, server, d[:]); err != nil {
			b.Fatal(err)
		}
	}
}
