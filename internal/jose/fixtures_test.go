package jose_test

import (
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
	"errors"
	"sync"
	"testing"
	"time"

	gojose "github.com/go-jose/go-jose/v4"

	"github.com/bulwarkauth/bulwark/internal/jose"
)

// errAny in a table's want column means "any error": the case must fail,
// but which sentinel reports it is go-jose's business.
var errAny = errors.New("any error")

// fixture holds raw keys generated once per test binary (RSA generation is
// slow under -race). Tokens in the tables are signed by hand with these
// keys (sign below), not through the package under test, so a test never
// trusts the code it checks to build its own inputs.
type fixture struct {
	rsa, rsa2 *rsa.PrivateKey // 2048 bits
	rsaWeak   *rsa.PrivateKey // 1024 bits
	ec, ec2   *ecdsa.PrivateKey
	ec3       *ecdsa.PrivateKey // in no key set
	ec384     *ecdsa.PrivateKey
	ed, ed2   ed25519.PrivateKey
}

var fixtures = sync.OnceValue(func() *fixture {
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	var f fixture
	var err error
	f.rsa, err = rsa.GenerateKey(rand.Reader, 2048)
	must(err)
	f.rsa2, err = rsa.GenerateKey(rand.Reader, 2048)
	must(err)
	f.rsaWeak, err = rsa.GenerateKey(rand.Reader, 1024)
	must(err)
	f.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(err)
	f.ec2, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(err)
	f.ec3, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(err)
	f.ec384, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	must(err)
	_, f.ed, err = ed25519.GenerateKey(rand.Reader)
	must(err)
	_, f.ed2, err = ed25519.GenerateKey(rand.Reader)
	must(err)
	return &f
})

// testNow is the fixed clock of every table.
var testNow = time.Unix(1_700_000_000, 0)

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func b64Decode(s string) ([]byte, error) { return base64.RawURLEncoding.DecodeString(s) }

// generate returns a fresh server key for alg. PS256 keys are 3072-bit,
// so callers generate them sparingly.
func generate(t testing.TB, alg string) *jose.PrivateKey {
	t.Helper()
	k, err := jose.GenerateKey(alg)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// withKID returns k renamed to kid, through the private JWK round trip an
// operator-supplied key takes.
func withKID(t testing.TB, k *jose.PrivateKey, kid string) *jose.PrivateKey {
	t.Helper()
	b, err := k.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	m["kid"] = kid
	out, err := jose.ParsePrivateJWK(mustJSON(t, m))
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sign signs input with alg ("" leaves the signature empty). It supports
// algorithms Bulwark must refuse, so that refusals are tested with tokens
// whose signatures are genuine.
func sign(t testing.TB, alg string, key any, input []byte) []byte {
	t.Helper()
	sum := sha256.Sum256(input)
	var sig []byte
	var err error
	switch alg {
	case "":
		return nil
	case "HS256":
		m := hmac.New(sha256.New, key.([]byte))
		m.Write(input)
		return m.Sum(nil)
	case "RS256":
		sig, err = rsa.SignPKCS1v15(nil, key.(*rsa.PrivateKey), crypto.SHA256, sum[:])
	case jose.PS256:
		sig, err = rsa.SignPSS(rand.Reader, key.(*rsa.PrivateKey), crypto.SHA256, sum[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	case jose.ES256:
		r, s, e := ecdsa.Sign(rand.Reader, key.(*ecdsa.PrivateKey), sum[:])
		sig, err = make([]byte, 64), e
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
	case jose.EdDSA:
		return ed25519.Sign(key.(ed25519.PrivateKey), input)
	default:
		t.Fatalf("sign: unsupported alg %q", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	return sig
}

// compact builds a compact JWS by hand from header and payload (a []byte is
// used as is, anything else is JSON-encoded), signed with sigAlg and key.
func compact(t testing.TB, header map[string]any, payload any, sigAlg string, key any) string {
	t.Helper()
	p, ok := payload.([]byte)
	if !ok {
		p = mustJSON(t, payload)
	}
	input := b64(mustJSON(t, header)) + "." + b64(p)
	return input + "." + b64(sign(t, sigAlg, key, []byte(input)))
}

// jwkJSON renders key (public or private) as a JWK with go-jose's encoder.
func jwkJSON(t testing.TB, key any, kid, alg string) []byte {
	t.Helper()
	b, err := gojose.JSONWebKey{Key: key, KeyID: kid, Algorithm: alg, Use: "sig"}.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// publicKey parses the public half of key as a *jose.PublicKey.
func publicKey(t testing.TB, key crypto.Signer, kid, alg string) *jose.PublicKey {
	t.Helper()
	pk, err := jose.ParsePublicJWK(jwkJSON(t, key.Public(), kid, alg))
	if err != nil {
		t.Fatal(err)
	}
	return pk
}

// jwks wraps raw JWK documents in a JWKS.
func jwks(keys ...[]byte) []byte {
	raw := make([]json.RawMessage, len(keys))
	for i, k := range keys {
		raw[i] = k
	}
	b, err := json.Marshal(map[string]any{"keys": raw})
	if err != nil {
		panic(err)
	}
	return b
}

// assertionClaims are the claims of a valid client assertion at testNow.
func assertionClaims() map[string]any {
	return map[string]any{
		"iss": "client-1", "sub": "client-1", "aud": "https://as.example",
		"jti": "jti-1", "iat": testNow.Unix(), "exp": testNow.Add(time.Minute).Unix(),
	}
}

// checkErr reports whether err matches want, where nil means success and
// errAny any failure.
func checkErr(t *testing.T, what string, err, want error) {
	t.Helper()
	switch {
	case want == nil && err != nil:
		t.Fatalf("%s: unexpected error %v", what, err)
	case want != nil && err == nil:
		t.Fatalf("%s succeeded, want %v", what, want)
	case want != nil && want != errAny && !errors.Is(err, want):
		t.Fatalf("%s = %v, want %v", what, err, want)
	}
}
