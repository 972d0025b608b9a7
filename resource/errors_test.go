package resource_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwarkauth/bulwark/resource"
)

// TestWriteError pins the wire format a gateway gets from WriteError.
func TestWriteError(t *testing.T) {
	tests := []struct {
		name       string
		err        error
		status     int
		body       string
		challenges []string
	}{
		{"insufficient scope", &resource.Error{Status: 403, Code: "insufficient_scope", Description: "bad \"scope\"\r\n",
			Header: http.Header{"Www-Authenticate": {`Bearer error="insufficient_scope", scope="a"`}}},
			403, `{"error":"insufficient_scope","error_description":"bad  scope   "}` + "\n", []string{`Bearer error="insufficient_scope", scope="a"`}},
		{"no code", &resource.Error{Status: 401, Header: http.Header{"Www-Authenticate": {"DPoP", "Bearer"}}}, 401, "", []string{"DPoP", "Bearer"}},
		{"wrapped", errors.Join(errors.New("ctx"), &resource.Error{Status: 503, Code: "temporarily_unavailable"}), 503, `{"error":"temporarily_unavailable"}` + "\n", nil},
		{"other error", errors.New("boom"), 500, `{"error":"server_error","error_description":"internal error"}` + "\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			resource.WriteError(w, tt.err)
			if w.Code != tt.status || w.Body.String() != tt.body || w.Header().Get("Cache-Control") != "no-store" {
				t.Errorf("got %d %q %v", w.Code, w.Body.String(), w.Header())
			}
			if got := w.Header().Values("Www-Authenticate"); len(got) != len(tt.challenges) || len(got) > 0 && got[0] != tt.challenges[0] {
				t.Errorf("challenges = %q, want %q", got, tt.challenges)
			}
		})
	}
}

// TestChallengesRequireDPoP: with RequireDPoP and no AllowBearer, only the
// DPoP scheme is offered, with realm when set.
func TestChallengesRequireDPoP(t *testing.T) {
	v := &resource.Verifier{Issuer: "https://as.example", Audiences: []string{"a"}, BaseURL: "https://api.example",
		RequireDPoP: true, Realm: "api", DPoPAlgorithms: []string{"ES256", "HS256"}}
	_, err := v.Check(httptest.NewRequest(http.MethodGet, "/", nil))
	var e *resource.Error
	if !errors.As(err, &e) || e.Status != 401 || e.Code != "" || e.Reason != resource.ReasonNoCredentials {
		t.Fatalf("Check = %v", err)
	}
	if got := e.Header.Values("Www-Authenticate"); len(got) != 1 || got[0] != `DPoP realm="api", algs="ES256"` {
		t.Errorf("challenges = %q", got)
	}
}

// TestMemoryReplayCache: of many concurrent uses of one key exactly one
// wins; expired keys may be used again; a full cache fails closed.
func TestMemoryReplayCache(t *testing.T) {
	c := resource.NewMemoryReplayCache()
	ctx := context.Background()
	exp := time.Now().Add(time.Minute)
	var wins atomic.Int32
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if c.Use(ctx, "k", exp) == nil {
				wins.Add(1)
			}
		}()
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d winners", wins.Load())
	}
	if err := c.Use(ctx, "k", exp); !errors.Is(err, resource.ErrReplayed) {
		t.Errorf("reuse = %v", err)
	}
	if err := c.Use(ctx, "old", time.Now().Add(-time.Second)); err != nil {
		t.Fatal(err)
	}
	if err := c.Use(ctx, "old", exp); err != nil {
		t.Errorf("expired key reuse = %v", err)
	}

	full := &resource.MemoryReplayCache{Max: 1}
	full.Use(ctx, "a", exp)
	if err := full.Use(ctx, "b", exp); err == nil || errors.Is(err, resource.ErrReplayed) {
		t.Errorf("full cache = %v, want an outage error", err)
	}
}

// TestMisconfigured: a Verifier that cannot check safely refuses every
// request with 500, and reports it to OnFailure.
func TestMisconfigured(t *testing.T) {
	base := func() *resource.Verifier {
		return &resource.Verifier{Issuer: "https://as.example", Audiences: []string{"a"}, BaseURL: "https://api.example"}
	}
	tests := []struct {
		name string
		mod  func(*resource.Verifier)
	}{
		{"no issuer", func(v *resource.Verifier) { v.Issuer = "" }},
		{"no audiences", func(v *resource.Verifier) { v.Audiences = nil }},
		{"relative BaseURL", func(v *resource.Verifier) { v.BaseURL = "/api" }},
		{"BaseURL with query", func(v *resource.Verifier) { v.BaseURL = "https://api.example/?a=b" }},
		{"short nonce secret", func(v *resource.Verifier) { v.DPoPNonce, v.NonceSecret = resource.NonceRequired, []byte("short") }},
		{"unknown nonce policy", func(v *resource.Verifier) { v.DPoPNonce = 7 }},
		{"introspection without client", func(v *resource.Verifier) { v.Introspection = &resource.Introspection{ClientSecret: "s"} }},
		{"introspection with two credentials", func(v *resource.Verifier) {
			v.Introspection = &resource.Introspection{ClientID: "c", ClientSecret: "s", Signer: mustECKey()}
		}},
		{"introspection without credentials", func(v *resource.Verifier) { v.Introspection = &resource.Introspection{ClientID: "c"} }},
		{"relative introspection endpoint", func(v *resource.Verifier) {
			v.Introspection = &resource.Introspection{ClientID: "c", ClientSecret: "s", Endpoint: "/introspect"}
		}},
	}
	for _, tt := range tests {
		t.Run("fail/"+tt.name, func(t *testing.T) {
			v := base()
			tt.mod(v)
			var reasons []string
			v.OnFailure = func(_ *http.Request, e *resource.Error) { reasons = append(reasons, e.Reason) }
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("Authorization", "Bearer abc")
			_, err := v.Check(r)
			var e *resource.Error
			if !errors.As(err, &e) || e.Status != 500 || e.Code != resource.CodeServerError || e.Unwrap() == nil || e.Error() == "" {
				t.Fatalf("Check = %v", err)
			}
			if len(reasons) != 1 || reasons[0] != resource.ReasonConfig {
				t.Errorf("OnFailure reasons = %q", reasons)
			}
		})
	}
}

func mustECKey() *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
}
