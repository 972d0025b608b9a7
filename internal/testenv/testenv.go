package testenv

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
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
	"strings"
	"testing"
	"time"

	"github.com/bulwarkauth/bulwark/internal/authserver"
	"github.com/bulwarkauth/bulwark/internal/clients"
	"github.com/bulwarkauth/bulwark/internal/jose"
	"github.com/bulwarkauth/bulwark/internal/oauth"
	"github.com/bulwarkauth/bulwark/internal/store"
	"github.com/bulwarkauth/bulwark/internal/store/memory"
	"github.com/bulwarkauth/bulwark/internal/store/sqlite"
	"github.com/bulwarkauth/bulwark/internal/telemetry"
)

// Test identities every Env has.
const (
	UserName     = "alice"
	UserPassword = "correct-horse-battery"
	UserEmail    = "alice@example.com"

	FAPIClient     = "fapi-client"  // fapi2, private_key_jwt
	FAPIClient2    = "fapi-client2" // fapi2, private_key_jwt, other key
	SecretClient   = "secret-client"
	ClientSecret   = "secret-client-secret-0123456789"
	PublicClient   = "public-client"
	RedirectURI    = "https://app.example/cb"
	LoopbackURI    = "http://127.0.0.1/cb"
	ResourceClient = "resource-server"
)

// Env is a running authorization server with its test clients.
type Env struct {
	// URL is where this server listens; requests go here.
	URL string
	// Issuer is the issuer identifier, which client assertions name as
	// their audience. It equals URL except for the nodes of StartNodes,
	// which share the first node's issuer as if behind one balancer.
	Issuer string
	Server *authserver.Server
	Store  *store.Store
	// Keys holds each private_key_jwt client's signing key.
	Keys map[string]*jose.PrivateKey
	// Now is the clock tests may move via Advance; nil-safe.
	HTTP *http.Client
}

// Options tune Start.
type Options struct {
	// SQLite runs on a SQLite file instead of the memory store.
	SQLite bool
	// Config is applied on top of the defaults before start.
	Config func(*authserver.Config)
	// Log receives server logs; nil discards them.
	Log io.Writer
	// Store, when set, opens the server's store (and arranges its
	// cleanup); it takes precedence over SQLite. StartNodes calls it once
	// per node, so each node has its own connections to shared back
	// ends, as real nodes do.
	Store func(t testing.TB) *store.Store
}

// Start runs a server on a loopback listener until the test ends.
func Start(t testing.TB, opts Options) *Env {
	t.Helper()
	return startNode(t, opts, "", nil)
}

// StartNodes runs n servers that share opts.Store's back ends, one issuer
// (the first node's URL) and the test clients' keys: a deployment of n
// nodes behind a balancer, where each test request picks its node.
func StartNodes(t testing.TB, n int, opts Options) []*Env {
	t.Helper()
	nodes := []*Env{startNode(t, opts, "", nil)}
	for range n - 1 {
		nodes = append(nodes, startNode(t, opts, nodes[0].Issuer, nodes[0].Keys))
	}
	return nodes
}

// startNode is Start with an issuer and client keys to share; empty and
// nil mean the node's own URL and fresh keys.
func startNode(t testing.TB, opts Options, issuer string, keys map[string]*jose.PrivateKey) *Env {
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
	self := "http://" + ln.Addr().String()
	if issuer == "" {
		issuer = self
	}
	env := &Env{URL: self, Issuer: issuer, Store: st, Keys: map[string]*jose.PrivateKey{}}
	cfg := authserver.Config{Issuer: issuer, Listen: ln.Addr().String()}
	for _, id := range []string{FAPIClient, FAPIClient2, ResourceClient} {
		k := keys[id]
		if k == nil {
			var err error
			if k, err = jose.GenerateKey(jose.ES256); err != nil {
				t.Fatal(err)
			}
		}
		env.Keys[id] = k
		jwks, _ := json.Marshal(map[string]any{"keys": []any{k.Public()}})
		profile := clients.ProfileFAPI2
		if id == ResourceClient {
			profile = clients.ProfileStandard
		}
		cfg.Clients = append(cfg.Clients, authserver.StaticClient{Client: clients.Client{
			ID: id, Name: "Test " + id, ProfileName: profile, AuthMethod: oauth.AuthPrivateKeyJWT,
			JWKS: jwks, RedirectURIs: []string{RedirectURI, LoopbackURI},
			GrantTypes: []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken, oauth.GrantClientCredentials},
			Scopes:     oauth.NewScopes("openid", "profile", "email", "accounts"),
		}})
	}
	cfg.Clients = append(cfg.Clients,
		authserver.StaticClient{Secret: ClientSecret, Client: clients.Client{
			ID: SecretClient, Name: "Secret Client", ProfileName: clients.ProfileStandard, AuthMethod: oauth.AuthClientSecretBasic,
			RedirectURIs: []string{RedirectURI},
			GrantTypes:   []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken, oauth.GrantClientCredentials},
			Scopes:       oauth.NewScopes("openid", "profile", "email", "api"),
		}},
		authserver.StaticClient{Client: clients.Client{
			ID: PublicClient, Name: "Public Agent", ProfileName: clients.ProfileStandard, AuthMethod: oauth.AuthNone,
			RedirectURIs: []string{LoopbackURI, RedirectURI},
			GrantTypes:   []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken},
			Scopes:       oauth.NewScopes("openid", "profile", "email", "offline_access"),
		}},
	)
	cfg.RateLimits.LoginPerIP = 20
	cfg.Users = []authserver.StaticUser{{Username: UserName, Password: UserPassword, Claims: map[string]any{"email": UserEmail, "email_verified": true, "name": "Alice Liddell"}}}
	if opts.Config != nil {
		opts.Config(&cfg)
	}
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
	hs := &httptest.Server{Listener: ln, Config: &http.Server{Handler: srv.Handler()}}
	hs.Start()
	t.Cleanup(hs.Close)
	env.HTTP = NewBrowser()
	return env
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
	req, err := http.NewRequest(http.MethodPost, e.URL+path, strings.NewReader(form.Encode()))
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
