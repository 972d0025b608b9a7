package e2e_test

import (
	"crypto/tls"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkauth/bulwark/internal/authserver"
	"github.com/bulwarkauth/bulwark/internal/bff"
	"github.com/bulwarkauth/bulwark/internal/clients"
	"github.com/bulwarkauth/bulwark/internal/httpx"
	"github.com/bulwarkauth/bulwark/internal/jose"
	"github.com/bulwarkauth/bulwark/internal/oauth"
	"github.com/bulwarkauth/bulwark/internal/store"
	"github.com/bulwarkauth/bulwark/internal/store/memory"
	"github.com/bulwarkauth/bulwark/internal/telemetry"
	"github.com/bulwarkauth/bulwark/internal/testenv"
	"github.com/bulwarkauth/bulwark/internal/testenv/services"
	"github.com/bulwarkauth/bulwark/internal/testenv/testca"
	"github.com/bulwarkauth/bulwark/internal/testenv/testclock"
	"github.com/bulwarkauth/bulwark/resource"
)

// bffClient is the BFF's client at the test authorization server.
const bffClient = "bff-client"

// bffFixture is Bulwark's AS, a BFF in front of an upstream API that
// checks tokens with the public resource package, all on TLS with the
// test CA and one fake clock.
type bffFixture struct {
	env      *testenv.Env
	bff      *bff.BFF
	url      string // the BFF's origin
	clock    *testclock.Clock
	key      *jose.PrivateKey
	stores   bff.Stores
	cfg      bff.Config
	upstream *httptest.Server
	// calls records what the upstream saw, guarded by mu.
	mu    sync.Mutex
	calls []upstreamCall
}

type upstreamCall struct {
	Method, Path, Subject, Binding string
	Cookie, CSRF                   string
	GrantID                        string
	// Hop is the X-Hop header, which the browser names in Connection.
	Hop string
}

type bffOptions struct {
	stores    func(t *testing.T) bff.Stores
	config    func(*bff.Config)
	atTTL     time.Duration
	noRefresh bool
	// rsNonce makes the upstream require its own DPoP nonces.
	rsNonce bool
	// bearer registers a standard-profile client and runs the BFF with
	// DPoP off: the AS issues Bearer tokens.
	bearer bool
	// secret registers a standard-profile client_secret_basic client.
	secret bool
}

func memoryStores(*testing.T) bff.Stores {
	w := memory.NewWebSessions()
	return bff.Stores{Sessions: w, Logins: w.Logins(), Replay: memory.New().Replay}
}

func startBFF(t *testing.T, o bffOptions) *bffFixture {
	t.Helper()
	f := &bffFixture{clock: testclock.New()}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.url = "https://" + ln.Addr().String()
	key, err := jose.GenerateKey(jose.ES256)
	if err != nil {
		t.Fatal(err)
	}
	f.key = key
	jwks, _ := json.Marshal(map[string]any{"keys": []any{key.Public()}})
	grants := []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken}
	if o.noRefresh {
		grants = grants[:1]
	}
	profile, method, secret := clients.ProfileFAPI2, oauth.AuthPrivateKeyJWT, ""
	if o.bearer || o.secret {
		profile = clients.ProfileStandard
	}
	if o.secret {
		method, secret = oauth.AuthClientSecretBasic, "bff-client-secret-0123456789"
	}
	f.env = testenv.Start(t, testenv.Options{TLS: true, Config: func(c *authserver.Config) {
		c.Now = f.clock.Now
		if o.atTTL > 0 {
			c.AccessTokenTTL = o.atTTL
		}
		c.Clients = append(c.Clients, authserver.StaticClient{Secret: secret, Client: clients.Client{
			ID: bffClient, Name: "Test BFF", ProfileName: profile, AuthMethod: method,
			JWKS: jwks, RedirectURIs: []string{f.url + bff.PathCallback}, GrantTypes: grants,
			Scopes: oauth.NewScopes("openid", "profile", "email", "accounts"),
		}})
	}})
	verifier := &resource.Verifier{Issuer: f.env.Issuer, Audiences: []string{f.env.Issuer}, BaseURL: "", Replay: resource.NewMemoryReplayCache(),
		HTTPClient: &http.Client{Transport: f.env.Transport(nil)}, Now: f.clock.Now, AllowBearer: o.bearer}
	if o.rsNonce {
		verifier.DPoPNonce, verifier.NonceSecret = resource.NonceRequired, []byte(strings.Repeat("n", resource.MinNonceSecret))
	}
	f.upstream = httptest.NewUnstartedServer(nil)
	verifier.BaseURL = "http://" + f.upstream.Listener.Addr().String()
	f.upstream.Config.Handler = verifier.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, _ := resource.TokenFromContext(r.Context())
		f.mu.Lock()
		f.calls = append(f.calls, upstreamCall{Method: r.Method, Path: r.URL.Path, Subject: tok.Subject, Binding: tok.Binding,
			Cookie: r.Header.Get("Cookie"), CSRF: r.Header.Get("X-CSRF"), Hop: r.Header.Get("X-Hop")})
		if g, ok := tok.Claims["grant_id"].(string); ok {
			f.calls[len(f.calls)-1].GrantID = g
		}
		f.mu.Unlock()
		json.NewEncoder(w).Encode(map[string]string{"sub": tok.Subject, "path": r.URL.Path})
	}))
	f.upstream.Start()
	t.Cleanup(f.upstream.Close)

	if o.stores == nil {
		o.stores = memoryStores
	}
	f.stores = o.stores(t)
	cfg := bff.Config{
		BaseURL: f.url, Issuer: f.env.Issuer, ClientID: bffClient, Key: key.Signer(), Scopes: []string{"openid", "profile", "email"},
		RequirePAR: true, DPoP: bff.DPoPRequired, HTTPClient: &http.Client{Transport: f.env.Transport(nil), Timeout: 10 * time.Second},
		Routes: []bff.Route{{PathPrefix: "/api/", Upstream: verifier.BaseURL}},
		Now:    f.clock.Now,
	}
	if o.bearer {
		cfg.DPoP = bff.DPoPOff
	}
	if o.secret {
		cfg.Key, cfg.ClientSecret = nil, secret
	}
	if o.config != nil {
		o.config(&cfg)
	}
	f.cfg = cfg
	b, err := bff.New(t.Context(), cfg, f.stores, telemetry.NewLogger(io.Discard, slog.LevelDebug))
	if err != nil {
		t.Fatal(err)
	}
	f.bff = b
	f.serve(t, ln, b)
	return f
}

// serve runs b over TLS on ln with a test-CA certificate for 127.0.0.1.
func (f *bffFixture) serve(t *testing.T, ln net.Listener, b *bff.BFF) {
	t.Helper()
	srv := &httptest.Server{Listener: ln, Config: &http.Server{Handler: b.Handler()}}
	leaf := f.env.CA.Issue(testca.Options{Server: true, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, DNS: []string{"localhost"}})
	srv.TLS = httpx.TLSConfig()
	srv.TLS.Certificates = []tls.Certificate{leaf.TLS()}
	srv.StartTLS()
	t.Cleanup(srv.Close)
}

// browser returns a cookie-keeping client that trusts the test CA and
// does not follow redirects.
func (f *bffFixture) browser() *http.Client {
	c := testenv.NewBrowser()
	c.Transport = f.env.Transport(nil)
	return c
}

// signIn runs /oauth2/start?rd=... through the AS's login and consent and
// returns the BFF's answer to the callback.
func (f *bffFixture) signIn(t *testing.T, browser *http.Client, rd string) *http.Response {
	t.Helper()
	cb := f.authorize(t, browser, rd)
	return get(t, browser, cb)
}

// signedInSession signs a fresh browser in and returns it with its
// session cookie and the stored session record.
func (f *bffFixture) signedInSession(t *testing.T) (*http.Client, *http.Cookie, *store.WebSession) {
	t.Helper()
	browser := f.browser()
	f.signIn(t, browser, "/")
	sc := sessionCookie(browser, f.url)
	if sc == nil {
		t.Fatal("no session cookie after sign-in")
	}
	s, err := f.stores.Sessions.Get(t.Context(), store.Hash(sc.Value))
	if err != nil {
		t.Fatal(err)
	}
	return browser, sc, s
}

// recordingUpstream answers body and records the headers of every request.
func recordingUpstream(t *testing.T, body string) (*httptest.Server, func() []http.Header) {
	t.Helper()
	var mu sync.Mutex
	var seen []http.Header
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Clone())
		mu.Unlock()
		w.Write([]byte(body))
	}))
	t.Cleanup(srv.Close)
	return srv, func() []http.Header {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(seen)
	}
}

// authorize runs start, login and consent and returns the callback URL
// the AS redirected to, not yet visited.
func (f *bffFixture) authorize(t *testing.T, browser *http.Client, rd string) string {
	t.Helper()
	resp := get(t, browser, f.url+bff.PathStart+"?rd="+url.QueryEscape(rd))
	if resp.StatusCode != http.StatusFound {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("start: %d %s", resp.StatusCode, b)
	}
	authz := resp.Header.Get("Location")
	if u, _ := url.Parse(authz); len(u.Query()) != 2 || u.Query().Get("request_uri") == "" {
		t.Errorf("authorization URL %q: want only client_id and request_uri (FAPI 2.0 SP §5.3.3.2-6)", authz)
	}
	var page *http.Response
	if first := get(t, browser, authz); first.StatusCode == http.StatusSeeOther {
		page = first // the AS session and consent are remembered
	} else {
		page = login(t, f.env, browser, authz, testenv.UserName, testenv.UserPassword)
	}
	if page.StatusCode != http.StatusSeeOther {
		page = consent(t, f.env, browser, page, "approve")
	}
	if page.StatusCode != http.StatusSeeOther {
		t.Fatalf("consent: %d", page.StatusCode)
	}
	cb := page.Header.Get("Location")
	if !strings.HasPrefix(cb, f.url+bff.PathCallback+"?") {
		t.Fatalf("the AS redirected to %q", cb)
	}
	return cb
}

func (f *bffFixture) lastCall(t *testing.T) upstreamCall {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) == 0 {
		t.Fatal("the upstream saw no request")
	}
	return f.calls[len(f.calls)-1]
}

func (f *bffFixture) callCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

// apiRequest sends method to the BFF's path with the CSRF header and the
// BFF's own Origin unless the header map says otherwise.
func (f *bffFixture) apiRequest(t *testing.T, browser *http.Client, method, path string, h map[string]string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(method, f.url+path, strings.NewReader(`{}`))
	req.Header.Set("X-CSRF", "1")
	req.Header.Set("Origin", f.url)
	for k, v := range h {
		if v == "" {
			req.Header.Del(k)
		} else {
			req.Header.Set(k, v)
		}
	}
	resp, err := browser.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func sessionCookie(browser *http.Client, origin string) *http.Cookie {
	u, _ := url.Parse(origin)
	for _, c := range browser.Jar.Cookies(u) {
		if c.Name == bff.DefaultCookieName {
			return c
		}
	}
	return nil
}

// TestBFFLoginAPIRefreshSignOut is the whole life of a session against
// Bulwark's AS: PAR login, an API call that reaches the upstream with a
// DPoP-bound token and a valid proof, a refresh past the access token's
// lifetime, and sign-out.
func TestBFFLoginAPIRefreshSignOut(t *testing.T) {
	f := startBFF(t, bffOptions{atTTL: time.Minute})
	browser := f.browser()
	resp := f.signIn(t, browser, "/app/page?x=1")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/app/page?x=1" {
		t.Fatalf("callback: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	var sc *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == bff.DefaultCookieName {
			sc = c
		}
	}
	if sc == nil || !sc.Secure || !sc.HttpOnly || sc.SameSite != http.SameSiteLaxMode || sc.Path != "/" || sc.Domain != "" {
		t.Fatalf("session cookie %+v: want __Host-, Secure, HttpOnly, SameSite=Lax, Path=/", sc)
	}
	// The session ID is stored only hashed.
	if _, err := f.stores.Sessions.Get(t.Context(), sc.Value); err == nil {
		t.Error("the session is stored under its plain ID")
	}
	rec, err := f.stores.Sessions.Get(t.Context(), store.Hash(sc.Value))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(rec.Data), "eyJ") {
		t.Error("the stored session holds a readable JWT; tokens must be encrypted")
	}

	// GET through the proxy: DPoP-bound token, proof verified upstream.
	resp = f.apiRequest(t, browser, http.MethodGet, "/api/things", nil)
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /api/things: %d %s", resp.StatusCode, body)
	}
	call := f.lastCall(t)
	if call.Binding != resource.BindingDPoP || call.Subject == "" || call.Path != "/api/things" || call.Cookie != "" {
		t.Errorf("upstream saw %+v: want a DPoP-bound token, no cookies", call)
	}
	// A state-changing call with the CSRF header and own Origin; the
	// hop-by-hop header it names in Connection stops at the BFF.
	resp = f.apiRequest(t, browser, http.MethodPost, "/api/things", map[string]string{"Connection": "X-Hop", "X-Hop": "1", "Authorization": "Bearer from-the-browser"})
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("POST: %d", resp.StatusCode)
	}
	if c := f.lastCall(t); c.Hop != "" || c.Binding != resource.BindingDPoP {
		t.Errorf("upstream saw %+v: want no hop-by-hop header and the session's DPoP token", c)
	}

	// Userinfo and the nginx auth endpoint.
	var claims map[string]any
	resp = get(t, browser, f.url+bff.PathUserinfo)
	json.NewDecoder(resp.Body).Decode(&claims)
	if resp.StatusCode != http.StatusOK || claims["email"] != testenv.UserEmail {
		t.Errorf("userinfo: %d %v", resp.StatusCode, claims)
	}
	resp = get(t, browser, f.url+bff.PathAuth)
	if resp.StatusCode != http.StatusAccepted || resp.Header.Get("X-Auth-Request-Email") != testenv.UserEmail ||
		resp.Header.Get("X-Auth-Request-User") == "" || resp.Header.Get("X-Auth-Request-Access-Token") != "" {
		t.Errorf("auth: %d %v", resp.StatusCode, resp.Header)
	}

	// Past the access token's lifetime: the next call refreshes first.
	f.clock.Advance(2 * time.Minute)
	resp = f.apiRequest(t, browser, http.MethodGet, "/api/after-refresh", nil)
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("after the token expired: %d %s", resp.StatusCode, b)
	}
	rec2, err := f.stores.Sessions.Get(t.Context(), store.Hash(sc.Value))
	if err != nil || rec2.Version <= rec.Version {
		t.Errorf("the session was not updated by a refresh: %v", err)
	}

	// Sign out: local session gone, cookie cleared; Bulwark advertises no
	// end_session_endpoint, so back to rd.
	resp = get(t, browser, f.url+bff.PathSignOut+"?rd=/bye")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/bye" {
		t.Errorf("sign_out: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if _, err := f.stores.Sessions.Get(t.Context(), store.Hash(sc.Value)); err == nil {
		t.Error("the session survived sign-out")
	}
	resp = f.apiRequest(t, browser, http.MethodGet, "/api/things", nil)
	if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Errorf("API after sign-out: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	// Other paths redirect to sign in.
	resp = get(t, browser, f.url+"/app/page")
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), bff.PathStart+"?rd=%2Fapp%2Fpage") {
		t.Errorf("page after sign-out: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// TestBFFConcurrentRefresh fires many API calls at once after the access
// token expired: exactly one refresh reaches the AS.
func TestBFFConcurrentRefresh(t *testing.T) {
	for name, stores := range map[string]func(*testing.T) bff.Stores{"memory": memoryStores, "redis": redisStores} {
		t.Run(name, func(t *testing.T) {
			f := startBFF(t, bffOptions{atTTL: time.Minute, stores: stores})
			browser, sc, before := f.signedInSession(t)
			f.clock.Advance(2 * time.Minute)
			const n = 20
			var wg sync.WaitGroup
			for range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					resp := f.apiRequest(t, browser, http.MethodGet, "/api/x", nil)
					if resp.StatusCode != http.StatusOK {
						t.Errorf("concurrent call: %d", resp.StatusCode)
					}
					resp.Body.Close()
				}()
			}
			wg.Wait()
			after, err := f.stores.Sessions.Get(t.Context(), store.Hash(sc.Value))
			if err != nil {
				t.Fatal(err)
			}
			// One refresh is two writes: take the lease, store the tokens.
			if after.Version-before.Version != 2 {
				t.Errorf("the session went from version %d to %d: want exactly one refresh (2 writes)", before.Version, after.Version)
			}
			if got := refreshCount(t, f); got != 1 {
				t.Errorf("%d refreshes counted, want 1", got)
			}
		})
	}
}

// refreshCount reads bulwark_bff_token_refreshes_total{outcome="ok"}.
func refreshCount(t *testing.T, f *bffFixture) int {
	t.Helper()
	return bffCounter(t, f.bff, "bulwark_bff_token_refreshes_total", "outcome", "ok")
}

// bffCounter reads the counter name{label=value} of b's metrics.
func bffCounter(t *testing.T, b *bff.BFF, name, label, value string) int {
	t.Helper()
	mfs, err := b.Metrics().Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name {
			for _, m := range mf.GetMetric() {
				for _, l := range m.GetLabel() {
					if l.GetName() == label && l.GetValue() == value {
						return int(m.GetCounter().GetValue())
					}
				}
			}
		}
	}
	return 0
}

func redisStores(t *testing.T) bff.Stores {
	c := services.OpenRedis(t)
	return bff.Stores{Sessions: c.WebSessions(), Logins: c.PendingLogins(), Replay: c.Store().Replay, Ping: c.Ping}
}

// TestBFFSenderConstraints covers the upstream's DPoP nonces (the client
// Transport retries once with the nonce, then remembers it) and a
// provider that issues Bearer tokens (DPoP off).
func TestBFFSenderConstraints(t *testing.T) {
	t.Run("ok/resource server nonce", func(t *testing.T) {
		f := startBFF(t, bffOptions{rsNonce: true})
		browser := f.browser()
		f.signIn(t, browser, "/")
		for i := range 3 {
			if resp := f.apiRequest(t, browser, http.MethodPost, "/api/x", nil); resp.StatusCode != http.StatusOK {
				t.Fatalf("call %d: %d", i, resp.StatusCode)
			}
		}
		if c := f.lastCall(t); c.Binding != resource.BindingDPoP {
			t.Errorf("upstream saw %+v", c)
		}
	})
	t.Run("ok/client_secret_basic", func(t *testing.T) {
		f := startBFF(t, bffOptions{secret: true})
		browser := f.browser()
		f.signIn(t, browser, "/")
		if resp := f.apiRequest(t, browser, http.MethodGet, "/api/x", nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("API: %d", resp.StatusCode)
		}
	})
	t.Run("ok/bearer", func(t *testing.T) {
		f := startBFF(t, bffOptions{bearer: true})
		browser := f.browser()
		f.signIn(t, browser, "/")
		if resp := f.apiRequest(t, browser, http.MethodGet, "/api/x", nil); resp.StatusCode != http.StatusOK {
			t.Fatalf("API: %d", resp.StatusCode)
		}
		if c := f.lastCall(t); c.Binding != resource.BindingBearer {
			t.Errorf("upstream saw %+v, want a Bearer token", c)
		}
	})
}

// TestBFFTwoNodesRefreshOnce runs two BFF nodes on one Redis (same
// session secret and DPoP key, as behind a balancer) and sends concurrent
// calls of one session to both after the access token expired: the
// compare-and-set lease lets exactly one node refresh.
func TestBFFTwoNodesRefreshOnce(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "dpop.jwk")
	f := startBFF(t, bffOptions{atTTL: time.Minute, stores: redisStores, config: func(c *bff.Config) {
		c.SessionSecret = []byte(strings.Repeat("k", 32))
		c.DPoPKeyFile = keyFile
	}})
	node2, err := bff.New(t.Context(), f.cfg, f.stores, telemetry.NewLogger(io.Discard, slog.LevelDebug))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	f.serve(t, ln, node2)
	url2 := "https://" + ln.Addr().String()

	browser, sc, before := f.signedInSession(t)
	f.clock.Advance(2 * time.Minute)
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			node := f.url
			if i%2 == 1 {
				node = url2
			}
			// Cookies are per host, not port: the jar sends the session
			// cookie to both nodes.
			resp := get(t, browser, node+"/api/x")
			if resp.StatusCode != http.StatusOK {
				t.Errorf("call to %s: %d", node, resp.StatusCode)
			}
			resp.Body.Close()
		}()
	}
	wg.Wait()
	after, err := f.stores.Sessions.Get(t.Context(), store.Hash(sc.Value))
	if err != nil {
		t.Fatal(err)
	}
	total := refreshCount(t, f) + bffCounter(t, node2, "bulwark_bff_token_refreshes_total", "outcome", "ok")
	if total != 1 || after.Version-before.Version != 2 {
		t.Errorf("%d refreshes over two nodes, version %d → %d: want exactly one refresh", total, before.Version, after.Version)
	}
}

// TestBFFStaticUpstreamAndAdmin serves the app from an upstream (no
// cookies or tokens forwarded) and checks /healthz, /readyz and /metrics.
func TestBFFStaticUpstreamAndAdmin(t *testing.T) {
	app, seenBy := recordingUpstream(t, "<!doctype html><title>app</title>")
	f := startBFF(t, bffOptions{stores: redisStores, config: func(c *bff.Config) { c.StaticUpstream = app.URL }})
	browser := f.browser()
	f.signIn(t, browser, "/")
	resp := get(t, browser, f.url+"/index.html")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("app: %d", resp.StatusCode)
	}
	if seen := seenBy(); len(seen) != 1 || seen[0].Get("Cookie") != "" || seen[0].Get("Authorization") != "" {
		t.Errorf("the app upstream saw %v", seen)
	}
	for path, want := range map[string]int{bff.PathHealth: 200, bff.PathReady: 200, bff.PathMetrics: 200} {
		if resp := get(t, f.browser(), f.url+path); resp.StatusCode != want {
			t.Errorf("%s: %d", path, resp.StatusCode)
		}
	}
	resp = get(t, f.browser(), f.url+bff.PathMetrics)
	b, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(b), `bulwark_bff_logins_total{outcome="ok"} 1`) {
		t.Error("metrics lack the login")
	}
}
