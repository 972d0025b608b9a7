package main

import (
	"bytes"
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwarkauth/bulwark/client"
	"github.com/bulwarkauth/bulwark/internal/authserver"
	"github.com/bulwarkauth/bulwark/internal/config"
	"github.com/bulwarkauth/bulwark/internal/store/redis"
	"github.com/bulwarkauth/bulwark/internal/testenv"
	"github.com/bulwarkauth/bulwark/internal/testenv/services"
	"github.com/bulwarkauth/bulwark/internal/testenv/testclock"
)

// cli runs the client commands in-process against a real server, with a
// browser opener that drives the login pages over HTTP, a transport that
// records what was sent, and a device-flow wait that approves the code.
type cli struct {
	t         *testing.T
	srv       *testenv.Env
	clock     *testclock.Clock // the server's clock, moved by device-flow waits; nil when real
	env       config.Env
	configDir string
	cacheDir  string
	opens     atomic.Int32 // browser opener calls
	// rec records the commands' requests; nil lets the commands build
	// their transport from the profile (needed for client certificates).
	rec *recorder
	// browserTLS is the browser's transport for an https server.
	browserTLS http.RoundTripper
	// device is what the user does with a device-flow code: "" approves,
	// "deny" denies, "expire" lets it expire (moving clock).
	device string

	mu     sync.Mutex
	stderr *syncBuffer // guarded by mu: the stderr of the command running now
	waits  int         // guarded by mu: deviceWait calls in this run
}

// syncBuffer is a bytes.Buffer that a test goroutine may read while the
// command writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func (c *cli) stderrSnapshot() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stderr == nil {
		return ""
	}
	return c.stderr.String()
}

func newCLI(t *testing.T, srv *testenv.Env, clock *testclock.Clock) *cli {
	t.Helper()
	c := &cli{t: t, srv: srv, clock: clock, configDir: t.TempDir(), cacheDir: filepath.Join(t.TempDir(), "cache")}
	c.env = config.Env{envConfigDir: c.configDir, envCacheDir: c.cacheDir}
	c.rec = &recorder{base: http.DefaultTransport}
	return c
}

// run executes bulwark with args and returns stdout, stderr and the exit
// status.
func (c *cli) run(args ...string) (string, string, int) {
	c.t.Helper()
	var stdout bytes.Buffer
	stderr := &syncBuffer{}
	c.mu.Lock()
	c.stderr, c.waits = stderr, 0
	c.mu.Unlock()
	deps := clientDeps{openBrowser: c.browse, sleep: c.deviceWait}
	if c.rec != nil {
		deps.transport = c.rec
	}
	status := execute(context.Background(), newRootCommand(c.env, deps), args, &stdout, stderr)
	return stdout.String(), stderr.String(), status
}

// mustRun is run that fails the test unless the status is 0.
func (c *cli) mustRun(args ...string) string {
	c.t.Helper()
	out, errOut, status := c.run(args...)
	if status != 0 {
		c.t.Fatalf("bulwark %s: status %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), status, out, errOut)
	}
	return out
}

var hiddenInput = regexp.MustCompile(`<input type="hidden" name="([a-z_]+)" value="([^"]*)">`)

// page reads a page's body and hidden form fields.
func page(resp *http.Response) (string, url.Values) {
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fields := url.Values{}
	for _, m := range hiddenInput.FindAllStringSubmatch(string(b), -1) {
		fields.Set(m[1], strings.NewReplacer("&#43;", "+", "&amp;", "&", "&#34;", `"`, "&#39;", "'").Replace(m[2]))
	}
	return string(b), fields
}

func postForm(c *http.Client, u string, form url.Values) (*http.Response, error) {
	return c.PostForm(u, form)
}

// browse is the test's browser: it logs alice in on the authorization
// page, approves the consent, and follows the redirect to the loopback
// listener. It runs on Login's goroutine, so it returns errors.
func (c *cli) browse(ctx context.Context, authURL string) error {
	c.opens.Add(1)
	return c.drive(authURL)
}

// drive is the browser's part of the loopback login.
func (c *cli) drive(authURL string) error {
	b := testenv.NewBrowser()
	if c.browserTLS != nil {
		b.Transport = c.browserTLS
	}
	resp, err := b.Get(authURL)
	if err != nil {
		return err
	}
	body, f := page(resp)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("authorize: %d: %s", resp.StatusCode, body)
	}
	resp, err = postForm(b, c.srv.URL+"/login", url.Values{"csrf_token": {f.Get("csrf_token")}, "handle": {f.Get("handle")},
		"username": {testenv.UserName}, "password": {testenv.UserPassword}})
	if err != nil {
		return err
	}
	if resp.StatusCode == http.StatusOK { // the consent page
		_, f = page(resp)
		if resp, err = postForm(b, c.srv.URL+"/consent", url.Values{"csrf_token": {f.Get("csrf_token")}, "handle": {f.Get("handle")}, "decision": {"approve"}}); err != nil {
			return err
		}
	}
	if resp.StatusCode != http.StatusSeeOther {
		body, _ := page(resp)
		return fmt.Errorf("login: want a 303 to the client, got %d: %s", resp.StatusCode, body)
	}
	resp.Body.Close()
	cb, err := http.Get(resp.Header.Get("Location")) // the loopback listener
	if err != nil {
		return err
	}
	cb.Body.Close()
	return nil
}

var shownCode = regexp.MustCompile(`enter the code\n\n  (\S+)`)

// deviceWait is the device flow's wait between polls: the second one
// approves the code printed on stderr on the /device pages (so the first
// poll sees authorization_pending), and each moves the server's clock by
// the interval.
func (c *cli) deviceWait(ctx context.Context, d time.Duration) error {
	m := shownCode.FindStringSubmatch(c.stderrSnapshot())
	if m == nil {
		return errors.New("no user code on stderr")
	}
	c.mu.Lock()
	c.waits++
	n := c.waits
	c.mu.Unlock()
	if n == 2 {
		switch c.device {
		case "expire":
			c.clock.Advance(time.Hour)
		default:
			if err := c.approveDevice(m[1]); err != nil {
				return err
			}
		}
	}
	if c.clock != nil {
		c.clock.Advance(d)
	}
	return nil
}

// approveDevice drives /device as alice: code entry, login, consent.
func (c *cli) approveDevice(code string) error {
	b := testenv.NewBrowser()
	resp, err := b.Get(c.srv.URL + "/device")
	if err != nil {
		return err
	}
	_, f := page(resp)
	for _, step := range []url.Values{
		{"user_code": {code}},
		{"username": {testenv.UserName}, "password": {testenv.UserPassword}},
		{"decision": {cmp.Or(c.device, "approve")}},
	} {
		for k, v := range step {
			f[k] = v
		}
		if resp, err = postForm(b, c.srv.URL+"/device", f); err != nil {
			return err
		}
		var body string
		body, f = page(resp)
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("device page: %d: %s", resp.StatusCode, body)
		}
	}
	return nil
}

// recorder is the base transport: it counts requests by method and path
// and keeps the headers of the last one.
type recorder struct {
	base   http.RoundTripper
	mu     sync.Mutex
	counts map[string]int         // guarded by mu
	last   map[string]http.Header // guarded by mu
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	k := req.Method + " " + req.URL.Path
	r.mu.Lock()
	if r.counts == nil {
		r.counts, r.last = map[string]int{}, map[string]http.Header{}
	}
	r.counts[k]++
	r.last[k] = req.Header.Clone()
	r.mu.Unlock()
	return r.base.RoundTrip(req)
}

func (r *recorder) count(k string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.counts[k]
}

func (r *recorder) header(k string) http.Header {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.last[k]
}

func decodeToken(t *testing.T, out string) tokenOutput {
	t.Helper()
	var tok tokenOutput
	if err := json.Unmarshal([]byte(out), &tok); err != nil {
		t.Fatalf("token --json: %v:\n%s", err, out)
	}
	return tok
}

// cacheFile is the single token cache entry of the test.
func (c *cli) cacheFile(t *testing.T) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(c.cacheDir, "*.json"))
	if len(m) != 1 {
		t.Fatalf("cache holds %v, want one entry", m)
	}
	return m[0]
}

// editCache rewrites the cached entry's members.
func (c *cli) editCache(t *testing.T, set map[string]any) map[string]any {
	t.Helper()
	p := c.cacheFile(t)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var e map[string]any
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	for k, v := range set {
		e[k] = v
	}
	if b, err = json.Marshal(e); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return e
}

func wantMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != want {
		t.Errorf("%s has mode %v, want %v", path, fi.Mode().Perm(), want)
	}
}

// userinfo calls the userinfo endpoint directly with the given headers.
func userinfo(t *testing.T, srv *testenv.Env, h http.Header) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/userinfo", nil)
	req.Header = h
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func loopbackArgs(srv *testenv.Env, clientID string, extra ...string) []string {
	return append([]string{"login", "--issuer", srv.URL, "--client-id", clientID, "--redirect-url", testenv.LoopbackURI,
		"--insecure-allow-http"}, extra...)
}

// TestLoginDPoP is the whole life of a DPoP-bound login with the public
// client: loopback login, token from the cache, curl with proofs, replay
// refused, refresh after expiry, logout with revocation.
func TestLoginDPoP(t *testing.T) {
	srv := testenv.Start(t, testenv.Options{})
	c := newCLI(t, srv, nil)

	_, stderr, status := c.run(loopbackArgs(srv, testenv.PublicClient, "--scopes", "openid profile email offline_access", "--save")...)
	if status != 0 {
		t.Fatalf("login: status %d:\n%s", status, stderr)
	}
	if c.opens.Load() != 1 || !strings.Contains(stderr, srv.URL+"/authorize?") || !strings.Contains(stderr, "DPoP token") {
		t.Errorf("login: %d browser opens, stderr:\n%s", c.opens.Load(), stderr)
	}
	keyFile := filepath.Join(c.configDir, "dpop-keys", "default.jwk")
	wantMode(t, keyFile, 0o600)
	wantMode(t, filepath.Join(c.configDir, "profiles", "default.json"), 0o600)
	wantMode(t, c.cacheDir, 0o700)
	wantMode(t, c.cacheFile(t), 0o600)
	keyJSON, _ := os.ReadFile(keyFile)
	key, err := client.ParseDPoPKey(keyJSON)
	if err != nil {
		t.Fatal(err)
	}
	tokens := c.rec.count("POST /token")

	// From here on the saved profile supplies issuer, client and flags.
	tok := decodeToken(t, c.mustRun("token", "--json"))
	if tok.TokenType != "DPoP" || tok.Scope != "email offline_access openid profile" || tok.ExpiresIn <= 0 || tok.IDToken == "" {
		t.Errorf("token --json = %+v", tok)
	}
	cnf, _ := testenv.Claims(t, tok.AccessToken)["cnf"].(map[string]any)
	if cnf["jkt"] != key.Thumbprint() {
		t.Errorf("cnf = %v, want jkt %s (the saved DPoP key)", cnf, key.Thumbprint())
	}
	if got := strings.TrimSpace(c.mustRun("token")); got != tok.AccessToken {
		t.Errorf("token = %q, want the cached %q", got, tok.AccessToken)
	}
	if n := c.rec.count("POST /token"); n != tokens || c.opens.Load() != 1 {
		t.Errorf("token runs made %d token requests and %d logins, want none: they resume from the cache", n-tokens, c.opens.Load()-1)
	}

	// curl sends the token with a proof bound to it (ath).
	out := c.mustRun("curl", srv.URL+"/userinfo")
	var ui map[string]any
	if err := json.Unmarshal([]byte(out), &ui); err != nil || ui["email"] != testenv.UserEmail || ui["sub"] == nil {
		t.Errorf("curl userinfo = %s (%v)", out, err)
	}
	h := c.rec.header("GET /userinfo")
	sum := sha256.Sum256([]byte(tok.AccessToken))
	if h.Get("Authorization") != "DPoP "+tok.AccessToken || testenv.Claims(t, h.Get("DPoP"))["ath"] != base64.RawURLEncoding.EncodeToString(sum[:]) {
		t.Errorf("curl sent Authorization %q, DPoP claims %v", h.Get("Authorization"), testenv.Claims(t, h.Get("DPoP")))
	}
	// The token alone is worth nothing: without a proof, or as Bearer,
	// it is refused.
	for _, auth := range []string{"DPoP " + tok.AccessToken, "Bearer " + tok.AccessToken} {
		if st := userinfo(t, srv, http.Header{"Authorization": {auth}}); st != http.StatusUnauthorized {
			t.Errorf("userinfo with %.12s… and no proof: %d, want 401", auth, st)
		}
	}
	out = c.mustRun("curl", "-i", "-f", "-H", "Accept: application/json", srv.URL+"/userinfo")
	if !strings.HasPrefix(out, "HTTP/1.1 200 OK\r\n") || !strings.Contains(out, "\r\n\r\n{") {
		t.Errorf("curl -i:\n%s", out)
	}

	// An expired access token is refreshed, and the rotated tokens cached.
	old := c.editCache(t, map[string]any{"expiry": time.Now().Add(-time.Minute).Format(time.RFC3339)})
	tokens = c.rec.count("POST /token")
	tok2 := decodeToken(t, c.mustRun("token", "--json"))
	if tok2.AccessToken == tok.AccessToken || tok2.TokenType != "DPoP" || c.rec.count("POST /token") != tokens+1 || c.opens.Load() != 1 {
		t.Errorf("after expiry: same token %v, %d token requests, %d logins; want one refresh", tok2.AccessToken == tok.AccessToken, c.rec.count("POST /token")-tokens, c.opens.Load()-1)
	}
	entry := c.editCache(t, nil)
	if entry["refresh_token"] == old["refresh_token"] {
		t.Error("the rotated refresh token was not cached")
	}

	// logout revokes the grant and removes the cache entry, not the key.
	_, stderr, status = c.run("logout")
	if status != 0 || !strings.Contains(stderr, "Revoked") {
		t.Fatalf("logout: %d:\n%s", status, stderr)
	}
	if m, _ := filepath.Glob(filepath.Join(c.cacheDir, "*.json")); len(m) != 0 {
		t.Errorf("cache entries after logout: %v", m)
	}
	if _, err := os.Stat(keyFile); err != nil {
		t.Errorf("the DPoP key went with logout: %v", err)
	}
	proof, _ := key.Proof(http.MethodGet, srv.URL+"/userinfo", tok2.AccessToken, "")
	if st := userinfo(t, srv, http.Header{"Authorization": {"DPoP " + tok2.AccessToken}, "Dpop": {proof}}); st != http.StatusUnauthorized {
		t.Errorf("the access token works after logout: %d", st)
	}
	proof, _ = key.Proof(http.MethodPost, srv.URL+"/token", "", "")
	var eb struct{ Error string }
	resp := srv.PostForm(t, nil, "/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {entry["refresh_token"].(string)}, "client_id": {testenv.PublicClient}},
		http.Header{"Dpop": {proof}}, &eb)
	if resp.StatusCode != http.StatusBadRequest || eb.Error != "invalid_grant" {
		t.Errorf("refresh after logout: %d %q, want invalid_grant", resp.StatusCode, eb.Error)
	}
	_, stderr, status = c.run("token")
	if status != 1 || !strings.Contains(stderr, `no token cached for profile "default"`) || !strings.Contains(stderr, "run `bulwark login`") {
		t.Errorf("token after logout: %d:\n%s", status, stderr)
	}
	_, _, status = c.run("logout", "--forget-key")
	if _, err := os.Stat(keyFile); status != 0 || !errors.Is(err, os.ErrNotExist) {
		t.Errorf("logout --forget-key: status %d, key file: %v", status, err)
	}
}

// TestLoginFAPI logs in with the FAPI client (private_key_jwt from a JWK
// file) under a named profile, and checks logout at introspection.
func TestLoginFAPI(t *testing.T) {
	srv := testenv.Start(t, testenv.Options{})
	c := newCLI(t, srv, nil)
	keyFile := filepath.Join(t.TempDir(), "fapi.jwk")
	jwk, _ := srv.Keys[testenv.FAPIClient].MarshalJSON()
	if err := os.WriteFile(keyFile, jwk, 0o600); err != nil {
		t.Fatal(err)
	}
	c.mustRun(loopbackArgs(srv, testenv.FAPIClient, "--profile", "fapi", "--key-file", keyFile, "--scopes", "openid accounts", "--save")...)
	tok := decodeToken(t, c.mustRun("token", "--json", "--profile", "fapi"))
	key, err := client.LoadOrCreateDPoPKey(filepath.Join(c.configDir, "dpop-keys", "fapi.jwk"))
	if err != nil {
		t.Fatal(err)
	}
	if cnf, _ := testenv.Claims(t, tok.AccessToken)["cnf"].(map[string]any); tok.TokenType != "DPoP" || cnf["jkt"] != key.Thumbprint() {
		t.Errorf("token = %+v, cnf %v", tok, cnf)
	}
	if out := c.mustRun("curl", "--profile", "fapi", "-s", srv.URL+"/userinfo"); !strings.Contains(out, `"sub"`) {
		t.Errorf("curl userinfo: %s", out)
	}
	rt := c.editCache(t, nil)["refresh_token"].(string)
	introspect := func() bool {
		form := srv.AssertionForm(t, testenv.FAPIClient)
		form.Set("token", rt)
		var out struct{ Active bool }
		srv.PostForm(t, nil, "/introspect", form, nil, &out)
		return out.Active
	}
	if !introspect() {
		t.Fatal("the cached refresh token is not active")
	}
	c.mustRun("logout", "--profile", "fapi")
	if introspect() {
		t.Error("the refresh token is still active after logout")
	}
	_, stderr, status := c.run("token", "--profile", "fapi")
	if status != 1 || !strings.Contains(stderr, "bulwark login --profile fapi") {
		t.Errorf("token after logout: %d:\n%s", status, stderr)
	}
}

// TestLoginModes covers the loopback and device logins in dpop and bearer
// mode: the token type, the binding, and curl with each.
func TestLoginModes(t *testing.T) {
	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, []byte(testenv.ClientSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		wantType string
	}{
		{name: "ok/loopback-bearer-public", wantType: "Bearer",
			args: []string{"--client-id", testenv.PublicClient, "--redirect-url", testenv.LoopbackURI, "--auth-mode", "bearer", "--no-browser", "--scopes", "openid,profile"}},
		{name: "ok/device-dpop-public", wantType: "DPoP",
			args: []string{"--client-id", testenv.PublicClient, "--device", "--scopes", "openid profile"}},
		{name: "ok/device-bearer-secret", wantType: "Bearer",
			args: []string{"--client-id", testenv.SecretClient, "--client-secret-file", secretFile, "--device", "--auth-mode", "bearer", "--scopes", "openid email"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := testclock.New()
			srv := testenv.Start(t, testenv.Options{Config: func(c *authserver.Config) { c.Now = clk.Now }})
			c := newCLI(t, srv, clk)
			noBrowser := strings.Contains(strings.Join(tc.args, " "), "--no-browser")
			args := append([]string{"login", "--issuer", srv.URL, "--insecure-allow-http", "--save"}, tc.args...)
			if noBrowser {
				done := make(chan error, 1)
				go func() {
					// --no-browser: read the URL from stderr like a user.
					done <- c.browseFromStderr()
				}()
				_, stderr, status := c.run(args...)
				if err := <-done; err != nil || status != 0 {
					t.Fatalf("login: status %d, browser %v:\n%s", status, err, stderr)
				}
			} else {
				_, stderr, status := c.run(args...)
				if status != 0 {
					t.Fatalf("login: status %d:\n%s", status, stderr)
				}
				// One poll before the approval (authorization_pending),
				// one after.
				if !strings.Contains(stderr, "Waiting for approval..\n") {
					t.Errorf("no poll progress on stderr:\n%s", stderr)
				}
			}
			if c.opens.Load() != 0 {
				t.Errorf("the browser opener was called %d times", c.opens.Load())
			}
			tok := decodeToken(t, c.mustRun("token", "--json"))
			cnf := testenv.Claims(t, tok.AccessToken)["cnf"]
			if tok.TokenType != tc.wantType || (tc.wantType == "Bearer") != (cnf == nil) {
				t.Errorf("token_type %q, cnf %v; want %s", tok.TokenType, cnf, tc.wantType)
			}
			if out := c.mustRun("curl", "-f", srv.URL+"/userinfo"); !strings.Contains(out, `"sub"`) {
				t.Errorf("curl userinfo: %s", out)
			}
			h := c.rec.header("GET /userinfo")
			if !strings.HasPrefix(h.Get("Authorization"), tc.wantType+" ") || (h.Get("DPoP") != "") != (tc.wantType == "DPoP") {
				t.Errorf("curl sent Authorization %.20q, DPoP %.20q", h.Get("Authorization"), h.Get("DPoP"))
			}
			rt, _ := c.editCache(t, nil)["refresh_token"].(string)
			if _, stderr, status := c.run("logout"); status != 0 || !strings.Contains(stderr, "Revoked") {
				t.Errorf("logout: %d:\n%s", status, stderr)
			}
			if strings.Contains(tc.name, "secret") {
				// A confidential client can ask about its own tokens.
				req, _ := http.NewRequest(http.MethodPost, srv.URL+"/introspect", strings.NewReader(url.Values{"token": {rt}}.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.SetBasicAuth(testenv.SecretClient, testenv.ClientSecret)
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				var ir struct{ Active bool }
				json.NewDecoder(resp.Body).Decode(&ir)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || ir.Active || rt == "" {
					t.Errorf("introspection of the refresh token after logout: %d active=%v", resp.StatusCode, ir.Active)
				}
			}
			if _, _, status := c.run("token"); status != 1 {
				t.Errorf("token after logout: status %d, want 1", status)
			}
		})
	}
}

// browseFromStderr waits for the authorization URL on the running
// command's stderr and drives the login, as a user with --no-browser.
func (c *cli) browseFromStderr() error {
	re := regexp.MustCompile(`\n  (http://\S+/authorize\?\S+)\n`)
	for range 200 {
		if s := c.stderrSnapshot(); s != "" {
			if m := re.FindStringSubmatch(s); m != nil {
				return c.drive(m[1])
			}
		}
		time.Sleep(25 * time.Millisecond)
	}
	return errors.New("no authorization URL on stderr")
}

// TestLoginMTLS logs in with tls_client_auth and certificate-bound tokens
// (RFC 8705) over real TLS: the token carries the certificate's thumbprint
// and curl reaches the mTLS userinfo alias with the certificate.
func TestLoginMTLS(t *testing.T) {
	srv := testenv.Start(t, testenv.Options{MTLS: true, Config: func(c *authserver.Config) {
		for i := range c.Clients {
			if c.Clients[i].Client.ID == testenv.MTLSClient {
				c.Clients[i].Client.RedirectURIs = append(c.Clients[i].Client.RedirectURIs, testenv.LoopbackURI)
			}
		}
	}})
	c := newCLI(t, srv, nil)
	c.rec, c.browserTLS = nil, srv.Transport(nil)
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	leaf := srv.ClientCerts[testenv.MTLSClient]
	c.mustRun("login", "--issuer", srv.URL, "--client-id", testenv.MTLSClient, "--redirect-url", testenv.LoopbackURI,
		"--auth-method", "tls_client_auth", "--auth-mode", "mtls", "--scopes", "openid profile",
		"--cert-file", write("cert.pem", leaf.CertPEM()), "--cert-key-file", write("key.pem", leaf.KeyPEM()),
		"--ca-file", write("ca.pem", srv.CA.PEM()), "--save")
	tok := decodeToken(t, c.mustRun("token", "--json"))
	sum := sha256.Sum256(leaf.Cert.Raw)
	cnf, _ := testenv.Claims(t, tok.AccessToken)["cnf"].(map[string]any)
	if tok.TokenType != "Bearer" || cnf["x5t#S256"] != base64.RawURLEncoding.EncodeToString(sum[:]) {
		t.Errorf("token_type %q, cnf %v; want a certificate-bound token", tok.TokenType, cnf)
	}
	if out := c.mustRun("curl", srv.MTLSURL+"/userinfo"); !strings.Contains(out, `"sub"`) {
		t.Errorf("curl userinfo at the mTLS alias: %s", out)
	}
	if _, stderr, status := c.run("logout"); status != 0 || !strings.Contains(stderr, "Revoked") {
		t.Errorf("logout: %d:\n%s", status, stderr)
	}
	if _, _, status := c.run("token"); status != 1 {
		t.Errorf("token after logout: status %d, want 1", status)
	}
}

// TestLoginRedisCache keeps a profile's tokens in Redis (--cache): login
// stores them there and not in the cache directory, token and curl resume
// from Redis without a token request, logout revokes and deletes the
// entry; bad or unreachable cache URLs are refused without echoing a
// password.
func TestLoginRedisCache(t *testing.T) {
	srv := testenv.Start(t, testenv.Options{})
	c := newCLI(t, srv, nil)
	prefix := services.RedisPrefix(t)
	cacheURL := services.RedisURL + "?" + redisPrefixParam + "=" + url.QueryEscape(prefix)
	c.mustRun(loopbackArgs(srv, testenv.PublicClient, "--scopes", "openid offline_access", "--cache", cacheURL, "--save")...)
	if m, _ := filepath.Glob(filepath.Join(c.cacheDir, "*.json")); len(m) != 0 {
		t.Errorf("file cache entries with --cache redis: %v", m)
	}
	rc, err := redis.Open(context.Background(), services.RedisURL, redis.Options{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	key := (&settings{name: "default", profile: profile{Issuer: srv.URL, ClientID: testenv.PublicClient}}).cacheKey()
	if b, err := rc.TokenCache().Load(context.Background(), key); err != nil || !strings.Contains(string(b), `"refresh_token"`) {
		t.Fatalf("Redis entry %s: %v", key, err)
	}

	tokens := c.rec.count("POST /token")
	tok := decodeToken(t, c.mustRun("token", "--json")) // the saved profile names the cache
	if tok.TokenType != "DPoP" || c.rec.count("POST /token") != tokens {
		t.Errorf("token from the Redis cache: %+v after %d token requests, want DPoP and none", tok, c.rec.count("POST /token")-tokens)
	}
	if out := c.mustRun("curl", "-f", srv.URL+"/userinfo"); !strings.Contains(out, `"sub"`) {
		t.Errorf("curl userinfo: %s", out)
	}
	if _, stderr, status := c.run("logout"); status != 0 || !strings.Contains(stderr, "Revoked") {
		t.Errorf("logout: %d:\n%s", status, stderr)
	}
	if _, err := rc.TokenCache().Load(context.Background(), key); !errors.Is(err, client.ErrCacheMiss) {
		t.Errorf("Redis entry after logout: %v, want a miss", err)
	}

	for _, tc := range []struct{ cache, want string }{
		{"memcached://secretpw@127.0.0.1:1", "unknown token cache"},
		{"redis://user:secretpw@127.0.0.1:1/0", "check --cache"},
	} {
		_, stderr, status := c.run("token", "--cache", tc.cache)
		if status != 1 || !strings.Contains(stderr, tc.want) || strings.Contains(stderr, "secretpw") {
			t.Errorf("token --cache %s: status %d:\n%s", tc.cache, status, stderr)
		}
	}
}

// TestLoginDeviceOutcomes: a device login the user denies, or lets
// expire, fails with a message that says so and how to start again, after
// showing the code and the polls; the cache stays empty.
func TestLoginDeviceOutcomes(t *testing.T) {
	for _, tc := range []struct{ device, mode, want string }{
		{"deny", "dpop", "the request was denied"},
		// Bearer: moving the server's clock an hour would make the DPoP
		// proofs (iat: real time) look stale.
		{"expire", "bearer", "the code expired"},
	} {
		t.Run(tc.device, func(t *testing.T) {
			clk := testclock.New()
			srv := testenv.Start(t, testenv.Options{Config: func(c *authserver.Config) { c.Now = clk.Now }})
			c := newCLI(t, srv, clk)
			c.device = tc.device
			_, stderr, status := c.run("login", "--issuer", srv.URL, "--insecure-allow-http", "--client-id", testenv.PublicClient, "--device", "--scopes", "openid", "--auth-mode", tc.mode)
			if status != 1 || !strings.Contains(stderr, tc.want) || !strings.Contains(stderr, "bulwark login --device") {
				t.Errorf("status %d, want 1 and %q:\n%s", status, tc.want, stderr)
			}
			if !strings.Contains(stderr, "enter the code") || !strings.Contains(stderr, "Waiting for approval..") {
				t.Errorf("no code or poll progress shown:\n%s", stderr)
			}
			if m, _ := filepath.Glob(filepath.Join(c.cacheDir, "*.json")); len(m) != 0 {
				t.Errorf("cache entries after a failed login: %v", m)
			}
		})
	}
}
