package client_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bulwarkauth/bulwark/client"
	"github.com/bulwarkauth/bulwark/internal/jose"
)

// fakeAS is a scripted authorization server on httptest: discovery plus
// whatever handlers a test installs. The real server (internal/testenv)
// is used wherever it has the feature; the fake covers what Bulwark does
// not serve (token exchange), answers it cannot be made to give on demand
// (the device flow's slow_down and expired_token), and misbehaviour (a
// wrong issuer, a Bearer token in DPoP mode).
type fakeAS struct {
	srv *httptest.Server
	mux *http.ServeMux
	// md is the metadata served; tests may change it before first use.
	md map[string]any
}

func newFakeAS(t *testing.T) *fakeAS {
	t.Helper()
	f := &fakeAS{mux: http.NewServeMux()}
	f.srv = httptest.NewTLSServer(f.mux)
	t.Cleanup(f.srv.Close)
	f.md = map[string]any{
		"issuer":                        f.srv.URL,
		"token_endpoint":                f.srv.URL + "/token",
		"device_authorization_endpoint": f.srv.URL + "/device",
		"grant_types_supported":         []string{"client_credentials", "urn:ietf:params:oauth:grant-type:device_code"},
	}
	f.mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, f.md)
	})
	return f
}

func (f *fakeAS) config() *client.Config {
	return &client.Config{Issuer: f.srv.URL, ClientID: "c", ClientSecret: "s", HTTPClient: f.srv.Client()}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func TestDiscovery(t *testing.T) {
	tests := []struct {
		name    string
		serve   func(f *fakeAS)
		issuer  func(f *fakeAS) string
		wantErr error
	}{
		{
			name:  "ok/openid-configuration",
			serve: func(f *fakeAS) {},
		},
		{
			name: "ok/rfc8414 fallback with path",
			serve: func(f *fakeAS) {
				f.md["issuer"] = f.srv.URL + "/tenant"
				f.mux.HandleFunc("GET /.well-known/oauth-authorization-server/tenant", func(w http.ResponseWriter, r *http.Request) {
					writeJSON(w, http.StatusOK, f.md)
				})
			},
			issuer: func(f *fakeAS) string { return f.srv.URL + "/tenant" },
		},
		{
			name:    "fail/issuer mismatch",
			serve:   func(f *fakeAS) { f.md["issuer"] = "https://evil.example" },
			wantErr: client.ErrIssuerMismatch,
		},
		{
			name:    "fail/issuer with trailing slash",
			serve:   func(f *fakeAS) { f.md["issuer"] = f.srv.URL + "/" },
			wantErr: client.ErrIssuerMismatch,
		},
		{
			name:  "fail/http endpoint",
			serve: func(f *fakeAS) { f.md["token_endpoint"] = "http://127.0.0.1/token" },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeAS(t)
			tt.serve(f)
			cfg := f.config()
			if tt.issuer != nil {
				cfg.Issuer = tt.issuer(f)
			}
			md, err := cfg.Discover(context.Background())
			wantFail := strings.HasPrefix(tt.name, "fail/")
			if (err != nil) != wantFail || (tt.wantErr != nil && !errors.Is(err, tt.wantErr)) {
				t.Fatalf("Discover = %v, %v; want error %v (fail %v)", md, err, tt.wantErr, wantFail)
			}
			if err == nil && md.Issuer != cfg.Issuer {
				t.Errorf("issuer = %q", md.Issuer)
			}
			if errors.Is(err, client.ErrIssuerMismatch) {
				// Nothing from the document is used.
				if _, err := cfg.ClientCredentials(context.Background()).Token(); !errors.Is(err, client.ErrIssuerMismatch) {
					t.Errorf("Token after a mismatch = %v", err)
				}
			}
		})
	}
	t.Run("fail/http issuer", func(t *testing.T) {
		cfg := &client.Config{Issuer: "http://127.0.0.1:1", ClientID: "c"}
		if _, err := cfg.Discover(context.Background()); err == nil {
			t.Error("an http issuer was accepted")
		}
	})
}

func TestTokenTypeEnforced(t *testing.T) {
	tests := []struct {
		name      string
		tokenType string
		mode      client.Mode
		allow     bool
		wantErr   error
	}{
		{name: "fail/dpop mode, Bearer response", tokenType: "Bearer", mode: client.ModeDPoP, wantErr: client.ErrTokenType},
		{name: "fail/default mode, bearer response", tokenType: "bearer", wantErr: client.ErrTokenType},
		{name: "ok/dpop mode, dpop response (case-insensitive)", tokenType: "dpop", mode: client.ModeDPoP},
		{name: "ok/dpop mode, Bearer allowed", tokenType: "Bearer", mode: client.ModeDPoP, allow: true},
		{name: "fail/bearer mode, DPoP response", tokenType: "DPoP", mode: client.ModeBearer, wantErr: client.ErrTokenType},
		{name: "ok/bearer mode", tokenType: "Bearer", mode: client.ModeBearer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeAS(t)
			f.mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
				writeJSON(w, http.StatusOK, map[string]any{"access_token": "at", "token_type": tt.tokenType, "expires_in": 60})
			})
			cfg := f.config()
			cfg.Mode, cfg.InsecureAllowBearer = tt.mode, tt.allow
			tok, err := cfg.ClientCredentials(context.Background()).Token()
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Token = %v, %v; want %v", tok, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !strings.EqualFold(tok.TokenType, tt.tokenType) {
				t.Errorf("token_type = %q", tok.TokenType)
			}
		})
	}
}

func TestRetrieveError(t *testing.T) {
	f := newFakeAS(t)
	f.mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusUnauthorized, map[string]any{"error": "invalid_client", "error_description": "bad secret"})
	})
	_, err := f.config().ClientCredentials(context.Background()).Token()
	var re *client.RetrieveError
	if !errors.As(err, &re) {
		t.Fatalf("Token = %v, want a *RetrieveError", err)
	}
	if re.ErrorCode != "invalid_client" || re.ErrorDescription != "bad secret" || re.Response.StatusCode != 401 || len(re.Body) == 0 {
		t.Errorf("RetrieveError = %+v", re)
	}
}

// TestAssertionSigners checks private_key_jwt with every FAPI algorithm
// and with a signer whose key type is hidden (an HSM): the assertion
// verifies, aud is the issuer as a string, and every request has a new
// jti.
func TestAssertionSigners(t *testing.T) {
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	rk, _ := rsa.GenerateKey(rand.Reader, 2048)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	tests := []struct {
		name   string
		key    crypto.Signer
		verify crypto.Signer // the concrete key, to check signatures
		alg    string
	}{
		{"ok/ES256", ec, ec, jose.ES256},
		{"ok/ES256 external", hsmSigner{ec}, ec, jose.ES256},
		{"ok/PS256", rk, rk, jose.PS256},
		{"ok/PS256 external", hsmSigner{rk}, rk, jose.PS256},
		{"ok/EdDSA", ed, ed, jose.EdDSA},
		{"ok/EdDSA external", hsmSigner{ed}, ed, jose.EdDSA},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeAS(t)
			var mu sync.Mutex
			var assertions []string
			f.mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
				r.ParseForm()
				mu.Lock()
				assertions = append(assertions, r.PostForm.Get("client_assertion"))
				mu.Unlock()
				writeJSON(w, http.StatusOK, map[string]any{"access_token": "at", "token_type": "Bearer", "expires_in": 1})
			})
			cfg := f.config()
			cfg.ClientSecret, cfg.Key, cfg.KeyID, cfg.Mode = "", tt.key, "kid-1", client.ModeBearer
			ts := cfg.ClientCredentials(context.Background())
			for range 2 {
				// expires_in 1 is inside the expiry margin: every Token
				// requests a new one.
				if _, err := ts.Token(); err != nil {
					t.Fatal(err)
				}
			}
			pk, err := jose.NewExternalKey(tt.verify, tt.alg, "")
			if err != nil {
				t.Fatal(err)
			}
			mu.Lock()
			defer mu.Unlock()
			jtis := map[string]bool{}
			for _, a := range assertions {
				jwt, err := jose.Parse(a, nil)
				if err != nil {
					t.Fatal(err)
				}
				var c struct {
					Iss string `json:"iss"`
					Sub string `json:"sub"`
					JTI string `json:"jti"`
					Aud any    `json:"aud"`
					Exp int64  `json:"exp"`
					Iat int64  `json:"iat"`
				}
				if err := jwt.Verify(pk.Public(), &c); err != nil {
					t.Fatalf("assertion does not verify: %v", err)
				}
				if jwt.Header.Algorithm != tt.alg || jwt.Header.KeyID != "kid-1" {
					t.Errorf("header = %+v", jwt.Header)
				}
				if c.Iss != "c" || c.Sub != "c" || c.Aud != f.srv.URL || c.Exp-c.Iat > 60 || c.Exp <= c.Iat {
					t.Errorf("claims = %+v", c)
				}
				jtis[c.JTI] = true
			}
			if len(assertions) != 2 || len(jtis) != 2 {
				t.Errorf("%d assertions with %d distinct jti", len(assertions), len(jtis))
			}
		})
	}
	t.Run("fail/weak key", func(t *testing.T) {
		weak, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
		f := newFakeAS(t)
		cfg := f.config()
		cfg.Key = weak
		if _, err := cfg.ClientCredentials(context.Background()).Token(); err == nil {
			t.Error("a P-224 key was accepted")
		}
	})
}

func TestDeviceFlow(t *testing.T) {
	tests := []struct {
		name string
		// script is the token endpoint's answers in order; "" is success.
		script    []string
		wantErr   error
		wantSleep []time.Duration
	}{
		{
			name:      "ok/pending, slow_down, pending, approved",
			script:    []string{"authorization_pending", "slow_down", "authorization_pending", ""},
			wantSleep: []time.Duration{2 * time.Second, 2 * time.Second, 7 * time.Second, 7 * time.Second},
		},
		{
			name:      "fail/expired_token",
			script:    []string{"authorization_pending", "expired_token"},
			wantErr:   client.ErrDeviceExpired,
			wantSleep: []time.Duration{2 * time.Second, 2 * time.Second},
		},
		{
			name:      "fail/access_denied",
			script:    []string{"access_denied"},
			wantErr:   client.ErrAccessDenied,
			wantSleep: []time.Duration{2 * time.Second},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFakeAS(t)
			f.mux.HandleFunc("POST /device", func(w http.ResponseWriter, r *http.Request) {
				r.ParseForm()
				if r.PostForm.Get("scope") != "openid" {
					t.Errorf("device request form = %v", r.PostForm)
				}
				writeJSON(w, http.StatusOK, map[string]any{
					"device_code": "dc", "user_code": "ABCD-EFGH", "verification_uri": f.srv.URL + "/activate",
					"expires_in": 600, "interval": 2,
				})
			})
			var mu sync.Mutex
			calls := 0
			f.mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
				r.ParseForm()
				if r.PostForm.Get("grant_type") != "urn:ietf:params:oauth:grant-type:device_code" || r.PostForm.Get("device_code") != "dc" {
					t.Errorf("token form = %v", r.PostForm)
				}
				if r.Header.Get("DPoP") == "" {
					t.Error("poll without a DPoP proof")
				}
				mu.Lock()
				step := tt.script[calls]
				calls++
				mu.Unlock()
				if step != "" {
					writeJSON(w, http.StatusBadRequest, map[string]any{"error": step})
					return
				}
				writeJSON(w, http.StatusOK, map[string]any{"access_token": "at", "token_type": "DPoP", "expires_in": 60})
			})
			cfg := f.config()
			cfg.Scopes = []string{"openid"}
			var slept []time.Duration
			cfg.Sleep = func(ctx context.Context, d time.Duration) error { slept = append(slept, d); return nil }
			var shown *client.DeviceAuthResponse
			tok, err := cfg.DeviceLogin(context.Background(), func(da *client.DeviceAuthResponse) error { shown = da; return nil })
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("DeviceLogin = %v, want %v", err, tt.wantErr)
				}
			} else if err != nil || tok.AccessToken != "at" {
				t.Fatalf("DeviceLogin = %v, %v", tok, err)
			}
			if shown == nil || shown.UserCode != "ABCD-EFGH" || shown.Interval != 2*time.Second {
				t.Errorf("shown = %+v", shown)
			}
			if diff := cmp.Diff(tt.wantSleep, slept); diff != "" {
				t.Errorf("poll intervals (-want +got):\n%s", diff)
			}
		})
	}
	t.Run("fail/not advertised", func(t *testing.T) {
		f := newFakeAS(t)
		delete(f.md, "device_authorization_endpoint")
		if _, err := f.config().DeviceAuth(context.Background()); !errors.Is(err, client.ErrNotSupported) {
			t.Errorf("DeviceAuth = %v, want ErrNotSupported", err)
		}
	})
}

func TestExchangeToken(t *testing.T) {
	f := newFakeAS(t)
	var mu sync.Mutex
	var got url.Values
	f.mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		r.ParseForm()
		mu.Lock()
		defer mu.Unlock()
		got = r.PostForm
		writeJSON(w, http.StatusOK, map[string]any{
			"access_token": "new", "token_type": "DPoP", "expires_in": 60,
			"issued_token_type": client.TokenTypeAccessToken,
		})
	})
	x := client.TokenExchange{SubjectToken: "subj", SubjectTokenType: client.TokenTypeAccessToken, Audience: []string{"https://api.example"}}
	if _, err := f.config().ExchangeToken(context.Background(), x); !errors.Is(err, client.ErrNotSupported) {
		t.Fatalf("ExchangeToken without the grant advertised = %v, want ErrNotSupported", err)
	}
	mu.Lock()
	if got != nil {
		t.Fatal("a request was sent although the grant is not advertised")
	}
	mu.Unlock()
	f.md["grant_types_supported"] = []string{"urn:ietf:params:oauth:grant-type:token-exchange"}
	tok, err := f.config().ExchangeToken(context.Background(), x)
	if err != nil {
		t.Fatal(err)
	}
	if tok.AccessToken != "new" || tok.Extra("issued_token_type") != client.TokenTypeAccessToken {
		t.Errorf("token = %+v", tok)
	}
	mu.Lock()
	defer mu.Unlock()
	want := url.Values{
		"grant_type":         {"urn:ietf:params:oauth:grant-type:token-exchange"},
		"subject_token":      {"subj"},
		"subject_token_type": {client.TokenTypeAccessToken},
		"audience":           {"https://api.example"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("form (-want +got):\n%s", diff)
	}
}

// TestTransportBearer checks the Bearer mode header and the invalid_token
// refresh against a fake resource server.
func TestTransportBearer(t *testing.T) {
	f := newFakeAS(t)
	var mu sync.Mutex
	n := 0
	f.mux.HandleFunc("POST /token", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		n++
		writeJSON(w, http.StatusOK, map[string]any{"access_token": "at" + string(rune('0'+n)), "token_type": "Bearer", "expires_in": 600})
	})
	var auths []string
	f.mux.HandleFunc("GET /api", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auths = append(auths, r.Header.Get("Authorization"))
		mu.Unlock()
		if r.URL.Query().Get("access_token") != "" || r.Header.Get("DPoP") != "" {
			t.Error("token in the query or a stray proof")
		}
		if r.Header.Get("Authorization") == "Bearer at1" {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token", error_description="revoked"`)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
	})
	cfg := f.config()
	cfg.Mode = client.ModeBearer
	hc := cfg.Client(context.Background(), cfg.ClientCredentials(context.Background()))
	resp, err := hc.Get(f.srv.URL + "/api")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("status = %d", resp.StatusCode)
	}
	mu.Lock()
	defer mu.Unlock()
	if diff := cmp.Diff([]string{"Bearer at1", "Bearer at2"}, auths); diff != "" {
		t.Errorf("Authorization headers (-want +got):\n%s", diff)
	}
}
