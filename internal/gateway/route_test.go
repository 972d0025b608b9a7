package gateway

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bulwarkauth/bulwark/internal/telemetry"
	"github.com/bulwarkauth/bulwark/resource"
)

// newTestGateway assembles a gateway with New; it contacts no issuer
// until a token is checked, which these tests never do.
func newTestGateway(t *testing.T, cfg Config) *Gateway {
	t.Helper()
	if cfg.BaseURL == "" {
		cfg.BaseURL = "https://api.example:8443"
	}
	if cfg.Issuer == "" {
		cfg.Issuer = "https://as.example"
	}
	g, err := New(context.Background(), cfg, nil, telemetry.NewLogger(io.Discard, 0))
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func TestCovers(t *testing.T) {
	tests := []struct {
		prefix, path string
		want         bool
	}{
		{"/a", "/a", true},
		{"/a", "/a/", true},
		{"/a", "/a/b", true},
		{"/a", "/ab", false},
		{"/a", "/", false},
		{"/a", "/A", false},
		{"/a/b", "/a", false},
		{"/a/b", "/a/b/c", true},
		{"/a/b", "/a/bc", false},
		{"/a/", "/a/b", true},
		{"/a/", "/a/", true},
		{"/a/", "/a", false},
		{"/", "/", true},
		{"/", "/anything/below", true},
	}
	for _, tc := range tests {
		if got := covers(tc.prefix, tc.path); got != tc.want {
			t.Errorf("covers(%q, %q) = %v, want %v", tc.prefix, tc.path, got, tc.want)
		}
	}
}

func TestCleanPath(t *testing.T) {
	tests := []struct {
		path string
		want bool
	}{
		{"/", true},
		{"/a", true},
		{"/a/", true},
		{"/a/b.c", true},
		{"/a/...", true},
		{"/a/.b", true},
		{"/a/..b", true},
		{"/a/b..", true},
		{"", false},
		{"a/b", false},
		{"*", false},
		{"//", false},
		{"//a", false},
		{"/a//b", false},
		{"/a/b//", false},
		{"/.", false},
		{"/..", false},
		{"/./a", false},
		{"/a/.", false},
		{"/a/./b", false},
		{"/a/..", false},
		{"/a/../b", false},
		{"/a/../../etc/passwd", false},
	}
	for _, tc := range tests {
		if got := cleanPath(tc.path); got != tc.want {
			t.Errorf("cleanPath(%q) = %v, want %v", tc.path, got, tc.want)
		}
	}
}

func TestTakes(t *testing.T) {
	tests := []struct {
		methods []string
		method  string
		want    bool
	}{
		{nil, "GET", true},
		{nil, "PROPFIND", true},
		{[]string{"GET"}, "GET", true},
		{[]string{"GET"}, "HEAD", true},
		{[]string{"GET"}, "POST", false},
		{[]string{"GET"}, "get", false},
		{[]string{"POST"}, "HEAD", false},
		{[]string{"HEAD"}, "HEAD", true},
		{[]string{"HEAD"}, "GET", false},
		{[]string{"GET", "DELETE"}, "DELETE", true},
		{[]string{"GET", "DELETE"}, "PUT", false},
	}
	for _, tc := range tests {
		rt := &route{methods: tc.methods}
		if got := rt.takes(tc.method); got != tc.want {
			t.Errorf("route with methods %v takes %s = %v, want %v", tc.methods, tc.method, got, tc.want)
		}
	}
}

func TestMatch(t *testing.T) {
	up := "http://upstream.invalid"
	// Configured shortest first: New orders them.
	g := newTestGateway(t, Config{Routes: []Route{
		{Name: "accounts", PathPrefix: "/accounts", Methods: []string{"GET", "POST"}, Upstream: up},
		{Name: "admin-write", PathPrefix: "/accounts/admin", Methods: []string{"POST"}, Upstream: up},
		{Name: "admin-delete", PathPrefix: "/accounts/admin", Methods: []string{"DELETE"}, Upstream: up},
		{Name: "files", PathPrefix: "/files/", Upstream: up},
		{PathPrefix: "/any", Upstream: up},
	}})
	tests := []struct {
		name       string
		method     string
		target     string
		path       string // replaces the parsed path when set
		wantRoute  string
		wantStatus int
	}{
		{name: "exact-prefix", method: "GET", target: "/accounts", wantRoute: "accounts"},
		{name: "below-prefix", method: "POST", target: "/accounts/42", wantRoute: "accounts"},
		{name: "head-as-get", method: "HEAD", target: "/accounts/42", wantRoute: "accounts"},
		{name: "longest-prefix", method: "POST", target: "/accounts/admin/users", wantRoute: "admin-write"},
		{name: "longest-prefix-exact", method: "POST", target: "/accounts/admin", wantRoute: "admin-write"},
		{name: "same-prefix-second-route", method: "DELETE", target: "/accounts/admin/users/7", wantRoute: "admin-delete"},
		{name: "name-defaults-to-prefix", method: "PATCH", target: "/any/thing", wantRoute: "/any"},
		{name: "trailing-slash-prefix", method: "GET", target: "/files/a.txt", wantRoute: "files"},
		{name: "query-ignored", method: "GET", target: "/accounts?x=/admin", wantRoute: "accounts"},

		// The longest prefix decides; its methods refuse with 405 even
		// when a shorter prefix takes the method: the longer route's rules
		// cover everything below it.
		{name: "longest-prefix-method-not-taken", method: "GET", target: "/accounts/admin/users", wantStatus: http.StatusMethodNotAllowed},
		{name: "head-not-taken", method: "HEAD", target: "/accounts/admin", wantStatus: http.StatusMethodNotAllowed},
		{name: "method-not-taken", method: "PUT", target: "/accounts/42", wantStatus: http.StatusMethodNotAllowed},
		{name: "lower-case-method", method: "get", target: "/accounts", wantStatus: http.StatusMethodNotAllowed},

		{name: "not-found-root", method: "GET", target: "/", wantStatus: http.StatusNotFound},
		{name: "not-found-segment-boundary", method: "GET", target: "/accountsx", wantStatus: http.StatusNotFound},
		{name: "not-found-shorter", method: "GET", target: "/account", wantStatus: http.StatusNotFound},
		{name: "not-found-prefix-without-slash", method: "GET", target: "/files", wantStatus: http.StatusNotFound},
		{name: "not-found-case", method: "GET", target: "/Accounts", wantStatus: http.StatusNotFound},

		{name: "bad-dot-dot", method: "GET", target: "/accounts/../admin", wantStatus: http.StatusBadRequest},
		{name: "bad-encoded-dot-dot", method: "GET", target: "/accounts/%2e%2e/admin", wantStatus: http.StatusBadRequest},
		{name: "bad-encoded-dot-dot-upper", method: "GET", target: "/accounts/%2E%2E", wantStatus: http.StatusBadRequest},
		{name: "bad-dot", method: "GET", target: "/accounts/./42", wantStatus: http.StatusBadRequest},
		{name: "bad-encoded-dot", method: "GET", target: "/accounts/%2e/42", wantStatus: http.StatusBadRequest},
		{name: "bad-empty-segment", method: "GET", target: "/accounts//42", wantStatus: http.StatusBadRequest},
		{name: "bad-encoded-slash", method: "GET", target: "/accounts/%2F/42", wantStatus: http.StatusBadRequest},
		{name: "bad-before-not-found", method: "GET", target: "/nothing/../accounts", wantStatus: http.StatusBadRequest},
		{name: "bad-asterisk", method: "OPTIONS", target: "*", wantStatus: http.StatusBadRequest},
		{name: "bad-empty", method: "GET", target: "/accounts", path: "-", wantStatus: http.StatusBadRequest},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, tc.target, nil)
			if tc.path == "-" {
				r.URL.Path = ""
			}
			rt, status := g.match(r)
			var got string
			if rt != nil {
				got = rt.name
			}
			if got != tc.wantRoute || status != tc.wantStatus {
				t.Errorf("match(%s %s) = %q, %d; want %q, %d", tc.method, tc.target, got, status, tc.wantRoute, tc.wantStatus)
			}

			// Unmatched requests are answered before any token check.
			if tc.wantStatus == 0 {
				return
			}
			w := httptest.NewRecorder()
			g.Handler().ServeHTTP(w, r)
			if w.Code != tc.wantStatus {
				t.Errorf("handler status = %d, want %d", w.Code, tc.wantStatus)
			}
			want := map[int]string{
				http.StatusBadRequest: resource.CodeInvalidRequest, http.StatusNotFound: "not_found",
				http.StatusMethodNotAllowed: "method_not_allowed",
			}[tc.wantStatus]
			var body struct{ Error string }
			if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body.Error != want {
				t.Errorf("handler body %q, want error %q", w.Body, want)
			}
		})
	}
}

// upstreamSeen is what the echo upstream received.
type upstreamSeen struct {
	RequestURI string
	Host       string
	Header     http.Header
}

// echoUpstream answers every request with what it received.
func echoUpstream(t *testing.T) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(upstreamSeen{RequestURI: r.RequestURI, Host: r.Host, Header: r.Header})
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestRewrite proxies requests through a route's ReverseProxy to an echo
// upstream, with the token the pipeline would have verified in the
// context, and checks what the upstream received.
func TestRewrite(t *testing.T) {
	up := echoUpstream(t)
	g := newTestGateway(t, Config{
		CertHeader:     "X-Client-Cert",
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")},
		Routes: []Route{
			{Name: "default", PathPrefix: "/default", Upstream: up.URL + "/base", Forward: DefaultForwardHeaders()},
			{Name: "custom", PathPrefix: "/custom", Upstream: up.URL, Forward: ForwardHeaders{Subject: "X-User", ClientID: "X-Client"}},
			{Name: "none", PathPrefix: "/none", Upstream: up.URL},
			{Name: "auth", PathPrefix: "/auth", Upstream: up.URL, ForwardAuthorization: true, Forward: DefaultForwardHeaders()},
			{Name: "strip", PathPrefix: "/api", Upstream: up.URL + "/base", StripPrefix: true},
			{Name: "strip-root", PathPrefix: "/api2", Upstream: up.URL, StripPrefix: true},
			{Name: "strip-slash", PathPrefix: "/api3/", Upstream: up.URL, StripPrefix: true},
		},
	})
	dpopTok := &resource.Token{
		Subject: "alice", ClientID: "bank-app", Scopes: []string{"openid", "accounts"},
		Binding: resource.BindingDPoP, JKT: "jkt-of-the-key",
	}
	mtlsTok := &resource.Token{Subject: "bob", ClientID: "batch", Binding: resource.BindingMTLS, X5T: "x5t-of-the-cert"}

	// spoofed are inbound headers no upstream may see.
	spoofed := http.Header{
		"X-Bulwark-Subject":   {"mallory"},
		"X-Bulwark-Client-Id": {"mallory-app"},
		"X-Bulwark-Scopes":    {"admin"},
		"X-Bulwark-Jkt":       {"mallory-jkt"},
		"X-Bulwark-X5t":       {"mallory-x5t"},
		"X-Bulwark-Anything":  {"x"},
		"X-User":              {"mallory"}, // forwarded by route custom only
		"X-Client":            {"mallory-app"},
		"X-Client-Cert":       {"-----BEGIN CERTIFICATE-----"},
		"Connection":          {"X-Hop"},
		"X-Hop":               {"1"},
		"Keep-Alive":          {"timeout=5"},
		"Proxy-Authorization": {"Basic bWFsbG9yeQ=="},
		"Proxy-Connection":    {"keep-alive"},
		"Forwarded":           {"for=6.6.6.6;host=evil.example;proto=http"},
		"X-Forwarded-Host":    {"evil.example"},
		"X-Forwarded-Proto":   {"http"},
		"X-Forwarded-Port":    {"80"},
		"X-Real-Ip":           {"6.6.6.6"},
	}
	credentials := http.Header{"Authorization": {"DPoP the-access-token"}, "Dpop": {"the-proof"}}
	base := func(extra map[string]string) map[string]string {
		m := map[string]string{
			"X-Forwarded-Host": "api.example:8443", "X-Forwarded-Proto": "https", "X-Forwarded-For": "192.0.2.1",
			"X-Real-Ip": "6.6.6.6", // not the gateway's to interpret; passed as any other header
		}
		for k, v := range extra {
			if v == "" {
				delete(m, k)
			} else {
				m[k] = v
			}
		}
		return m
	}
	tests := []struct {
		name       string
		target     string
		remoteAddr string
		header     http.Header
		token      *resource.Token // nil: none in the context
		wantURI    string
		// wantHeader is every header the upstream saw besides those the
		// Go client adds (Accept-Encoding, User-Agent, Content-Length).
		wantHeader map[string]string
	}{
		{name: "default-identity-dpop", target: "/default/x", token: dpopTok, wantURI: "/base/default/x", wantHeader: base(map[string]string{
			"X-Bulwark-Subject": "alice", "X-Bulwark-Client-Id": "bank-app", "X-Bulwark-Scopes": "openid accounts", "X-Bulwark-Jkt": "jkt-of-the-key",
		})},
		{name: "default-identity-mtls", target: "/default", token: mtlsTok, wantURI: "/base/default", wantHeader: base(map[string]string{
			"X-Bulwark-Subject": "bob", "X-Bulwark-Client-Id": "batch", "X-Bulwark-X5t": "x5t-of-the-cert",
		})},
		{name: "custom-identity", target: "/custom/x", token: dpopTok, wantURI: "/custom/x", wantHeader: base(map[string]string{
			"X-User": "alice", "X-Client": "bank-app",
		})},
		{name: "no-forward-headers", target: "/none", token: dpopTok, wantURI: "/none", wantHeader: base(nil)},
		{name: "no-token-in-context", target: "/default/x", wantURI: "/base/default/x", wantHeader: base(nil)},
		{name: "forward-authorization", target: "/auth/x", token: dpopTok, header: credentials, wantURI: "/auth/x", wantHeader: base(map[string]string{
			"Authorization": "DPoP the-access-token", "Dpop": "the-proof",
			"X-Bulwark-Subject": "alice", "X-Bulwark-Client-Id": "bank-app", "X-Bulwark-Scopes": "openid accounts", "X-Bulwark-Jkt": "jkt-of-the-key",
		})},
		{name: "authorization-removed", target: "/none", token: dpopTok, header: credentials, wantURI: "/none", wantHeader: base(nil)},

		{name: "xff-untrusted-peer-replaced", target: "/none", header: http.Header{"X-Forwarded-For": {"1.2.3.4"}}, wantURI: "/none", wantHeader: base(nil)},
		{name: "xff-trusted-peer-appended", target: "/none", remoteAddr: "10.1.2.3:4444", header: http.Header{"X-Forwarded-For": {"1.2.3.4", "5.6.7.8"}}, wantURI: "/none",
			wantHeader: base(map[string]string{"X-Forwarded-For": "1.2.3.4, 5.6.7.8, 10.1.2.3"})},
		{name: "xff-trusted-peer-alone", target: "/none", remoteAddr: "10.1.2.3:4444", wantURI: "/none",
			wantHeader: base(map[string]string{"X-Forwarded-For": "10.1.2.3"})},
		{name: "xff-trusted-mapped-peer", target: "/none", remoteAddr: "[::ffff:10.1.2.3]:4444", header: http.Header{"X-Forwarded-For": {"1.2.3.4"}}, wantURI: "/none",
			wantHeader: base(map[string]string{"X-Forwarded-For": "1.2.3.4, ::ffff:10.1.2.3"})},
		{name: "xff-ipv6-peer", target: "/none", remoteAddr: "[2001:db8::1]:4444", header: http.Header{"X-Forwarded-For": {"1.2.3.4"}}, wantURI: "/none",
			wantHeader: base(map[string]string{"X-Forwarded-For": "2001:db8::1"})},
		{name: "xff-unknown-peer", target: "/none", remoteAddr: "@", header: http.Header{"X-Forwarded-For": {"1.2.3.4"}}, wantURI: "/none",
			wantHeader: base(map[string]string{"X-Forwarded-For": ""})},

		{name: "strip-prefix", target: "/api/v1/x?q=1", wantURI: "/base/v1/x?q=1", wantHeader: base(nil)},
		// ReverseProxy joins the upstream path and the empty rest with '/'.
		{name: "strip-prefix-exact", target: "/api", wantURI: "/base/", wantHeader: base(nil)},
		{name: "strip-prefix-exact-slash", target: "/api/", wantURI: "/base/", wantHeader: base(nil)},
		{name: "strip-prefix-root-upstream", target: "/api2", wantURI: "/", wantHeader: base(nil)},
		{name: "strip-prefix-escaped", target: "/api/a%2Fb/c%20d", wantURI: "/base/a%2Fb/c%20d", wantHeader: base(nil)},
		{name: "strip-prefix-escaped-in-prefix", target: "/%61pi/a%2Fb", wantURI: "/base/a/b", wantHeader: base(nil)},
		{name: "strip-prefix-encoded-slash-after-prefix", target: "/api%2Fx", wantURI: "/base/x", wantHeader: base(nil)},
		{name: "strip-prefix-root-encoded-slash-after-prefix", target: "/api2%2Fx", wantURI: "/x", wantHeader: base(nil)},
		{name: "strip-prefix-with-slash", target: "/api3/x", wantURI: "/x", wantHeader: base(nil)},
		{name: "no-strip-escaped", target: "/none/a%2Fb", wantURI: "/none/a%2Fb", wantHeader: base(nil)},
	}
	ignored := []string{"Accept-Encoding", "User-Agent", "Content-Length"}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "http://evil.example"+tc.target, nil)
			r.RemoteAddr = "192.0.2.1:1234"
			if tc.remoteAddr != "" {
				r.RemoteAddr = tc.remoteAddr
			}
			for k, vs := range spoofed {
				r.Header[k] = slices.Clone(vs)
			}
			for k, vs := range tc.header {
				r.Header[k] = slices.Clone(vs)
			}
			if tc.token != nil {
				r = r.WithContext(resource.NewContext(r.Context(), tc.token))
			}
			rt, status := g.match(r)
			if rt == nil {
				t.Fatalf("no route: %d", status)
			}
			w := httptest.NewRecorder()
			rt.proxy.ServeHTTP(w, r)
			if w.Code != http.StatusOK {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			var seen upstreamSeen
			if err := json.Unmarshal(w.Body.Bytes(), &seen); err != nil {
				t.Fatal(err)
			}
			if seen.RequestURI != tc.wantURI {
				t.Errorf("upstream request URI %q, want %q", seen.RequestURI, tc.wantURI)
			}
			if want := up.Listener.Addr().String(); seen.Host != want {
				t.Errorf("upstream Host %q, want %q", seen.Host, want)
			}
			got := map[string]string{}
			for k, vs := range seen.Header {
				if slices.Contains(ignored, k) {
					continue
				}
				if len(vs) != 1 {
					t.Errorf("upstream header %s: %q, want one value", k, vs)
				}
				got[k] = vs[0]
			}
			if diff := cmp.Diff(tc.wantHeader, got); diff != "" {
				t.Errorf("upstream headers (-want +got):\n%s", diff)
			}
		})
	}
}
