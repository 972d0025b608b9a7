package dpop_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"sync"
	"time"

	"github.com/bulwarkauth/bulwark/internal/dpop"
)

// memReplay is an in-memory dpop.Replay: a map under a mutex. It is a real
// implementation of the package's one-method interface, not a mock.
type memReplay struct {
	mu   sync.Mutex
	seen map[string]time.Time // guarded by mu
	// err, when set, is returned by every Use (a store outage).
	err error
	// replayedErr is what Use returns for a key already seen; nil means
	// dpop.ErrReplayed.
	replayedErr error
	// last records the arguments of the last successful Use.
	lastKey string
	lastExp time.Time
}

func newMemReplay() *memReplay { return &memReplay{seen: map[string]time.Time{}} }

func (m *memReplay) Use(_ context.Context, key string, exp time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return m.err
	}
	if _, ok := m.seen[key]; ok {
		if m.replayedErr != nil {
			return fmt.Errorf("store: use %s: %w", key, m.replayedErr)
		}
		return dpop.ErrReplayed
	}
	m.seen[key] = exp
	m.lastKey, m.lastExp = key, exp
	return nil
}

// keys are raw keys made once per test binary (RSA generation is slow
// under -race). Proofs in the tables are signed by hand with them (sign
// below), so the tests do not trust the code under test to build the
// inputs that check it.
type keys struct {
	ec, ec2 *ecdsa.PrivateKey
	ed      ed25519.PrivateKey
	rsa     *rsa.PrivateKey // 2048 bits
	rsaWeak *rsa.PrivateKey // 1024 bits
}

var testKeys = sync.OnceValue(func() *keys {
	var k keys
	var err error
	check := func() {
		if err != nil {
			panic(err)
		}
	}
	k.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	check()
	k.ec2, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	check()
	_, k.ed, err = ed25519.GenerateKey(rand.Reader)
	check()
	k.rsa, err = rsa.GenerateKey(rand.Reader, 2048)
	check()
	k.rsaWeak, err = rsa.GenerateKey(rand.Reader, 1024)
	check()
	return &k
})

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// jwkOf renders the public JWK of a raw key as a JSON object.
func jwkOf(key crypto.Signer) map[string]any {
	switch pk := key.Public().(type) {
	case *ecdsa.PublicKey:
		x, y := make([]byte, 32), make([]byte, 32)
		pk.X.FillBytes(x)
		pk.Y.FillBytes(y)
		return map[string]any{"kty": "EC", "crv": "P-256", "x": b64(x), "y": b64(y)}
	case ed25519.PublicKey:
		return map[string]any{"kty": "OKP", "crv": "Ed25519", "x": b64(pk)}
	case *rsa.PublicKey:
		return map[string]any{"kty": "RSA", "n": b64(pk.N.Bytes()), "e": b64(big.NewInt(int64(pk.E)).Bytes())}
	}
	panic(fmt.Sprintf("jwkOf: %T", key))
}

// sign serialises header and claims and signs them as alg with key. alg
// may disagree with the header's alg, which is how the tables forge
// mismatches.
func sign(alg string, key crypto.Signer, header, claims map[string]any) string {
	hb, err := json.Marshal(header)
	if err != nil {
		panic(err)
	}
	cb, err := json.Marshal(claims)
	if err != nil {
		panic(err)
	}
	input := b64(hb) + "." + b64(cb)
	digest := sha256.Sum256([]byte(input))
	var sig []byte
	switch alg {
	case "ES256":
		r, s, err := ecdsa.Sign(rand.Reader, key.(*ecdsa.PrivateKey), digest[:])
		if err != nil {
			panic(err)
		}
		sig = make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
	case "EdDSA":
		sig = ed25519.Sign(key.(ed25519.PrivateKey), []byte(input))
	case "PS256":
		sig, err = rsa.SignPSS(rand.Reader, key.(*rsa.PrivateKey), crypto.SHA256, digest[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	case "RS256":
		sig, err = rsa.SignPKCS1v15(rand.Reader, key.(*rsa.PrivateKey), crypto.SHA256, digest[:])
	case "HS256":
		// The attack of RFC 8725 §2.1: the "secret" is the public key.
		m := hmac.New(sha256.New, []byte(fmt.Sprint(header["jwk"])))
		m.Write([]byte(input))
		sig = m.Sum(nil)
	case "none":
	default:
		panic("sign: " + alg)
	}
	if err != nil {
		panic(err)
	}
	return input + "." + b64(sig)
}

// errReader fails every read, to simulate a broken randomness source.
type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, fmt.Errorf("no entropy") }
