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

	"github.com/bulwarkauth/bulwark/internal/jose"
	"github.com/bulwarkauth/bulwark/internal/testenv"
	"github.com/bulwarkauth/bulwark/resource"
)

// fakeAS is a minimal authorization server for the cases the real one
// cannot produce: a lying issuer, OIDC-only discovery, opaque tokens and
// RFC 9701 signed introspection responses.
type fakeAS struct {
	srv        *httptest.Server
	key        *ecdsa.PrivateKey
	kid        string
	issuer     string // metadata issuer; "" means srv.URL
	oidcOnly   bool   // no RFC 8414 document
	introspect http.HandlerFunc
	jwksHits   atomic.Int32
	introHits  atomic.Int32
}

func newFakeAS(t testing.TB) *fakeAS {
	t.Helper()
	f := &fakeAS{kid: "k1"}
	f.key, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	md := func(w http.ResponseWriter) {
		iss := f.issuer
		if iss == "" {
			iss = f.srv.URL
		}
		json.NewEncoder(w).Encode(map[string]string{
			"issuer": iss, "jwks_uri": f.srv.URL + "/jwks", "introspection_endpoint": f.srv.URL + "/introspect",
		})
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/oauth-authorization-server", func(w http.ResponseWriter, r *http.Request) {
		if f.oidcOnly {
			http.NotFound(w, r)
			return
		}
		md(w)
	})
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) { md(w) })
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		f.jwksHits.Add(1)
		jwk := jwkOf(f.key)
		jwk["kid"], jwk["alg"], jwk["use"] = f.kid, "ES256", "sig"
		json.NewEncoder(w).Encode(map[string]any{"keys": []any{jwk}})
	})
	mux.HandleFunc("POST /introspect", func(w http.ResponseWriter, r *http.Request) {
		f.introHits.Add(1)
		f.introspect(w, r)
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

// accessToken signs an RFC 9068 access token with the fake's key; mutate
// may change the claims.
func (f *fakeAS) accessToken(t testing.TB, jkt string, mutate func(map[string]any)) string {
	t.Helper()
	now := time.Now()
	c := map[string]any{
		"iss": f.srv.URL, "sub": "user", "aud": apiAud, "client_id": "c", "jti": randomID(),
		"iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(), "scope": "accounts",
		"cnf": map[string]any{"jkt": jkt},
	}
	if mutate != nil {
		mutate(c)
	}
	return sign(t, "ES256", f.key, map[string]any{"alg": "ES256", "typ": "at+jwt", "kid": f.kid}, c)
}

func thumbprint(t testing.TB, key *ecdsa.PrivateKey) string {
	t.Helper()
	b, _ := json.Marshal(jwkOf(key))
	pk, err := jose.ParsePublicJWK(b)
	if err != nil {
		t.Fatal(err)
	}
	return pk.Thumbprint()
}

// TestUnknownKID: a token naming a key the cached JWKS lacks causes one
// refetch, then refusal; further unknown kids within the refresh interval
// cause no fetch at all.
func TestUnknownKID(t *testing.T) {
	env := startEnv(t, false)
	clk := &clock{}
	ct := &countingTransport{base: env.Client(nil).Transport}
	a := newAPI(t, verifier(env, resource.NewMemoryReplayCache(), func(v *resource.Verifier) {
		v.Now, v.HTTPClient = clk.Now, &http.Client{Transport: ct}
	}), false)
	tok, key := dpopToken(t, env, testenv.FAPIClient, "")
	send := func(tok string) result {
		return a.do(t, nil, http.MethodGet, apiPath, http.Header{
			"Authorization": {"DPoP " + tok}, "Dpop": {proof(t, key, http.MethodGet, apiPath, tok, "")},
		}, nil)
	}
	rogue, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	forged := sign(t, "ES256", rogue, map[string]any{"alg": "ES256", "typ": "at+jwt", "kid": "rotated"}, map[string]any{
		"iss": env.URL, "aud": apiAud, "sub": "x", "exp": time.Now().Add(time.Hour).Unix(), "cnf": map[string]any{"jkt": thumbprint(t, key)},
	})

	if r := send(tok); r.status != 200 {
		t.Fatalf("valid: %d %v", r.status, r.body)
	}
	if n := ct.count("/jwks"); n != 1 {
		t.Fatalf("JWKS fetches after first request = %d, want 1", n)
	}
	clk.Advance(11 * time.Second)
	if r := send(forged); r.status != 401 || r.body["error"] != "invalid_token" {
		t.Fatalf("unknown kid: %d %v", r.status, r.body)
	}
	if n := ct.count("/jwks"); n != 2 {
		t.Fatalf("JWKS fetches after unknown kid = %d, want 2", n)
	}
	for range 5 {
		if r := send(forged); r.status != 401 {
			t.Fatalf("unknown kid again: %d %v", r.status, r.body)
		}
	}
	if n := ct.count("/jwks"); n != 2 {
		t.Fatalf("JWKS fetches within the interval = %d, want 2", n)
	}
	if r := send(tok); r.status != 200 {
		t.Fatalf("valid after: %d %v", r.status, r.body)
	}
	clk.Advance(11 * time.Second)
	send(forged)
	if n := ct.count("/jwks"); n != 3 {
		t.Fatalf("JWKS fetches after the interval = %d, want 3", n)
	}
	if n := ct.count("/.well-known/oauth-authorization-server"); n != 1 {
		t.Errorf("metadata fetches = %d, want 1", n)
	}
}

// TestDiscovery: metadata naming another issuer is never used (RFC 8414
// §3.3), and OpenID Connect Discovery is the fallback.
func TestDiscovery(t *testing.T) {
	holder, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	check := func(t *testing.T, f *fakeAS) (*resource.Token, error) {
		v := &resource.Verifier{Issuer: f.srv.URL, Audiences: []string{apiAud}, BaseURL: apiBase, Replay: resource.NewMemoryReplayCache()}
		tok := f.accessToken(t, thumbprint(t, holder), nil)
		r := httptest.NewRequest(http.MethodGet, apiPath, nil)
		r.Header.Set("Authorization", "DPoP "+tok)
		r.Header.Set("DPoP", proof(t, holder, http.MethodGet, apiPath, tok, ""))
		return v.Check(r)
	}
	t.Run("fail/issuer mismatch", func(t *testing.T) {
		f := newFakeAS(t)
		f.issuer = "https://evil.example"
		_, err := check(t, f)
		e, ok := err.(*resource.Error)
		if !ok || e.Status != 503 || e.Code != resource.CodeTemporarilyUnavailable {
			t.Fatalf("Check error = %v", err)
		}
		if f.jwksHits.Load() != 0 {
			t.Errorf("JWKS of a mismatched issuer fetched")
		}
	})
	t.Run("ok/OIDC discovery fallback", func(t *testing.T) {
		f := newFakeAS(t)
		f.oidcOnly = true
		tok, err := check(t, f)
		if err != nil || tok.Subject != "user" || tok.Binding != resource.BindingDPoP || !tok.HasScope("accounts") {
			t.Fatalf("Check = %+v, %v", tok, err)
		}
	})
}
