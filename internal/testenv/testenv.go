package testenv

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkauth/bulwark/internal/authserver"
	"github.com/bulwarkauth/bulwark/internal/clients"
	"github.com/bulwarkauth/bulwark/internal/dpop"
	"github.com/bulwarkauth/bulwark/internal/httpx"
	"github.com/bulwarkauth/bulwark/internal/jose"
	"github.com/bulwarkauth/bulwark/internal/oauth"
	"github.com/bulwarkauth/bulwark/internal/store"
	"github.com/bulwarkauth/bulwark/internal/store/memory"
	"github.com/bulwarkauth/bulwark/internal/store/sqlite"
	"github.com/bulwarkauth/bulwark/internal/telemetry"
	"github.com/bulwarkauth/bulwark/internal/testenv/testca"
)

// Test identities every Env has.
const (
	UserName     = "alice"
	UserPassword = "correct-horse-battery"
	UserEmail    = "alice@example.com"

	FAPIClient  = "fapi-client"  // fapi2, private_key_jwt
	FAPIClient2 = "fapi-client2" // fapi2, private_key_jwt, other key
	// NonceClient is a fapi2 private_key_jwt client whose DPoP proofs must
	// carry a server nonce (dpop_nonce: required).
	NonceClient    = "nonce-client"
	SecretClient   = "secret-client"
	ClientSecret   = "secret-client-secret-0123456789"
	PublicClient   = "public-client"
	RedirectURI    = "https://app.example/cb"
	LoopbackURI    = "http://127.0.0.1/cb"
	ResourceClient = "resource-server"

	// MTLSClient is a fapi2 client with tls_client_auth: its certificate
	// (Env.ClientCert) is issued by Env.CA for the SAN MTLSClientDNS.
	MTLSClient    = "mtls-client"
	MTLSClientDNS = "mtls-client.example"
	// SelfSignedClient is a fapi2 client with self_signed_tls_client_auth:
	// its self-signed certificate is registered in its JWKS (x5c).
	SelfSignedClient = "self-signed-client"
)

// Env is a running authorization server with its test clients.
type Env struct {
	// URL is where this server listens; requests go here.
	URL string
	// Issuer is the issuer identifier, which client assertions name as
	// their audience and DPoP proofs as their htu. It equals URL except
	// for the nodes of StartNodes, which share the first node's issuer as
	// if behind one balancer.
	Issuer string
	// MTLSURL is the base URL of the dedicated mutual-TLS listener, empty
	// unless Options.MTLS.
	MTLSURL string
	// AdminURL is the base URL of the separate admin API listener
	// (admin.listen, with admin.base_url set to it), empty unless
	// Options.AdminListener; requests to /admin/... go there.
	AdminURL string
	// CA issued the server's TLS certificate and the MTLSClient
	// certificate, and is the server's client CA.
	CA *testca.CA
	// ClientCerts holds the certificates of MTLSClient and
	// SelfSignedClient.
	ClientCerts map[string]*testca.Leaf
	Server      *authserver.Server
	Store       *store.Store
	// Keys holds each private_key_jwt client's signing key.
	Keys map[string]*jose.PrivateKey
	// HTTP is a browser-like client (cookie jar, no redirects).
	HTTP *http.Client

	// serverCert is the TLS certificate of the listeners when TLS is on.
	serverCert *testca.Leaf

	mu sync.Mutex
	// dpopKeys holds each client's DPoP key, made on first use; guarded
	// by mu.
	dpopKeys map[string]*jose.PrivateKey
	// first is the first node of a StartNodes deployment, whose DPoP keys
	// every node uses; nil for it and for Start.
	first *Env
}

// DPoPKey returns client's DPoP proof key (ES256), the same on every call.
func (e *Env) DPoPKey(t testing.TB, client string) *jose.PrivateKey {
	t.Helper()
	if e.first != nil {
		// A client keeps its DPoP key whichever node it reaches.
		return e.first.DPoPKey(t, client)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if k, ok := e.dpopKeys[client]; ok {
		return k
	}
	k, err := jose.GenerateKey(jose.ES256)
	if err != nil {
		t.Fatal(err)
	}
	if e.dpopKeys == nil {
		e.dpopKeys = map[string]*jose.PrivateKey{}
	}
	e.dpopKeys[client] = k
	return k
}

// Proof returns a fresh DPoP proof by client's DPoP key for method and
// path below the issuer, with ath when accessToken is set and nonce when
// set.
func (e *Env) Proof(t testing.TB, client, method, path, accessToken, nonce string) string {
	t.Helper()
	return e.ProofURL(t, client, method, e.Issuer+path, accessToken, nonce)
}

// ProofURL is Proof for an absolute URL as htu, such as one on AdminURL.
func (e *Env) ProofURL(t testing.TB, client, method, u, accessToken, nonce string) string {
	t.Helper()
	p, err := dpop.NewProof(e.DPoPKey(t, client), dpop.ProofParams{
		Method: method, URL: u, AccessToken: accessToken, Nonce: nonce,
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// DPoPHeader returns a header holding a fresh POST proof for path.
func (e *Env) DPoPHeader(t testing.TB, client, path string) http.Header {
	t.Helper()
	return http.Header{dpop.HeaderName: {e.Proof(t, client, http.MethodPost, path, "", "")}}
}

// Options tune Start.
type Options struct {
	// SQLite runs on a SQLite file instead of the memory store.
	SQLite bool
	// Config is applied on top of the defaults before start.
	Config func(*authserver.Config)
	// Log receives server logs; nil discards them.
	Log io.Writer
	// TLS serves https with a certificate from Env.CA; the handshake
	// requests, but does not require, a client certificate.
	TLS bool
	// MTLS also runs the dedicated mutual-TLS listener (implies TLS) and
	// advertises it in mtls_endpoint_aliases.
	MTLS bool
	// AdminListener runs the admin API on a listener of its own
	// (Config.Admin.Listen) at Env.AdminURL, which is also
	// Config.Admin.BaseURL; Options.Config may clear BaseURL to test the
	// default.
	AdminListener bool
	// Store, when set, opens the server's store (and arranges its
	// cleanup); it takes precedence over SQLite. StartNodes calls it once
	// per node, so each node has its own connections to shared back
	// ends, as real nodes do.
	Store func(t testing.TB) *store.Store
}

// Start runs a server on a loopback listener until the test ends.
func Start(t testing.TB, opts Options) *Env {
	t.Helper()
	return startNode(t, opts, nil)
}

// StartNodes runs n servers that share opts.Store's back ends, one issuer
// (the first node's URL), the test CA and the test clients' keys and
// certificates: a deployment of n nodes behind a balancer, where each
// test request picks its node.
func StartNodes(t testing.TB, n int, opts Options) []*Env {
	t.Helper()
	nodes := []*Env{startNode(t, opts, nil)}
	for range n - 1 {
		nodes = append(nodes, startNode(t, opts, nodes[0]))
	}
	return nodes
}

// startNode is Start for a node of the deployment of first; nil first
// starts a deployment of its own.
func startNode(t testing.TB, opts Options, first *Env) *Env {
	t.Helper()
	ctx := context.Background()
	var st *store.Store
	if opts.Store != nil {
		st = opts.Store(t)
	} else if opts.SQLite {
		var err error
		st, err = sqlite.Open(ctx, filepath.Join(t.TempDir(), "bulwark.db"))
		if err != nil {
			t.Fatal(err)
		}
	} else {
		st = memory.New()
	}
	t.Cleanup(func() {
		if st.Close != nil {
			st.Close()
		}
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	opts.TLS = opts.TLS || opts.MTLS
	scheme := "http://"
	if opts.TLS {
		scheme = "https://"
	}
	self := scheme + ln.Addr().String()
	env := &Env{URL: self, Issuer: self, Store: st, Keys: map[string]*jose.PrivateKey{}, ClientCerts: map[string]*testca.Leaf{}}
	if first != nil {
		env.first = first
		env.Issuer, env.CA, env.Keys, env.ClientCerts = first.Issuer, first.CA, first.Keys, first.ClientCerts
	} else {
		env.CA = testca.New("Bulwark test CA")
	}
	cfg := authserver.Config{Issuer: env.Issuer, Listen: ln.Addr().String()}
	caFile := filepath.Join(t.TempDir(), "client-ca.pem")
	if err := os.WriteFile(caFile, env.CA.PEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.TLSClientCAFile = caFile
	if opts.TLS {
		// httptest terminates TLS with this certificate; the files tell
		// the server it runs behind TLS, as `bulwark serve` would.
		env.serverCert = env.CA.Issue(testca.Options{Server: true, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}, DNS: []string{"localhost"}})
		cfg.TLSCertFile, cfg.TLSKeyFile = filepath.Join(t.TempDir(), "tls.crt"), filepath.Join(t.TempDir(), "tls.key")
		if err := os.WriteFile(cfg.TLSCertFile, env.serverCert.CertPEM(), 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(cfg.TLSKeyFile, env.serverCert.KeyPEM(), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var mln net.Listener
	if opts.MTLS {
		if mln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		env.MTLSURL = "https://" + mln.Addr().String()
		cfg.MTLSListen, cfg.MTLSBaseURL = mln.Addr().String(), env.MTLSURL
	}
	var aln net.Listener
	if opts.AdminListener {
		if aln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			t.Fatal(err)
		}
		env.AdminURL = scheme + aln.Addr().String()
		cfg.Admin.Listen, cfg.Admin.BaseURL = aln.Addr().String(), env.AdminURL
	}
	if first == nil {
		env.ClientCerts[MTLSClient] = env.CA.Issue(testca.Options{Subject: pkix.Name{CommonName: MTLSClient}, DNS: []string{MTLSClientDNS}})
		env.ClientCerts[SelfSignedClient] = testca.SelfSigned(testca.Options{Subject: pkix.Name{CommonName: SelfSignedClient}})
	}
	selfSigned := env.ClientCerts[SelfSignedClient]
	mtlsGrants := []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken, oauth.GrantClientCredentials}
	cfg.Clients = append(cfg.Clients,
		authserver.StaticClient{Client: clients.Client{
			ID: MTLSClient, Name: "mTLS Client", ProfileName: clients.ProfileFAPI2, AuthMethod: oauth.AuthTLSClientAuth,
			TLSClientAuthSANDNS: MTLSClientDNS, TLSClientCertificateBoundAccessTokens: true,
			RedirectURIs: []string{RedirectURI}, GrantTypes: mtlsGrants, Scopes: oauth.NewScopes("openid", "profile", "email", "accounts"),
		}},
		authserver.StaticClient{Client: clients.Client{
			ID: SelfSignedClient, Name: "Self-signed Client", ProfileName: clients.ProfileFAPI2, AuthMethod: oauth.AuthSelfSignedTLSClientAuth,
			JWKS: certJWKS(t, selfSigned), TLSClientCertificateBoundAccessTokens: true,
			RedirectURIs: []string{RedirectURI}, GrantTypes: mtlsGrants, Scopes: oauth.NewScopes("openid", "profile", "email", "accounts"),
		}},
	)
	for _, id := range []string{FAPIClient, FAPIClient2, NonceClient, ResourceClient} {
		k := env.Keys[id]
		if k == nil {
			var err error
			if k, err = jose.GenerateKey(jose.ES256); err != nil {
				t.Fatal(err)
			}
			env.Keys[id] = k
		}
		jwks, _ := json.Marshal(map[string]any{"keys": []any{k.Public()}})
		profile := clients.ProfileFAPI2
		if id == ResourceClient {
			profile = clients.ProfileStandard
		}
		c := clients.Client{
			ID: id, Name: "Test " + id, ProfileName: profile, AuthMethod: oauth.AuthPrivateKeyJWT,
			JWKS: jwks, RedirectURIs: []string{RedirectURI, LoopbackURI},
			GrantTypes: []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken, oauth.GrantClientCredentials},
			Scopes:     oauth.NewScopes("openid", "profile", "email", "accounts"),
		}
		if id == NonceClient {
			c.DPoPNonce = "required"
		}
		cfg.Clients = append(cfg.Clients, authserver.StaticClient{Client: c})
	}
	cfg.Clients = append(cfg.Clients,
		authserver.StaticClient{Secret: ClientSecret, Client: clients.Client{
			ID: SecretClient, Name: "Secret Client", ProfileName: clients.ProfileStandard, AuthMethod: oauth.AuthClientSecretBasic,
			RedirectURIs: []string{RedirectURI},
			GrantTypes:   []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken, oauth.GrantClientCredentials, oauth.GrantDeviceCode},
			Scopes:       oauth.NewScopes("openid", "profile", "email", "api"),
		}},
		authserver.StaticClient{Client: clients.Client{
			ID: PublicClient, Name: "Public Agent", ProfileName: clients.ProfileStandard, AuthMethod: oauth.AuthNone,
			RedirectURIs: []string{LoopbackURI, RedirectURI},
			GrantTypes:   []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken, oauth.GrantDeviceCode},
			Scopes:       oauth.NewScopes("openid", "profile", "email", "offline_access"),
		}},
	)
	cfg.RateLimits.LoginPerIP = 20
	cfg.Users = []authserver.StaticUser{{Username: UserName, Password: UserPassword, Claims: map[string]any{"email": UserEmail, "email_verified": true, "name": "Alice Liddell"}}}
	if opts.Config != nil {
		opts.Config(&cfg)
	}
	// A test may move the issuer (to a host name, say); assertions and
	// proofs follow it.
	env.Issuer = cfg.Issuer
	var w io.Writer = io.Discard
	if opts.Log != nil {
		w = opts.Log
	} else if os.Getenv("BULWARK_TEST_LOG") != "" {
		w = os.Stderr
	}
	log := telemetry.NewLogger(w, slog.LevelDebug)
	srv, err := authserver.New(ctx, cfg, st, log)
	if err != nil {
		t.Fatal(err)
	}
	env.Server = srv
	env.serve(t, ln, srv.Handler(), opts.TLS, tls.RequestClientCert)
	if mln != nil {
		env.serve(t, mln, srv.MTLSHandler(), true, tls.RequireAnyClientCert)
	}
	if aln != nil {
		if srv.AdminHandler() == nil {
			t.Fatal("testenv: AdminListener, but the server has no admin handler (Config cleared Admin.Listen?)")
		}
		env.serve(t, aln, srv.AdminHandler(), opts.TLS, tls.RequestClientCert)
	}
	env.HTTP = NewBrowser()
	if opts.TLS {
		env.HTTP.Transport = env.Transport(nil)
	}
	return env
}

// serve serves h on ln until the test ends, with TLS (and clientAuth)
// when useTLS.
func (e *Env) serve(t testing.TB, ln net.Listener, h http.Handler, useTLS bool, clientAuth tls.ClientAuthType) {
	hs := &httptest.Server{Listener: ln, Config: &http.Server{Handler: h}}
	if useTLS {
		hs.TLS = e.serverTLS(clientAuth)
		hs.StartTLS()
	} else {
		hs.Start()
	}
	t.Cleanup(hs.Close)
}

// serverTLS is the server side of the test listeners: Bulwark's TLS
// settings with a certificate for 127.0.0.1 from the test CA.
func (e *Env) serverTLS(clientAuth tls.ClientAuthType) *tls.Config {
	c := httpx.TLSConfig()
	c.Certificates = []tls.Certificate{e.serverCert.TLS()}
	c.ClientAuth = clientAuth
	return c
}

// Transport returns a transport that trusts the test CA and presents cert
// as its client certificate (none when nil).
func (e *Env) Transport(cert *testca.Leaf) *http.Transport {
	c := &tls.Config{RootCAs: e.CA.Pool(), MinVersion: tls.VersionTLS12}
	if cert != nil {
		c.Certificates = []tls.Certificate{cert.TLS()}
	}
	return &http.Transport{TLSClientConfig: c}
}

// Client returns a plain HTTP client (no cookies, no redirects followed)
// presenting cert, which may be nil.
func (e *Env) Client(cert *testca.Leaf) *http.Client {
	return &http.Client{
		Transport:     e.Transport(cert),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// certJWKS is a JWKS holding leaf's public key with leaf as its x5c.
func certJWKS(t testing.TB, leaf *testca.Leaf) []byte {
	t.Helper()
	point, err := leaf.Key.PublicKey.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	jwk := map[string]any{
		"kty": "EC", "crv": "P-256", "x": b64(point[1:33]), "y": b64(point[33:]),
		"x5c": []string{base64.StdEncoding.EncodeToString(leaf.Cert.Raw)},
	}
	b, err := json.Marshal(map[string]any{"keys": []any{jwk}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// NewBrowser returns an HTTP client with a cookie jar that does not follow
// redirects, so tests see every Location.
func NewBrowser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{
		Jar:           jar,
		Timeout:       10 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Assertion returns a private_key_jwt client assertion for client, signed
// with its test key. mutate may change the claims before signing.
func (e *Env) Assertion(t testing.TB, client string, mutate func(map[string]any)) string {
	t.Helper()
	now := time.Now().Unix()
	claims := map[string]any{
		"iss": client, "sub": client, "aud": e.Issuer,
		"iat": now, "exp": now + 60, "jti": RandomString(16),
	}
	if mutate != nil {
		mutate(claims)
	}
	s, err := jose.SignWithKey(e.Keys[client], "", false, claims)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// AssertionForm returns form values authenticating client with a fresh
// assertion.
func (e *Env) AssertionForm(t testing.TB, client string) url.Values {
	return url.Values{
		"client_id":             {client},
		"client_assertion_type": {oauth.ClientAssertionTypeJWT},
		"client_assertion":      {e.Assertion(t, client, nil)},
	}
}

// PKCE returns a fresh verifier and its S256 challenge.
func PKCE() (verifier, challenge string) {
	verifier = RandomString(32)
	sum := sha256.Sum256([]byte(verifier))
	return verifier, base64.RawURLEncoding.EncodeToString(sum[:])
}

// RandomString returns n random bytes base64url-encoded.
func RandomString(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// PostForm posts form to path (relative to the issuer) with optional
// headers and decodes a JSON body into out (when non-nil).
func (e *Env) PostForm(t testing.TB, c *http.Client, path string, form url.Values, header http.Header, out any) *http.Response {
	t.Helper()
	return e.PostFormURL(t, c, e.URL+path, form, header, out)
}

// PostFormURL is PostForm to an absolute URL, such as an mTLS alias.
func (e *Env) PostFormURL(t testing.TB, c *http.Client, u string, form url.Values, header http.Header, out any) *http.Response {
	t.Helper()
	path := u
	req, err := http.NewRequest(http.MethodPost, u, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, v := range header {
		req.Header[k] = v
	}
	if c == nil {
		c = e.HTTP
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if out != nil && len(body) > 0 {
		if err := json.Unmarshal(body, out); err != nil {
			t.Fatalf("decode %s response (%d): %v: %s", path, resp.StatusCode, err, body)
		}
	}
	resp.Body = io.NopCloser(strings.NewReader(string(body)))
	return resp
}

// Claims decodes a JWT's payload without verifying it: tests inspect what
// the server produced (verification has tests of its own).
func Claims(t testing.TB, jwt string) map[string]any {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", jwt)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// Metric sums the samples of the Prometheus metric name on the server's
// /metrics whose labels include every label given (as `key="value"`), so
// tests can count what reached the server, such as token requests or
// refresh-token grants.
func (e *Env) Metric(t testing.TB, name string, labels ...string) int {
	t.Helper()
	resp, err := e.Client(nil).Get(e.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(b), "\n") {
		rest, ok := strings.CutPrefix(line, name+"{")
		if !ok {
			continue
		}
		match := true
		for _, l := range labels {
			match = match && strings.Contains(rest, l)
		}
		if !match {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		n += int(v)
	}
	return n
}
