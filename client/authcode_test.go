package client_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/bulwarkauth/bulwark/client"
	"github.com/bulwarkauth/bulwark/internal/jose"
	"github.com/bulwarkauth/bulwark/internal/testenv"
)

// fapiConfig is a Config for the fapi2 private_key_jwt client.
func fapiConfig(t *testing.T, env *testenv.Env) *client.Config {
	t.Helper()
	hc, _ := httpClient(env)
	return &client.Config{Issuer: env.URL, ClientID: testenv.FAPIClient, Key: signerOf(t, env.Keys[testenv.FAPIClient]),
		HTTPClient: hc, Scopes: []string{"openid", "profile"}}
}

// TestStartAuth checks the front-channel request with and without PAR
// (CL-AC-1..4, CL-AC-6).
func TestStartAuth(t *testing.T) {
	env := start(t, testenv.Options{})
	ctx := context.Background()
	t.Run("ok/PAR: only client_id and request_uri, fresh secrets", func(t *testing.T) {
		cfg := fapiConfig(t, env)
		a, err := cfg.StartAuth(ctx, client.AuthOptions{RedirectURI: testenv.RedirectURI, RequirePAR: true})
		if err != nil {
			t.Fatal(err)
		}
		b, err := cfg.StartAuth(ctx, client.AuthOptions{RedirectURI: testenv.RedirectURI})
		if err != nil {
			t.Fatal(err)
		}
		u, _ := url.Parse(a.URL)
		if q := u.Query(); len(q) != 2 || q.Get("client_id") != testenv.FAPIClient || q.Get("request_uri") == "" || !a.PAR {
			t.Errorf("authorization URL %s", a.URL)
		}
		if a.Verifier == b.Verifier || a.State == b.State || a.Nonce == b.Nonce || a.Nonce == "" || len(a.Nonce) > 64 {
			t.Errorf("two logins share secrets or the nonce is off: %+v %+v", a, b)
		}
	})
	t.Run("fail/PAR required but not offered", func(t *testing.T) {
		cfg := fapiConfig(t, env)
		md, err := cfg.Discover(ctx)
		if err != nil {
			t.Fatal(err)
		}
		noPAR := *md
		noPAR.PushedAuthorizationRequestEndpoint = ""
		cfg2 := fapiConfig(t, env)
		cfg2.Metadata = &noPAR
		if _, err := cfg2.StartAuth(ctx, client.AuthOptions{RedirectURI: testenv.RedirectURI, RequirePAR: true}); !errors.Is(err, client.ErrNotSupported) {
			t.Errorf("StartAuth = %v, want ErrNotSupported", err)
		}
		ar, err := cfg2.StartAuth(ctx, client.AuthOptions{RedirectURI: testenv.RedirectURI})
		if err != nil {
			t.Fatal(err)
		}
		q, _ := url.ParseQuery(ar.URL[len(md.AuthorizationEndpoint)+1:])
		if ar.PAR || q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("state") != ar.State ||
			q.Get("nonce") != ar.Nonce || q.Get("dpop_jkt") == "" || q.Get("redirect_uri") != testenv.RedirectURI {
			t.Errorf("authorization URL without PAR: %s", ar.URL)
		}
	})
	t.Run("fail/FinishAuth checks before redeeming", func(t *testing.T) {
		cfg := fapiConfig(t, env)
		ar, err := cfg.StartAuth(ctx, client.AuthOptions{RedirectURI: testenv.RedirectURI})
		if err != nil {
			t.Fatal(err)
		}
		before := tokenRequests(t, env)
		for name, q := range map[string]url.Values{
			"wrong iss":   {"code": {"c"}, "state": {ar.State}, "iss": {"https://evil.example"}},
			"missing iss": {"code": {"c"}, "state": {ar.State}},
			"wrong state": {"code": {"c"}, "state": {"x"}, "iss": {env.Issuer}},
			"two iss":     {"code": {"c"}, "state": {ar.State}, "iss": {env.Issuer, env.Issuer}},
			"error":       {"error": {"access_denied"}, "state": {ar.State}, "iss": {env.Issuer}},
		} {
			if _, _, err := cfg.FinishAuth(ctx, ar, q); !errors.Is(err, client.ErrAuthorizationResponse) && !errors.Is(err, client.ErrAccessDenied) {
				t.Errorf("%s: %v", name, err)
			}
		}
		if after := tokenRequests(t, env); after != before {
			t.Errorf("%d token requests for rejected responses", after-before)
		}
	})
}

// TestVerifyIDToken signs ID tokens with the AS's own key and breaks one
// rule of OIDC Core §3.1.3.7 at a time.
func TestVerifyIDToken(t *testing.T) {
	env := start(t, testenv.Options{})
	ctx := context.Background()
	cfg := fapiConfig(t, env)
	var key *jose.PrivateKey
	keys, err := env.Store.Keys.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if k.Algorithm == jose.ES256 {
			if key, err = jose.ParsePrivateJWK(k.Private); err != nil {
				t.Fatal(err)
			}
		}
	}
	other, _ := jose.GenerateKey(jose.ES256)
	now := time.Now().Unix()
	claims := func(mutate func(map[string]any)) map[string]any {
		c := map[string]any{"iss": env.Issuer, "aud": testenv.FAPIClient, "sub": "alice", "iat": now, "exp": now + 300, "nonce": "n-1", "sid": "s-1"}
		if mutate != nil {
			mutate(c)
		}
		return c
	}
	sign := func(k *jose.PrivateKey, c map[string]any) string {
		s, err := jose.SignWithKey(k, "JWT", false, c)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	idt, err := cfg.VerifyIDToken(ctx, sign(key, claims(nil)), "n-1")
	if err != nil || idt.Subject != "alice" || idt.SessionID != "s-1" || idt.Claims["nonce"] != "n-1" {
		t.Fatalf("valid ID token: %+v, %v", idt, err)
	}
	for name, raw := range map[string]string{
		"wrong key":           sign(other, claims(nil)),
		"wrong iss":           sign(key, claims(func(c map[string]any) { c["iss"] = env.Issuer + "/" })),
		"wrong aud":           sign(key, claims(func(c map[string]any) { c["aud"] = "other" })),
		"several aud, no azp": sign(key, claims(func(c map[string]any) { c["aud"] = []string{testenv.FAPIClient, "other"} })),
		"azp of another":      sign(key, claims(func(c map[string]any) { c["azp"] = "other" })),
		"expired":             sign(key, claims(func(c map[string]any) { c["exp"] = now - 60 })),
		"no iat":              sign(key, claims(func(c map[string]any) { delete(c, "iat") })),
		"no sub":              sign(key, claims(func(c map[string]any) { delete(c, "sub") })),
		"wrong nonce":         sign(key, claims(func(c map[string]any) { c["nonce"] = "n-2" })),
		"no nonce":            sign(key, claims(func(c map[string]any) { delete(c, "nonce") })),
		"no iss":              sign(key, claims(func(c map[string]any) { delete(c, "iss") })),
		"no aud":              sign(key, claims(func(c map[string]any) { delete(c, "aud") })),
		"no exp":              sign(key, claims(func(c map[string]any) { delete(c, "exp") })),
		"alg none":            "eyJhbGciOiJub25lIn0." + "e30.",
		// An HMAC token keyed with the issuer's public key bytes: the
		// key-confusion attack; HS256 is never on the allow-list.
		"alg HS256": hs256(t, claims(nil), []byte(env.Issuer)),
		"not a JWT": "x",
	} {
		if _, err := cfg.VerifyIDToken(ctx, raw, "n-1"); !errors.Is(err, client.ErrIDToken) {
			t.Errorf("%s: %v, want ErrIDToken", name, err)
		}
	}
}

// hs256 signs claims with HMAC-SHA256 under secret, by hand: no library
// of the project will make one.
func hs256(t *testing.T, claims map[string]any, secret []byte) string {
	t.Helper()
	payload, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	in := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + base64.RawURLEncoding.EncodeToString(payload)
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(in))
	return in + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}
