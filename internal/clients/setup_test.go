package clients

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"sync"
	"testing"

	"github.com/bulwarkauth/bulwark/internal/jose"
	"github.com/bulwarkauth/bulwark/internal/oauth"
	"github.com/bulwarkauth/bulwark/internal/secret"
	"github.com/bulwarkauth/bulwark/internal/store"
	"github.com/bulwarkauth/bulwark/internal/store/memory"
	"github.com/bulwarkauth/bulwark/internal/testenv/testclock"
)

const (
	testIssuer   = "https://as.example"
	testTokenURL = testIssuer + "/token"
	testPARURL   = testIssuer + "/par"
	testSecret   = "s3cret-value-0123456789"
	redirectURI  = "https://app.example/cb"
)

// cheapParams keep argon2id fast in tests; Verify reads the parameters
// from the stored hash.
var cheapParams = secret.Params{MemoryKiB: 64, Time: 1, Threads: 1}

// clock is the settable test clock.
type clock = testclock.Clock

func newClock() *clock { return testclock.New() }

// Test keys are generated once: the RSA one is slow.
var (
	keysOnce            sync.Once
	keysErr             error
	esKey, psKey, edKey *jose.PrivateKey
	esKey2              *jose.PrivateKey
	// rsaRaw is registered for fapiClient as a JWK without alg.
	rsaRaw *rsa.PrivateKey
	// rsaWeakJWKS holds a 1024-bit RSA key.
	rsaWeakJWKS string
)

const rsaRawKID = "raw-rsa"

func testKeys(t testing.TB) {
	t.Helper()
	keysOnce.Do(func() {
		if esKey, keysErr = jose.GenerateKey(jose.ES256); keysErr != nil {
			return
		}
		if esKey2, keysErr = jose.GenerateKey(jose.ES256); keysErr != nil {
			return
		}
		if psKey, keysErr = jose.GenerateKey(jose.PS256); keysErr != nil {
			return
		}
		if edKey, keysErr = jose.GenerateKey(jose.EdDSA); keysErr != nil {
			return
		}
		if rsaRaw, keysErr = rsa.GenerateKey(rand.Reader, 2048); keysErr != nil {
			return
		}
		weak, err := rsa.GenerateKey(rand.Reader, 1024)
		if err != nil {
			keysErr = err
			return
		}
		rsaWeakJWKS = `{"keys":[` + rsaJWK(&weak.PublicKey, "weak") + `]}`
	})
	if keysErr != nil {
		t.Fatal(keysErr)
	}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// rsaJWK renders an RSA public key as a JWK without alg, so only the
// server's algorithm rules decide what it may verify.
func rsaJWK(k *rsa.PublicKey, kid string) string {
	b, _ := json.Marshal(map[string]string{
		"kty": "RSA", "kid": kid, "use": "sig",
		"n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes()),
	})
	return string(b)
}

// jwks renders public keys as a JWKS document.
func jwks(t testing.TB, keys ...*jose.PrivateKey) json.RawMessage {
	t.Helper()
	pub := make([]any, len(keys))
	for i, k := range keys {
		pub[i] = k.Public()
	}
	b, err := json.Marshal(map[string]any{"keys": pub})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// signRaw builds a compact JWS by hand for algorithms the jose package
// refuses to produce (RS256, HS256, none), signed with rsaRaw where a key
// is needed.
func signRaw(t testing.TB, alg, kid string, claims any) string {
	t.Helper()
	h, _ := json.Marshal(map[string]string{"alg": alg, "kid": kid})
	p, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	input := b64(h) + "." + b64(p)
	sum := sha256.Sum256([]byte(input))
	var sig []byte
	switch alg {
	case "none":
	case "RS256":
		sig, err = rsa.SignPKCS1v15(rand.Reader, rsaRaw, crypto.SHA256, sum[:])
	case "PS256":
		sig, err = rsa.SignPSS(rand.Reader, rsaRaw, crypto.SHA256, sum[:], &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
	case "HS256":
		sig = sum[:] // any bytes: the algorithm alone must be refused
	default:
		t.Fatalf("signRaw: unsupported alg %s", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + b64(sig)
}

// env is a registry over the memory store with a fixed clock and the test
// clients registered.
type env struct {
	reg   *Registry
	st    *store.Store
	clock *clock
}

// Test client IDs.
const (
	fapiClient   = "fapi"       // fapi2, private_key_jwt, ES256+PS256+EdDSA+raw RSA keys
	stdPKJClient = "std-pkj"    // standard, private_key_jwt, ES256 key
	basicClient  = "basic"      // standard, client_secret_basic
	postClient   = "post"       // standard, client_secret_post
	publicClient = "public"     // standard, none
	otherClient  = "fapi-other" // fapi2, private_key_jwt, esKey2
)

func newEnv(t testing.TB) *env {
	t.Helper()
	testKeys(t)
	st := memory.New()
	clk := newClock()
	e := &env{st: st, clock: clk, reg: &Registry{
		Store: st.Clients, Replay: st.Replay, Secrets: secret.NewVerifier(0, 0, clk.Now),
		Issuer: testIssuer, EndpointURLs: []string{testTokenURL, testPARURL}, Now: clk.Now,
	}}
	fapiKeys := jwks(t, esKey, psKey, edKey)
	// Add the hand-made RSA key (no alg) so RS256 and PS256 signatures by
	// the same key can be compared.
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(fapiKeys, &doc); err != nil {
		t.Fatal(err)
	}
	doc.Keys = append(doc.Keys, json.RawMessage(rsaJWK(&rsaRaw.PublicKey, rsaRawKID)))
	fapiKeys, _ = json.Marshal(doc)

	reg := func(c Client, sec string) {
		t.Helper()
		if err := e.reg.Register(context.Background(), &c, sec, cheapParams); err != nil {
			t.Fatalf("register %s: %v", c.ID, err)
		}
	}
	reg(Client{ID: fapiClient, ProfileName: ProfileFAPI2, AuthMethod: oauth.AuthPrivateKeyJWT, JWKS: fapiKeys, RedirectURIs: []string{redirectURI}}, "")
	reg(Client{ID: otherClient, ProfileName: ProfileFAPI2, AuthMethod: oauth.AuthPrivateKeyJWT, JWKS: jwks(t, esKey2), RedirectURIs: []string{redirectURI}}, "")
	reg(Client{ID: stdPKJClient, ProfileName: ProfileStandard, AuthMethod: oauth.AuthPrivateKeyJWT, JWKS: jwks(t, esKey), RedirectURIs: []string{redirectURI}}, "")
	reg(Client{ID: basicClient, AuthMethod: oauth.AuthClientSecretBasic, RedirectURIs: []string{redirectURI}}, testSecret)
	reg(Client{ID: postClient, AuthMethod: oauth.AuthClientSecretPost, RedirectURIs: []string{redirectURI}}, testSecret)
	reg(Client{ID: publicClient, AuthMethod: oauth.AuthNone, RedirectURIs: []string{"http://127.0.0.1/cb"}}, "")
	return e
}

// claims returns valid assertion claims for client at the env's clock.
func (e *env) claims(client string) map[string]any {
	now := e.clock.Now().Unix()
	return map[string]any{
		"iss": client, "sub": client, "aud": testIssuer,
		"iat": now, "exp": now + 60, "jti": randomID(),
	}
}

// assertion signs claims for client with k after mutate.
func (e *env) assertion(t testing.TB, k *jose.PrivateKey, client string, mutate func(map[string]any)) string {
	t.Helper()
	c := e.claims(client)
	if mutate != nil {
		mutate(c)
	}
	s, err := jose.SignWithKey(k, "", false, c)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func pkjCreds(clientID, assertion string) Credentials {
	return Credentials{ClientID: clientID, AssertionType: oauth.ClientAssertionTypeJWT, Assertion: assertion}
}

func randomID() string {
	var b [16]byte
	rand.Read(b[:])
	return b64(b[:])
}

// errCode returns the OAuth error code of err, or "" for nil.
func errCode(t testing.TB, err error) string {
	t.Helper()
	if err == nil {
		return ""
	}
	oe, ok := oauth.As(err)
	if !ok {
		t.Fatalf("error is not an *oauth.Error: %v", err)
	}
	return oe.Code
}
