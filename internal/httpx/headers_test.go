package httpx_test

import (
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/bulwarkauth/bulwark/internal/httpx"
)

// TestSecurityHeaders checks the headers every response carries: no
// framing, no sniffing, no referrer, HSTS over TLS only, and no CORS
// (FAPI 2.0 SP §5.2.3-3), even when the handler fails.
func TestSecurityHeaders(t *testing.T) {
	always := map[string]string{
		"X-Frame-Options":        "DENY",
		"X-Content-Type-Options": "nosniff",
		"Referrer-Policy":        "no-referrer",
	}
	tests := []struct {
		name string
		tls  bool
		next http.HandlerFunc
	}{
		{"plain", false, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }},
		{"tls", true, func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusNoContent) }},
		{"tls_error_response", true, func(w http.ResponseWriter, r *http.Request) {
			httpx.WriteError(w, r, discardLog(), errors.New("boom"))
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/authorize", nil)
			r.Header.Set("Origin", "https://evil.example")
			if tc.tls {
				r.TLS = &tls.ConnectionState{}
			} else {
				r.TLS = nil
			}
			w := httptest.NewRecorder()
			httpx.SecurityHeaders(tc.next).ServeHTTP(w, r)
			for k, v := range always {
				if got := w.Header().Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			csp := w.Header().Get("Content-Security-Policy")
			for _, d := range []string{"default-src 'none'", "frame-ancestors 'none'", "base-uri 'none'"} {
				if !strings.Contains(csp, d) {
					t.Errorf("CSP %q lacks %q", csp, d)
				}
			}
			hsts := w.Header().Get("Strict-Transport-Security")
			if tc.tls != (hsts != "") || tc.tls && !strings.HasPrefix(hsts, "max-age=63072000") {
				t.Errorf("Strict-Transport-Security = %q over TLS=%v", hsts, tc.tls)
			}
			for k := range w.Header() {
				if strings.HasPrefix(k, "Access-Control-") {
					t.Errorf("CORS header %s set", k)
				}
			}
		})
	}
}

// TestRequestIDs checks that every request gets a fresh random ID, visible
// in the response, the context and the error log, and that an inbound
// X-Request-Id is ignored (it would let a caller forge log correlation).
func TestRequestIDs(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, nil))
	var seen string
	h := httpx.RequestIDs(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = httpx.RequestID(r.Context())
		httpx.WriteError(w, r, log, errors.New("boom"))
	}))
	ids := map[string]bool{}
	for range 20 {
		logs.Reset()
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("X-Request-Id", "attacker-chosen")
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		id := w.Header().Get("X-Request-Id")
		if id == "" || id == "attacker-chosen" || id != seen {
			t.Fatalf("response ID %q, context ID %q", id, seen)
		}
		if b, err := base64.RawURLEncoding.DecodeString(id); err != nil || len(b) != 12 {
			t.Fatalf("ID %q is not 12 random bytes", id)
		}
		var entry struct {
			RequestID string `json:"request_id"`
		}
		if err := json.Unmarshal(logs.Bytes(), &entry); err != nil || entry.RequestID != id {
			t.Fatalf("logged request_id %q, want %q (%v)", entry.RequestID, id, err)
		}
		ids[id] = true
	}
	if len(ids) != 20 {
		t.Errorf("%d distinct IDs over 20 requests", len(ids))
	}
	if got := httpx.RequestID(t.Context()); got != "" {
		t.Errorf("RequestID outside the middleware = %q", got)
	}
}
