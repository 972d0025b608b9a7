package resource_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/bulwarkauth/bulwark/internal/testenv"
	"github.com/bulwarkauth/bulwark/resource"
)

// TestIntrospectionRevocation uses the real Bulwark server: the resource
// server authenticates with private_key_jwt as ResourceClient, JWTs are
// introspected too (IntrospectJWT), and a revoked token is refused once
// the cache entry expires, not before: CacheTTL bounds revocation
// visibility (RS-3).
func TestIntrospectionRevocation(t *testing.T) {
	env := startEnv(t, false)
	clk := &clock{}
	ct := &countingTransport{base: env.Client(nil).Transport}
	rsKey := env.Keys[testenv.ResourceClient]
	a := newAPI(t, verifier(env, resource.NewMemoryReplayCache(), func(v *resource.Verifier) {
		v.Now, v.HTTPClient = clk.Now, &http.Client{Transport: ct}
		v.Introspection = &resource.Introspection{
			ClientID: testenv.ResourceClient, Signer: rawKey(t, rsKey), KeyID: rsKey.KeyID(),
			IntrospectJWT: true, CacheTTL: 5 * time.Second,
		}
	}), false)
	tok, key := dpopToken(t, env, testenv.FAPIClient, "")
	send := func(tok string) result {
		return a.do(t, nil, http.MethodGet, apiPath, http.Header{
			"Authorization": {"DPoP " + tok}, "Dpop": {proof(t, key, http.MethodGet, apiPath, tok, "")},
		}, nil)
	}

	if r := send(tok); r.status != 200 {
		t.Fatalf("active: %d %v", r.status, r.body)
	}
	if r := send(tok); r.status != 200 {
		t.Fatalf("active, cached: %d %v", r.status, r.body)
	}
	if n := ct.count("/introspect"); n != 1 {
		t.Fatalf("introspection calls = %d, want 1 (cached)", n)
	}

	form := env.AssertionForm(t, testenv.FAPIClient)
	form.Set("token", tok)
	if resp := env.PostForm(t, nil, "/revoke", form, nil, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("revoke: %d", resp.StatusCode)
	}
	// Within the cache bound the old answer may still be used.
	if r := send(tok); r.status != 200 {
		t.Fatalf("revoked, still cached: %d %v", r.status, r.body)
	}
	clk.Advance(6 * time.Second)
	r := send(tok)
	if r.status != 401 || r.body["error"] != "invalid_token" {
		t.Fatalf("revoked after CacheTTL: %d %v", r.status, r.body)
	}
	if n := ct.count("/introspect"); n != 2 {
		t.Errorf("introspection calls = %d, want 2", n)
	}

	t.Run("fail/opaque token unknown to the issuer", func(t *testing.T) {
		if r := send("b3BhcXVlLXRva2Vu"); r.status != 401 || r.body["error"] != "invalid_token" {
			t.Fatalf("%d %v", r.status, r.body)
		}
	})
}

// TestIntrospectionOpaque: opaque tokens through a fake issuer with
// client_secret_basic; the cache never outlives exp; an unreachable or
// failing endpoint fails closed.
func TestIntrospectionOpaque(t *testing.T) {
	f := newFakeAS(t)
	holder, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	jkt := thumbprint(t, holder)
	clk := &clock{}
	var answer map[string]any
	status := http.StatusOK
	f.introspect = func(w http.ResponseWriter, r *http.Request) {
		if id, secret, ok := r.BasicAuth(); !ok || id != "rs" || secret != "s3cret" || r.PostFormValue("token") == "" {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		json.NewEncoder(w).Encode(answer)
	}
	v := &resource.Verifier{
		Issuer: f.srv.URL, Audiences: []string{apiAud}, BaseURL: apiBase, Replay: resource.NewMemoryReplayCache(), Now: clk.Now,
		Introspection: &resource.Introspection{ClientID: "rs", ClientSecret: "s3cret"},
	}
	a := newAPI(t, v, false)
	send := func(tok string) result {
		return a.do(t, nil, http.MethodGet, apiPath, http.Header{
			"Authorization": {"DPoP " + tok}, "Dpop": {proof(t, holder, http.MethodGet, apiPath, tok, "")},
		}, nil)
	}

	answer = map[string]any{"active": true, "iss": f.srv.URL, "aud": []string{apiAud}, "sub": "user", "client_id": "c",
		"scope": "accounts", "exp": clk.Now().Add(3 * time.Second).Unix(), "cnf": map[string]any{"jkt": jkt}}
	if r := send("opaque-1"); r.status != 200 || r.body["binding"] != "dpop" || r.body["sub"] != "user" {
		t.Fatalf("active: %d %v", r.status, r.body)
	}
	send("opaque-1")
	if n := f.introHits.Load(); n != 1 {
		t.Fatalf("calls = %d, want 1", n)
	}
	// The default TTL is 30 s, but exp (plus the 10 s leeway) comes first.
	clk.Advance(15 * time.Second)
	if r := send("opaque-1"); r.status != 401 {
		t.Fatalf("expired: %d %v", r.status, r.body)
	}
	if n := f.introHits.Load(); n != 2 {
		t.Fatalf("calls = %d, want 2 (cache outlived exp)", n)
	}

	tests := []struct {
		name   string
		answer map[string]any
		status int // of the endpoint
		want   int
	}{
		{"fail/inactive", map[string]any{"active": false}, 200, 401},
		{"fail/active not a bool", map[string]any{"active": "true", "aud": apiAud}, 200, 401},
		{"fail/other audience", map[string]any{"active": true, "aud": "https://other.example", "cnf": map[string]any{"jkt": jkt}}, 200, 401},
		{"fail/other issuer", map[string]any{"active": true, "iss": "https://evil.example", "aud": apiAud, "cnf": map[string]any{"jkt": jkt}}, 200, 401},
		{"fail/unbound", map[string]any{"active": true, "aud": apiAud}, 200, 401},
		{"fail/unknown cnf member", map[string]any{"active": true, "aud": apiAud, "cnf": map[string]any{"jwk": map[string]any{}}}, 200, 401},
		{"fail/endpoint error", map[string]any{}, 500, 503},
		{"ok/no iss", map[string]any{"active": true, "aud": apiAud, "cnf": map[string]any{"jkt": jkt}}, 200, 200},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			answer, status = tt.answer, tt.status
			if r := send("opaque-t" + string(rune('a'+i))); r.status != tt.want {
				t.Fatalf("%d %v, want %d", r.status, r.body, tt.want)
			}
		})
	}
}

// TestIntrospectionSigned: RFC 9701 responses are verified (typ, iss,
// aud, signature); anything else is refused.
func TestIntrospectionSigned(t *testing.T) {
	f := newFakeAS(t)
	holder, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	jkt := thumbprint(t, holder)
	rsKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rogue, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	var respond func(w http.ResponseWriter)
	f.introspect = func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Accept") != resource.IntrospectionJWTType || r.PostFormValue("client_assertion") == "" || r.PostFormValue("client_id") != "rs" {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		respond(w)
	}
	signed := func(typ, aud string, key *ecdsa.PrivateKey) func(w http.ResponseWriter) {
		return func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", resource.IntrospectionJWTType)
			w.Write([]byte(sign(t, "ES256", key, map[string]any{"alg": "ES256", "typ": typ, "kid": f.kid}, map[string]any{
				"iss": f.srv.URL, "aud": aud, "iat": time.Now().Unix(),
				"token_introspection": map[string]any{"active": true, "aud": apiAud, "sub": "u", "cnf": map[string]any{"jkt": jkt}},
			})))
		}
	}
	v := &resource.Verifier{
		Issuer: f.srv.URL, Audiences: []string{apiAud}, BaseURL: apiBase, Replay: resource.NewMemoryReplayCache(),
		Introspection: &resource.Introspection{ClientID: "rs", Signer: rsKey, SignedResponse: true, CacheTTL: -1},
	}
	a := newAPI(t, v, false)
	tests := []struct {
		name    string
		respond func(w http.ResponseWriter)
		want    int
	}{
		{"ok/signed", signed("token-introspection+jwt", "rs", f.key), 200},
		{"ok/application typ", signed("application/token-introspection+jwt", "rs", f.key), 200},
		{"fail/wrong aud", signed("token-introspection+jwt", "someone-else", f.key), 503},
		{"fail/wrong typ", signed("JWT", "rs", f.key), 503},
		{"fail/forged signature", signed("token-introspection+jwt", "rs", rogue), 503},
		{"fail/plain JSON", func(w http.ResponseWriter) {
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string]any{"active": true, "aud": apiAud, "cnf": map[string]any{"jkt": jkt}})
		}, 503},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			respond = tt.respond
			r := a.do(t, nil, http.MethodGet, apiPath, http.Header{
				"Authorization": {"DPoP opaque"}, "Dpop": {proof(t, holder, http.MethodGet, apiPath, "opaque", "")},
			}, nil)
			if r.status != tt.want {
				t.Fatalf("%d %v, want %d", r.status, r.body, tt.want)
			}
		})
	}
}
