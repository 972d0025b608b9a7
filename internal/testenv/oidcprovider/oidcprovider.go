package oidcprovider

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkauth/bulwark/internal/testenv/testca"
)

// Options configure the provider. Clients are oidc-provider client
// metadata (RFC 7591 names: client_id, token_endpoint_auth_method, jwks,
// redirect_uris, grant_types, dpop_bound_access_tokens, ...).
type Options struct {
	Clients []map[string]any
	// Accounts maps an account id (the login and the sub) to its claims
	// (email, name, groups, ...). The zero value has "alice".
	Accounts map[string]map[string]any
	// Scopes are extra scopes the provider knows beyond openid,
	// offline_access, email, profile and groups.
	Scopes []string
	// RequireDPoPNonce makes every DPoP proof need a server nonce.
	RequireDPoPNonce bool
	// RequirePAR refuses authorization requests that were not pushed.
	RequirePAR bool
	// BackchannelLogout enables OIDC back-channel logout.
	BackchannelLogout bool
	// AccessTokenTTL and RefreshTokenTTL default to 5 minutes and 1 hour.
	AccessTokenTTL  time.Duration
	RefreshTokenTTL time.Duration
	// Resource, when set, is the RFC 8707 resource client-credentials
	// tokens are for (and any request naming it): those access tokens are
	// ES256 JWTs with that audience and the ResourceScopes (default
	// "api"). Other access tokens are opaque, for userinfo.
	Resource       string
	ResourceScopes string
}

// Provider is a running oidc-provider.
type Provider struct {
	// Issuer is the provider's https issuer URL.
	Issuer string
	// CA signed the provider's TLS certificate; RootCAs trusts it.
	CA      *testca.CA
	RootCAs *x509.CertPool

	stderr *syncBuffer
}

// Start runs the provider for the rest of the test.
func Start(t testing.TB, o Options) *Provider {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("oidcprovider: node not found (Node 20+ is required): %v", err)
	}
	dir := InteropDir(t)
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "oidc-provider", "package.json")); err != nil {
		t.Fatalf("oidcprovider: npm package oidc-provider missing: run npm ci --prefix interop (or make interop-deps): %v", err)
	}
	if o.Accounts == nil {
		o.Accounts = map[string]map[string]any{
			"alice": {"email": "alice@example.com", "email_verified": true, "name": "Alice", "groups": []string{"admins", "users"}},
		}
	}

	ca := testca.New("oidc-provider test CA")
	leaf := ca.Issue(testca.Options{Server: true, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, DNS: []string{"localhost"}})
	tmp := t.TempDir()
	certFile, keyFile := filepath.Join(tmp, "cert.pem"), filepath.Join(tmp, "key.pem")
	mustWrite(t, certFile, leaf.CertPEM())
	mustWrite(t, keyFile, leaf.KeyPEM())
	cfg := map[string]any{
		"tls":                map[string]string{"cert": certFile, "key": keyFile},
		"clients":            o.Clients,
		"accounts":           o.Accounts,
		"scopes":             o.Scopes,
		"require_dpop_nonce": o.RequireDPoPNonce,
		"require_par":        o.RequirePAR,
		"backchannel_logout": o.BackchannelLogout,
		"access_token_ttl":   int(o.AccessTokenTTL / time.Second),
		"refresh_token_ttl":  int(o.RefreshTokenTTL / time.Second),
		"resource":           o.Resource,
		"resource_scopes":    o.ResourceScopes,
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	cfgFile := filepath.Join(tmp, "config.json")
	mustWrite(t, cfgFile, b)

	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, node, filepath.Join(dir, "oidc-provider", "server.mjs"), cfgFile)
	cmd.Dir = dir
	// The provider trusts its own CA for the calls it makes to clients
	// (back-channel logout), so a test can give a relying party a
	// certificate from p.CA.
	caFile := filepath.Join(tmp, "ca.pem")
	mustWrite(t, caFile, ca.PEM())
	cmd.Env = append(cmd.Environ(), "NODE_EXTRA_CA_CERTS="+caFile)
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("oidcprovider: start node: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
		if t.Failed() {
			t.Logf("oidc-provider stderr:\n%s", stderr.String())
		}
	})

	ready := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var line struct {
				Issuer string `json:"issuer"`
			}
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Issuer != "" {
				ready <- line.Issuer
			}
		}
	}()
	select {
	case issuer := <-ready:
		return &Provider{Issuer: issuer, CA: ca, RootCAs: ca.Pool(), stderr: stderr}
	case <-done:
		t.Fatalf("oidcprovider: node exited before listening:\n%s", stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("oidcprovider: not listening after 30 s:\n%s", stderr.String())
	}
	return nil
}

// InteropDir finds the interop/ npm project from the module root above the
// test's working directory.
func InteropDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "interop")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("oidcprovider: no go.mod above the working directory")
		}
		dir = parent
	}
}

// HTTPClient returns a client that trusts the provider's certificate, with
// its own cookie jar (a browser of its own) and no redirect following
// beyond the provider's origin.
func (p *Provider) HTTPClient() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{
		Jar:       jar,
		Timeout:   30 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: p.RootCAs, MinVersion: tls.VersionTLS12}},
	}
}

// Login signs account in through the provider's interaction pages,
// starting at authorizeURL (the provider's authorization endpoint with the
// request's parameters, or a URL that redirects there), and returns the
// redirect back to the client with code, state and iss. c carries the
// browser's cookies and must trust the provider (HTTPClient). Redirects
// away from the provider's origin are not followed: the first one is the
// answer.
func (p *Provider) Login(t testing.TB, c *http.Client, authorizeURL, account string) *url.URL {
	t.Helper()
	iss, err := url.Parse(p.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	var away *url.URL
	cc := *c
	cc.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if req.URL.Host != iss.Host {
			away = req.URL
			return http.ErrUseLastResponse
		}
		if len(via) > 20 {
			return errors.New("too many redirects")
		}
		return nil
	}
	resp, err := cc.Get(authorizeURL)
	if err != nil {
		t.Fatalf("oidcprovider: authorize: %v", err)
	}
	body := readBody(resp)
	if away != nil {
		return away
	}
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Request.URL.Path, "/interaction/") {
		t.Fatalf("oidcprovider: authorize: %d at %s: %s\n%s", resp.StatusCode, resp.Request.URL, body, p.stderr.String())
	}
	resp, err = cc.PostForm(resp.Request.URL.String()+"/login", url.Values{"login": {account}})
	if err != nil {
		t.Fatalf("oidcprovider: login: %v", err)
	}
	body = readBody(resp)
	if away == nil {
		t.Fatalf("oidcprovider: login did not return to the client: %d at %s: %s\n%s", resp.StatusCode, resp.Request.URL, body, p.stderr.String())
	}
	return away
}

// Stderr is what the provider logged so far.
func (p *Provider) Stderr() string { return p.stderr.String() }

func readBody(resp *http.Response) string {
	defer resp.Body.Close()
	var b bytes.Buffer
	_, _ = b.ReadFrom(http.MaxBytesReader(nil, resp.Body, 1<<20))
	return b.String()
}

func mustWrite(t testing.TB, name string, b []byte) {
	t.Helper()
	if err := os.WriteFile(name, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// syncBuffer is a bytes.Buffer safe for the writer goroutine of exec and
// readers in the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// PublicJWK is the public JWK of an ECDSA P-256 key, for a client's jwks.
func PublicJWK(pub *ecdsa.PublicKey, kid string) map[string]any {
	raw, err := pub.Bytes() // 0x04 ‖ X ‖ Y
	if err != nil || len(raw) != 65 {
		panic("oidcprovider: not an uncompressed P-256 public key")
	}
	return map[string]any{
		"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": kid,
		"x": base64.RawURLEncoding.EncodeToString(raw[1:33]),
		"y": base64.RawURLEncoding.EncodeToString(raw[33:]),
	}
}
