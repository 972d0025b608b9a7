package httpx

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net/http"
)

// SecurityHeaders sets headers every response carries: no framing (RFC 9700
// §4.16 clickjacking), no MIME sniffing, no referrer leaking codes, and HSTS
// when served over TLS (FAPI 2.0 SP §5.2.3-1). It sets no CORS headers:
// FAPI 2.0 SP §5.2.3-3 forbids CORS on the authorization endpoint, and no
// other endpoint needs browsers to read it cross-origin.
func SecurityHeaders(next http.Handler) http.Handler {
	return securityHeaders(next, "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; form-action 'self' *; frame-ancestors 'none'; base-uri 'none'")
}

// AppSecurityHeaders sets the headers of SecurityHeaders except the
// Content-Security-Policy, for handlers that serve someone else's web
// application (the BFF's single-page app brings its own policy).
func AppSecurityHeaders(next http.Handler) http.Handler { return securityHeaders(next, "") }

func securityHeaders(next http.Handler, csp string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Frame-Options", "DENY")
		if csp != "" {
			h.Set("Content-Security-Policy", csp)
		}
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		if r.TLS != nil {
			h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains; preload")
		}
		next.ServeHTTP(w, r)
	})
}

type requestIDKey struct{}

// RequestIDs gives each request a random ID, echoed in X-Request-Id and
// attached to log lines. An inbound X-Request-Id is not trusted.
func RequestIDs(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var b [12]byte
		rand.Read(b[:])
		id := base64.RawURLEncoding.EncodeToString(b[:])
		w.Header().Set("X-Request-Id", id)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestIDKey{}, id)))
	})
}

// RequestID returns the request's ID, or "" outside RequestIDs.
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// MaxHeaderBytes bounds request headers on every Bulwark listener.
const MaxHeaderBytes = 32 << 10
