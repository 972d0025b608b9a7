package e2e_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkauth/bulwark/internal/bff"
	"github.com/bulwarkauth/bulwark/internal/httpx"
	"github.com/bulwarkauth/bulwark/internal/telemetry"
	"github.com/bulwarkauth/bulwark/internal/testenv/oidcprovider"
	"github.com/bulwarkauth/bulwark/internal/testenv/testca"
)

// TestBFFInteropOIDCProvider runs the BFF against panva's oidc-provider, a
// third-party OpenID provider that requires PAR and DPoP nonces: login
// (userinfo claims, groups), API calls with DPoP tokens, a refresh on
// every call, RP-initiated logout with id_token_hint, and back-channel
// logout sent by the provider when its session ends.
func TestBFFInteropOIDCProvider(t *testing.T) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	base := "https://" + ln.Addr().String()
	op := oidcprovider.Start(t, oidcprovider.Options{
		RequireDPoPNonce: true, RequirePAR: true, BackchannelLogout: true,
		Clients: []map[string]any{{
			"client_id":                           "bulwark-bff",
			"application_type":                    "web",
			"token_endpoint_auth_method":          "private_key_jwt",
			"token_endpoint_auth_signing_alg":     "ES256",
			"jwks":                                map[string]any{"keys": []any{oidcprovider.PublicJWK(&key.PublicKey, "bff-1")}},
			"grant_types":                         []string{"authorization_code", "refresh_token"},
			"response_types":                      []string{"code"},
			"redirect_uris":                       []string{base + bff.PathCallback},
			"post_logout_redirect_uris":           []string{base + "/"},
			"backchannel_logout_uri":              base + bff.PathBackchannel,
			"backchannel_logout_session_required": true,
			"scope":                               "openid email profile groups",
			"dpop_bound_access_tokens":            true,
		}},
	})
	var mu sync.Mutex
	var auths []string
	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		auths = append(auths, strings.SplitN(r.Header.Get("Authorization"), " ", 2)[0]+" proof="+boolString(r.Header.Get("DPoP") != "")+" cookie="+r.Header.Get("Cookie"))
		mu.Unlock()
		w.Write([]byte(`{}`))
	}))
	t.Cleanup(upstream.Close)

	w := memoryStores(t)
	b, err := bff.New(t.Context(), bff.Config{
		BaseURL: base, Issuer: op.Issuer, ClientID: "bulwark-bff", Key: key, KeyID: "bff-1",
		Scopes: []string{"email", "profile", "groups"}, RequirePAR: true, DPoP: bff.DPoPRequired,
		HTTPClient:      op.HTTPClient(),
		RefreshInterval: time.Nanosecond, // every call refreshes
		Routes:          []bff.Route{{PathPrefix: "/api/", Upstream: upstream.URL}},
	}, w, telemetry.NewLogger(io.Discard, slog.LevelDebug))
	if err != nil {
		t.Fatal(err)
	}
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: b.Handler()}}
	leaf := op.CA.Issue(testca.Options{Server: true, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}})
	srv.TLS = httpx.TLSConfig()
	srv.TLS.Certificates = []tls.Certificate{leaf.TLS()}
	srv.StartTLS()
	t.Cleanup(srv.Close)

	browser := op.HTTPClient()
	noFollow := *browser
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	signIn := func() {
		t.Helper()
		resp := get(t, &noFollow, base+bff.PathStart+"?rd=/app")
		if resp.StatusCode != http.StatusFound {
			t.Fatalf("start: %d", resp.StatusCode)
		}
		cb := op.Login(t, browser, resp.Header.Get("Location"), "alice")
		if cb.Query().Get("iss") != op.Issuer {
			t.Errorf("callback %s lacks iss", cb)
		}
		resp = get(t, &noFollow, cb.String())
		if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/app" {
			b, _ := io.ReadAll(resp.Body)
			t.Fatalf("callback: %d %q %s\n%s", resp.StatusCode, resp.Header.Get("Location"), b, op.Stderr())
		}
	}
	api := func() int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, base+"/api/x", strings.NewReader("{}"))
		req.Header.Set("X-CSRF", "1")
		req.Header.Set("Origin", base)
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	signIn()
	var claims map[string]any
	resp := get(t, &noFollow, base+bff.PathUserinfo)
	json.NewDecoder(resp.Body).Decode(&claims)
	if claims["sub"] != "alice" || claims["email"] != "alice@example.com" {
		t.Errorf("userinfo: %v", claims)
	}
	resp = get(t, &noFollow, base+bff.PathAuth)
	if resp.StatusCode != http.StatusAccepted || resp.Header.Get("X-Auth-Request-Groups") != "admins,users" || resp.Header.Get("X-Auth-Request-User") != "alice" {
		t.Errorf("auth: %d %v", resp.StatusCode, resp.Header)
	}
	for i := range 3 {
		if got := api(); got != http.StatusOK {
			t.Fatalf("API call %d (with a refresh before it): %d\n%s", i, got, op.Stderr())
		}
	}
	mu.Lock()
	for _, a := range auths {
		if a != "DPoP proof=true cookie=" {
			t.Errorf("upstream saw %q", a)
		}
	}
	mu.Unlock()
	if n := bffCounter(t, b, "bulwark_bff_token_refreshes_total", "outcome", "ok"); n < 3 {
		t.Errorf("%d refreshes, want one per call", n)
	}

	// RP-initiated logout: local session gone, browser sent to the
	// provider's end_session_endpoint with id_token_hint.
	resp = get(t, &noFollow, base+bff.PathSignOut)
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc.String(), op.Issuer) ||
		loc.Query().Get("id_token_hint") == "" || loc.Query().Get("post_logout_redirect_uri") != base+"/" {
		t.Errorf("sign_out: %d to %s", resp.StatusCode, loc)
	}
	if got := api(); got != http.StatusUnauthorized {
		t.Errorf("API after sign-out: %d", got)
	}

	// Back-channel: sign in again, then end the session at the provider
	// (its logout confirmation); the provider posts a logout token to
	// the BFF, which ends the BFF session (counted by reason, since a
	// refresh would now fail too).
	signIn()
	if got := api(); got != http.StatusOK {
		t.Fatalf("API after the second login: %d", got)
	}
	endProviderSession(t, browser, op.Issuer)
	if n := bffCounter(t, b, "bulwark_bff_sessions_ended_total", "reason", "backchannel_logout"); n != 1 {
		t.Errorf("%d sessions ended by back-channel logout, want 1\n%s", n, op.Stderr())
	}
	if got := api(); got != http.StatusUnauthorized {
		t.Errorf("API after back-channel logout: %d\n%s", got, op.Stderr())
	}
}

var xsrfInput = regexp.MustCompile(`name="xsrf" value="([^"]+)"`)

// endProviderSession confirms logout on oidc-provider's own page.
func endProviderSession(t *testing.T, browser *http.Client, issuer string) {
	t.Helper()
	resp := get(t, browser, issuer+"/session/end")
	page, _ := io.ReadAll(resp.Body)
	m := xsrfInput.FindStringSubmatch(string(page))
	if m == nil {
		t.Fatalf("no logout form: %d %s", resp.StatusCode, page)
	}
	resp, err := browser.PostForm(issuer+"/session/end/confirm", url.Values{"xsrf": {m[1]}, "logout": {"yes"}})
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
