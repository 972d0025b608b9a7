package resource_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwarkauth/bulwark/resource"
)

// TestVerifiedTokenCache: a token whose signature was verified is not
// verified again while the key set that verified it is current, but the
// cache never outlives that key set, the token's exp, or the other
// checks: a key the issuer withdrew stops working at the next JWKS fetch,
// and binding, proof and expiry are checked on every request.
func TestVerifiedTokenCache(t *testing.T) {
	var key atomic.Pointer[ecdsa.PrivateKey]
	var kid atomic.Value
	k1, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	key.Store(k1)
	kid.Store("k1")
	var jwksHits atomic.Int32
	var srv *httptest.Server
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{"issuer": srv.URL, "jwks_uri": srv.URL + "/jwks"})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		jwksHits.Add(1)
		jwk := jwkOf(key.Load())
		jwk["kid"], jwk["alg"], jwk["use"] = kid.Load(), "ES256", "sig"
		json.NewEncoder(w).Encode(map[string]any{"keys": []any{jwk}})
	})
	srv = httptest.NewServer(mux)
	t.Cleanup(srv.Close)

	clk := &clock{}
	v := &resource.Verifier{Issuer: srv.URL, Audiences: []string{apiAud}, BaseURL: apiBase, Replay: resource.NewMemoryReplayCache(), Now: clk.Now}
	holder, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	token := func(exp time.Duration) string {
		now := clk.Now()
		return sign(t, "ES256", key.Load(), map[string]any{"alg": "ES256", "typ": "at+jwt", "kid": kid.Load()}, map[string]any{
			"iss": srv.URL, "sub": "user", "aud": apiAud, "client_id": "c", "jti": randomID(),
			"iat": now.Unix(), "exp": now.Add(exp).Unix(), "scope": "accounts",
			"cnf": map[string]any{"jkt": thumbprint(t, holder)},
		})
	}
	check := func(tok string, prover *ecdsa.PrivateKey) error {
		r := httptest.NewRequest(http.MethodGet, apiPath, nil)
		r.Header.Set("Authorization", "DPoP "+tok)
		r.Header.Set("DPoP", proofAt(t, prover, tok, clk.Now()))
		got, err := v.Check(r)
		if err == nil {
			// The claims are the request's own copy.
			got.Claims["sub"] = "changed by a handler"
		}
		return err
	}
	wantCode := func(err error, code string) {
		t.Helper()
		e, ok := err.(*resource.Error)
		if !ok || e.Code != code {
			t.Fatalf("error %v, want %s", err, code)
		}
	}

	tok := token(5 * time.Minute)
	for i := range 3 {
		if err := check(tok, holder); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	// A cached token is still bound: another key's proof is refused.
	wantCode(check(tok, other), resource.CodeInvalidDPoPProof)
	// A tampered copy is a different token: verified, and refused.
	tampered := tok[:len(tok)-2] + map[bool]string{true: "AA", false: "BB"}[tok[len(tok)-2:] != "AA"]
	wantCode(check(tampered, holder), resource.CodeInvalidToken)

	// The issuer replaces k1 with k2. Until the verifier fetches the key
	// set again, k1 is still trusted, cached or not (JWKSMaxAge). A token
	// naming k2 makes it fetch; from then on the k1 token is verified
	// against the new set, not served from the cache, and refused.
	k2, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	key.Store(k2)
	kid.Store("k2")
	if err := check(tok, holder); err != nil {
		t.Fatalf("before the key set is fetched again: %v", err)
	}
	clk.Advance(resource.DefaultJWKSRefreshInterval + time.Second)
	hits := jwksHits.Load()
	if err := check(token(5*time.Minute), holder); err != nil {
		t.Fatalf("token of the new key: %v", err)
	}
	if jwksHits.Load() == hits {
		t.Fatal("no JWKS fetch for the new kid")
	}
	wantCode(check(tok, holder), resource.CodeInvalidToken)

	// Past JWKSMaxAge nothing cached is used without a fetch.
	fresh := token(2 * time.Hour)
	if err := check(fresh, holder); err != nil {
		t.Fatal(err)
	}
	hits = jwksHits.Load()
	clk.Advance(resource.DefaultJWKSMaxAge + time.Second)
	kid.Store("k3")
	k3, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	key.Store(k3)
	wantCode(check(fresh, holder), resource.CodeInvalidToken)
	if jwksHits.Load() == hits {
		t.Fatal("no JWKS fetch after JWKSMaxAge")
	}

	// Expiry is checked on every request, cached or not.
	short := token(30 * time.Second)
	if err := check(short, holder); err != nil {
		t.Fatal(err)
	}
	clk.Advance(30*time.Second + resource.DefaultLeeway + time.Second)
	wantCode(check(short, holder), resource.CodeInvalidToken)
}

// proofAt is a GET proof for apiPath made at now (the test clock's time).
func proofAt(t testing.TB, key *ecdsa.PrivateKey, token string, now time.Time) string {
	t.Helper()
	h, c := proofParts(key, http.MethodGet, apiBase+apiPath, token)
	c["iat"] = now.Unix()
	return sign(t, "ES256", key, h, c)
}
