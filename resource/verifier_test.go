package resource_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkauth/bulwark/internal/testenv"
	"github.com/bulwarkauth/bulwark/internal/testenv/testca"
	"github.com/bulwarkauth/bulwark/resource"
)

// TestRequestShape covers where the token may be (FAPI 2.0 SP §5.3.4-1,
// -2), RFC 6750 §3.1 bare challenges and RFC 9449 §7.2 multiple methods.
func TestRequestShape(t *testing.T) {
	env := startEnv(t, false)
	a := newAPI(t, verifier(env, resource.NewMemoryReplayCache(), func(v *resource.Verifier) {
		v.ResourceMetadataURL = apiBase + "/.well-known/oauth-protected-resource"
	}), false)
	tok, key := dpopToken(t, env, testenv.FAPIClient, "")
	good := func(path string) http.Header {
		return http.Header{"Authorization": {"DPoP " + tok}, "Dpop": {proof(t, key, http.MethodGet, path, tok, "")}}
	}
	md := `resource_metadata="` + apiBase + `/.well-known/oauth-protected-resource"`

	t.Run("fail/no credentials", func(t *testing.T) {
		r := a.do(t, nil, http.MethodGet, apiPath, nil, nil)
		if r.status != 401 || r.body != nil {
			t.Fatalf("%d %v", r.status, r.body)
		}
		want := []string{`DPoP algs="PS256 ES256 EdDSA", ` + md, `Bearer ` + md}
		got := r.header.Values("Www-Authenticate")
		if strings.Join(got, "|") != strings.Join(want, "|") {
			t.Errorf("challenges = %q, want %q", got, want)
		}
	})
	t.Run("fail/other scheme is no credentials", func(t *testing.T) {
		r := a.do(t, nil, http.MethodGet, apiPath, http.Header{"Authorization": {"Basic dXNlcjpwYXNz"}}, nil)
		if r.status != 401 || strings.Contains(r.header.Get("Www-Authenticate"), "error=") {
			t.Fatalf("%d %v", r.status, r.header)
		}
	})
	t.Run("fail/token in query (RS-2)", func(t *testing.T) {
		r := a.do(t, nil, http.MethodGet, apiPath+"?access_token="+tok, good(apiPath), nil)
		if r.status != 400 || r.body["error"] != "invalid_request" {
			t.Fatalf("%d %v", r.status, r.body)
		}
	})
	t.Run("fail/token in form body", func(t *testing.T) {
		h := http.Header{"Authorization": {"DPoP " + tok}, "Dpop": {proof(t, key, http.MethodPost, apiPath, tok, "")},
			"Content-Type": {"application/x-www-form-urlencoded"}}
		r := a.do(t, nil, http.MethodPost, apiPath, h, strings.NewReader(url.Values{"access_token": {tok}}.Encode()))
		if r.status != 400 || r.body["error"] != "invalid_request" {
			t.Fatalf("%d %v", r.status, r.body)
		}
	})
	t.Run("ok/form body reaches next unchanged", func(t *testing.T) {
		h := http.Header{"Authorization": {"DPoP " + tok}, "Dpop": {proof(t, key, http.MethodPost, apiPath, tok, "")},
			"Content-Type": {"application/x-www-form-urlencoded"}}
		r := a.do(t, nil, http.MethodPost, apiPath, h, strings.NewReader("amount=10&to=bob"))
		if r.status != 200 || r.body["body"] != "amount=10&to=bob" {
			t.Fatalf("%d %v", r.status, r.body)
		}
	})
	t.Run("fail/two Authorization headers", func(t *testing.T) {
		h := good(apiPath)
		h["Authorization"] = []string{"DPoP " + tok, "Bearer " + tok}
		r := a.do(t, nil, http.MethodGet, apiPath, h, nil)
		if r.status != 400 || r.body["error"] != "invalid_request" {
			t.Fatalf("%d %v", r.status, r.body)
		}
		// RFC 9449 §7.2: every offered scheme's challenge carries the error.
		for _, s := range []string{"DPoP", "Bearer"} {
			if !strings.Contains(r.challenge(s), `error="invalid_request"`) {
				t.Errorf("%s challenge = %q", s, r.challenge(s))
			}
		}
	})
	t.Run("fail/malformed Authorization", func(t *testing.T) {
		for _, v := range []string{"DPoP", "DPoP ", "DPoP a b", "DPoP ä", "Bearer ==="} {
			r := a.do(t, nil, http.MethodGet, apiPath, http.Header{"Authorization": {v}}, nil)
			if r.status != 400 || r.body["error"] != "invalid_request" {
				t.Errorf("%q: %d %v", v, r.status, r.body)
			}
		}
	})
}

// TestTokenValidity covers RS-3 (expired, tampered), issuer and audience.
func TestTokenValidity(t *testing.T) {
	env := startEnv(t, false)
	clk := &clock{}
	a := newAPI(t, verifier(env, resource.NewMemoryReplayCache(), func(v *resource.Verifier) { v.Now = clk.Now }), false)
	tok, key := dpopToken(t, env, testenv.FAPIClient, "")
	send := func(a *api, tok string) result {
		return a.do(t, nil, http.MethodGet, apiPath, http.Header{
			"Authorization": {"DPoP " + tok}, "Dpop": {proof(t, key, http.MethodGet, apiPath, tok, "")},
		}, nil)
	}
	wantInvalid := func(t *testing.T, r result) {
		t.Helper()
		if r.status != 401 || r.body["error"] != "invalid_token" || !strings.Contains(r.challenge("DPoP"), `error="invalid_token"`) {
			t.Fatalf("%d %v %v", r.status, r.body, r.header)
		}
	}

	t.Run("fail/tampered", func(t *testing.T) {
		parts := strings.Split(tok, ".")
		claims := []byte(parts[1])
		claims[10] ^= 1
		wantInvalid(t, send(a, parts[0]+"."+string(claims)+"."+parts[2]))
	})
	t.Run("fail/not a JWT and no introspection", func(t *testing.T) {
		wantInvalid(t, send(a, "opaque-token"))
	})
	t.Run("fail/wrong audience", func(t *testing.T) {
		b := newAPI(t, verifier(env, resource.NewMemoryReplayCache(), func(v *resource.Verifier) {
			v.Audiences = []string{"https://other-api.example.com"}
		}), false)
		wantInvalid(t, send(b, tok))
	})
	t.Run("fail/expired", func(t *testing.T) {
		clk.Advance(10 * time.Minute) // Bulwark tokens live 5 minutes
		defer clk.Advance(-10 * time.Minute)
		h := http.Header{"Authorization": {"DPoP " + tok}}
		h["Dpop"] = []string{sign(t, "ES256", key, map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": jwkOf(key)},
			map[string]any{"jti": randomID(), "htm": "GET", "htu": apiBase + apiPath, "iat": clk.Now().Unix(), "ath": ath(tok)})}
		wantInvalid(t, a.do(t, nil, http.MethodGet, apiPath, h, nil))
	})
	t.Run("fail/ID token or other typ", func(t *testing.T) {
		k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		wantInvalid(t, send(a, sign(t, "ES256", k, map[string]any{"alg": "ES256", "typ": "JWT"}, map[string]any{"iss": env.URL})))
	})
	t.Run("fail/alg none token", func(t *testing.T) {
		wantInvalid(t, send(a, sign(t, "none", nil, map[string]any{"alg": "none", "typ": "at+jwt"},
			map[string]any{"iss": env.URL, "aud": apiAud, "exp": time.Now().Add(time.Hour).Unix()})))
	})
	t.Run("fail/misconfigured", func(t *testing.T) {
		b := newAPI(t, &resource.Verifier{Issuer: env.URL, BaseURL: apiBase}, false)
		if r := send(b, tok); r.status != 500 || r.body["error"] != "server_error" {
			t.Fatalf("%d %v", r.status, r.body)
		}
	})
}

// TestBearer: unbound tokens only with AllowBearer; never with the DPoP
// scheme.
func TestBearer(t *testing.T) {
	env := startEnv(t, false)
	tok := bearerToken(t, env)
	strict := newAPI(t, verifier(env, resource.NewMemoryReplayCache(), nil), false)
	lax := newAPI(t, verifier(env, resource.NewMemoryReplayCache(), func(v *resource.Verifier) { v.AllowBearer = true }), false)

	if r := strict.do(t, nil, http.MethodGet, apiPath, http.Header{"Authorization": {"Bearer " + tok}}, nil); r.status != 401 || r.body["error"] != "invalid_token" ||
		!strings.Contains(r.challenge("Bearer"), `error="invalid_token"`) || r.challenge("DPoP") == "" {
		t.Errorf("strict: %d %v %v", r.status, r.body, r.header)
	}
	if r := lax.do(t, nil, http.MethodGet, apiPath, http.Header{"Authorization": {"bearer " + tok}}, nil); r.status != 200 || r.body["binding"] != "bearer" {
		t.Errorf("lax: %d %v", r.status, r.body)
	}
	if r := lax.do(t, nil, http.MethodGet, apiPath, http.Header{"Authorization": {"DPoP " + tok}}, nil); r.status != 401 || !strings.Contains(r.challenge("DPoP"), "invalid_token") {
		t.Errorf("unbound as DPoP: %d %v", r.status, r.header)
	}
}

// TestMTLS covers MTLS-RS-1: a certificate-bound token needs its
// certificate; no certificate or another one → 401 invalid_token.
func TestMTLS(t *testing.T) {
	env := startEnv(t, true)
	tok := mtlsToken(t, env)
	a := newAPI(t, verifier(env, resource.NewMemoryReplayCache(), nil), true)
	own, other := env.ClientCerts[testenv.MTLSClient], env.ClientCerts[testenv.SelfSignedClient]
	bearer := http.Header{"Authorization": {"Bearer " + tok}}

	tests := []struct {
		name   string
		api    *api
		cert   *testca.Leaf
		header http.Header
		status int
	}{
		{"ok/own certificate", a, own, bearer, 200},
		{"ok/scheme case", a, own, http.Header{"Authorization": {"BEARER " + tok}}, 200},
		{"fail/no certificate", a, nil, bearer, 401},
		{"fail/other certificate", a, other, bearer, 401},
		{"fail/DPoP scheme", a, own, http.Header{"Authorization": {"DPoP " + tok}}, 401},
		{"fail/RequireDPoP", newAPI(t, verifier(env, nil, func(v *resource.Verifier) { v.RequireDPoP = true }), true), own, bearer, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.api.client
			if tt.cert != nil {
				c = tt.api.clientWith(tt.cert)
			}
			r := tt.api.do(t, c, http.MethodGet, apiPath, tt.header, nil)
			if r.status != tt.status {
				t.Fatalf("%d %v, want %d", r.status, r.body, tt.status)
			}
			if tt.status == 200 && r.body["binding"] != resource.BindingMTLS {
				t.Errorf("binding = %v", r.body["binding"])
			}
			if tt.status == 401 && r.body["error"] != "invalid_token" {
				t.Errorf("error = %v", r.body["error"])
			}
		})
	}

	// A gateway behind a TLS-terminating proxy reads the certificate
	// through ClientCertificate (httpx.CertSource.Certificate).
	t.Run("ok/certificate from the hook", func(t *testing.T) {
		v := verifier(env, nil, func(v *resource.Verifier) {
			v.ClientCertificate = func(r *http.Request) (*x509.Certificate, error) {
				if r.Header.Get("X-Test-Cert") == "own" {
					return own.Cert, nil
				}
				return nil, nil
			}
		})
		r := httptest.NewRequest(http.MethodGet, apiPath, nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		if _, err := v.Check(r); err == nil {
			t.Fatal("accepted without certificate")
		}
		r.Header.Set("X-Test-Cert", "own")
		tk, err := v.Check(r)
		if err != nil || tk.Binding != resource.BindingMTLS || tk.X5T == "" {
			t.Fatalf("Check = %+v, %v", tk, err)
		}
	})
	t.Run("fail/hook error", func(t *testing.T) {
		v := verifier(env, nil, func(v *resource.Verifier) {
			v.ClientCertificate = func(*http.Request) (*x509.Certificate, error) { return nil, errors.New("bad header") }
		})
		r := httptest.NewRequest(http.MethodGet, apiPath, nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		_, err := v.Check(r)
		var e *resource.Error
		if !errors.As(err, &e) || e.Status != 401 || e.Code != resource.CodeInvalidToken {
			t.Fatalf("Check error = %v", err)
		}
	})
}

// TestScopes covers RS-4: RequireScopes → 403 insufficient_scope with
// scope= in the challenge, rendered by WriteError.
func TestScopes(t *testing.T) {
	env := startEnv(t, false)
	v := verifier(env, resource.NewMemoryReplayCache(), nil)
	mux := http.NewServeMux()
	mux.Handle("/", v.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, _ := resource.TokenFromContext(r.Context())
		if err := resource.RequireScopes(tok, "accounts", "payments"); err != nil {
			resource.WriteError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	a := &api{v: v, srv: srv, client: srv.Client()}
	tok, key := dpopToken(t, env, testenv.FAPIClient, "accounts")
	r := a.do(t, nil, http.MethodGet, apiPath, http.Header{
		"Authorization": {"DPoP " + tok}, "Dpop": {proof(t, key, http.MethodGet, apiPath, tok, "")},
	}, nil)
	if r.status != 403 || r.body["error"] != "insufficient_scope" {
		t.Fatalf("%d %v", r.status, r.body)
	}
	if ch := r.challenge("DPoP"); !strings.Contains(ch, `error="insufficient_scope"`) || !strings.Contains(ch, `scope="accounts payments"`) {
		t.Errorf("challenge = %q", ch)
	}

	tk := &resource.Token{Scopes: []string{"a", "b"}, Audience: []string{"x"}}
	if err := resource.RequireScopes(tk, "a", "b"); err != nil {
		t.Errorf("RequireScopes = %v", err)
	}
	if err := resource.RequireAudience(tk, "y", "x"); err != nil {
		t.Errorf("RequireAudience = %v", err)
	}
	var e *resource.Error
	if err := resource.RequireAudience(tk, "y"); !errors.As(err, &e) || e.Status != 403 {
		t.Errorf("RequireAudience(y) = %v", err)
	}
	if err := resource.RequireScopes(nil, "a"); !errors.As(err, &e) || e.Status != 401 {
		t.Errorf("RequireScopes(nil) = %v", err)
	}
}
