package resource_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwarkauth/bulwark/internal/authserver"
	"github.com/bulwarkauth/bulwark/internal/jose"
	"github.com/bulwarkauth/bulwark/internal/testenv"
	"github.com/bulwarkauth/bulwark/internal/testenv/testca"
	"github.com/bulwarkauth/bulwark/resource"
)

// The resource server's external identity. The test server listens on
// 127.0.0.1, so every DPoP htu below names apiBase, never the listener:
// that is the point of Verifier.BaseURL (FAPI checklist G-6).
const (
	apiBase = "https://api.example.com"
	apiAud  = "https://api.example.com"
	apiPath = "/accounts/42"
)

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// rawKey extracts the ECDSA key of a test key through its private JWK.
func rawKey(t testing.TB, k *jose.PrivateKey) *ecdsa.PrivateKey {
	t.Helper()
	key, ok := k.Signer().(*ecdsa.PrivateKey)
	if !ok {
		t.Fatalf("test key is %T, not ECDSA", k.Signer())
	}
	return key
}

func jwkOf(key crypto.Signer) map[string]any {
	switch pk := key.Public().(type) {
	case *ecdsa.PublicKey:
		b, _ := pk.Bytes()
		return map[string]any{"kty": "EC", "crv": "P-256", "x": b64(b[1:33]), "y": b64(b[33:])}
	case *rsa.PublicKey:
		return map[string]any{"kty": "RSA", "n": b64(pk.N.Bytes()), "e": b64(big.NewInt(int64(pk.E)).Bytes())}
	}
	panic(fmt.Sprintf("jwkOf: %T", key))
}

// sign serialises header and claims and signs them by hand, so the tests
// do not trust the code under test to build their inputs.
func sign(t testing.TB, alg string, key crypto.Signer, header, claims map[string]any) string {
	t.Helper()
	hb, _ := json.Marshal(header)
	cb, _ := json.Marshal(claims)
	input := b64(hb) + "." + b64(cb)
	digest := sha256.Sum256([]byte(input))
	var sig []byte
	var err error
	switch alg {
	case "ES256":
		r, s, e := ecdsa.Sign(rand.Reader, key.(*ecdsa.PrivateKey), digest[:])
		err = e
		sig = make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
	case "RS256":
		sig, err = rsa.SignPKCS1v15(rand.Reader, key.(*rsa.PrivateKey), crypto.SHA256, digest[:])
	case "none":
	default:
		t.Fatalf("sign: %s", alg)
	}
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + b64(sig)
}

func ath(token string) string {
	h := sha256.Sum256([]byte(token))
	return b64(h[:])
}

func randomID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return b64(b)
}

// proofParts are the header and claims of a correct RS proof for a GET of
// apiPath with token, ready for a test case to change.
func proofParts(key crypto.Signer, method, htu, token string) (header, claims map[string]any) {
	header = map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": jwkOf(key)}
	claims = map[string]any{"jti": randomID(), "htm": method, "htu": htu, "iat": time.Now().Unix()}
	if token != "" {
		claims["ath"] = ath(token)
	}
	return header, claims
}

// proof is a correct proof by key for method at apiBase+path with token.
func proof(t testing.TB, key *ecdsa.PrivateKey, method, path, token, nonce string) string {
	t.Helper()
	h, c := proofParts(key, method, apiBase+path, token)
	if nonce != "" {
		c["nonce"] = nonce
	}
	return sign(t, "ES256", key, h, c)
}

type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	Error       string `json:"error"`
	Desc        string `json:"error_description"`
}

// startEnv starts the real Bulwark server. Every client's access tokens
// name this API and the resource server's client as audiences (the
// latter lets it introspect them, RFC 7662 §2.1).
func startEnv(t testing.TB, useTLS bool) *testenv.Env {
	t.Helper()
	return testenv.Start(t, testenv.Options{TLS: useTLS, Config: func(c *authserver.Config) {
		for i := range c.Clients {
			c.Clients[i].Client.Audience = []string{apiAud, testenv.ResourceClient}
		}
	}})
}

// dpopToken gets a DPoP-bound access token for client by client
// credentials from the real Bulwark server.
func dpopToken(t testing.TB, env *testenv.Env, client, scope string) (string, *ecdsa.PrivateKey) {
	t.Helper()
	form := env.AssertionForm(t, client)
	form.Set("grant_type", "client_credentials")
	if scope != "" {
		form.Set("scope", scope)
	}
	var tr tokenResponse
	resp := env.PostForm(t, nil, "/token", form, env.DPoPHeader(t, client, "/token"), &tr)
	if resp.StatusCode != http.StatusOK || !strings.EqualFold(tr.TokenType, "DPoP") {
		t.Fatalf("token: %d %+v", resp.StatusCode, tr)
	}
	return tr.AccessToken, rawKey(t, env.DPoPKey(t, client))
}

// bearerToken gets an unbound token for the standard-profile secret
// client.
func bearerToken(t testing.TB, env *testenv.Env) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}}
	req, _ := http.NewRequest(http.MethodPost, env.URL+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(testenv.SecretClient, testenv.ClientSecret)
	resp, err := env.Client(nil).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tr tokenResponse
	json.NewDecoder(resp.Body).Decode(&tr)
	if resp.StatusCode != http.StatusOK || tr.TokenType != "Bearer" {
		t.Fatalf("token: %d %+v", resp.StatusCode, tr)
	}
	return tr.AccessToken
}

// mtlsToken gets a certificate-bound token for MTLSClient (tls_client_auth).
func mtlsToken(t testing.TB, env *testenv.Env) string {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {testenv.MTLSClient}}
	var tr tokenResponse
	resp := env.PostForm(t, env.Client(env.ClientCerts[testenv.MTLSClient]), "/token", form, nil, &tr)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("token: %d %+v", resp.StatusCode, tr)
	}
	return tr.AccessToken
}

// memReplay is a ReplayCache with switchable failure modes.
type memReplay struct {
	resource.MemoryReplayCache
	down   atomic.Bool // every Use fails: the cache is unreachable
	custom error       // when set, "already used" is reported as this
}

var errCustomReplayed = errors.New("store: already used")

func (m *memReplay) Use(ctx context.Context, key string, exp time.Time) error {
	if m.down.Load() {
		return errors.New("replay: connection refused")
	}
	err := m.MemoryReplayCache.Use(ctx, key, exp)
	if m.custom != nil && errors.Is(err, resource.ErrReplayed) {
		return fmt.Errorf("use %s: %w", key, m.custom)
	}
	return err
}

// countingTransport counts requests per path.
type countingTransport struct {
	base http.RoundTripper
	mu   sync.Mutex
	hits map[string]int
}

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	if c.hits == nil {
		c.hits = map[string]int{}
	}
	c.hits[r.URL.Path]++
	c.mu.Unlock()
	return c.base.RoundTrip(r)
}

func (c *countingTransport) count(path string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.hits[path]
}

// clock is a settable clock starting now.
type clock struct {
	mu sync.Mutex
	d  time.Duration
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return time.Now().Add(c.d)
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.d += d
	c.mu.Unlock()
}

// api is a resource server: v.Handler in front of a handler that echoes
// the token, on httptest (TLS, requesting client certificates, when tls).
type api struct {
	v      *resource.Verifier
	srv    *httptest.Server
	client *http.Client
}

func newAPI(t testing.TB, v *resource.Verifier, useTLS bool) *api {
	t.Helper()
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := resource.TokenFromContext(r.Context())
		if !ok {
			http.Error(w, "no token", http.StatusInternalServerError)
			return
		}
		body, _ := io.ReadAll(r.Body)
		json.NewEncoder(w).Encode(map[string]any{
			"sub": tok.Subject, "client_id": tok.ClientID, "binding": tok.Binding, "body": string(body),
		})
	})
	a := &api{v: v}
	if useTLS {
		a.srv = httptest.NewUnstartedServer(v.Handler(next))
		a.srv.TLS = &tls.Config{ClientAuth: tls.RequestClientCert}
		a.srv.StartTLS()
	} else {
		a.srv = httptest.NewServer(v.Handler(next))
	}
	t.Cleanup(a.srv.Close)
	a.client = a.srv.Client()
	return a
}

// clientWith returns a client of a TLS api presenting cert.
func (a *api) clientWith(cert *testca.Leaf) *http.Client {
	tr := a.srv.Client().Transport.(*http.Transport).Clone()
	tr.TLSClientConfig.Certificates = []tls.Certificate{cert.TLS()}
	return &http.Client{Transport: tr}
}

type result struct {
	status int
	header http.Header
	body   map[string]any
}

// challenge returns the WWW-Authenticate challenge of scheme, or "".
func (r result) challenge(scheme string) string {
	for _, v := range r.header.Values("Www-Authenticate") {
		if s, _, _ := strings.Cut(v, " "); strings.EqualFold(s, scheme) || v == scheme {
			return v
		}
	}
	return ""
}

func (a *api) do(t testing.TB, c *http.Client, method, target string, header http.Header, body io.Reader) result {
	t.Helper()
	req, err := http.NewRequest(method, a.srv.URL+target, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v // as given: the wire keeps the case
	}
	if c == nil {
		c = a.client
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r := result{status: resp.StatusCode, header: resp.Header}
	if len(b) > 0 {
		if err := json.Unmarshal(b, &r.body); err != nil {
			t.Fatalf("body %q: %v", b, err)
		}
	}
	return r
}

// verifier is a Verifier for env with sane test settings.
func verifier(env *testenv.Env, replay resource.ReplayCache, mod func(*resource.Verifier)) *resource.Verifier {
	v := &resource.Verifier{
		Issuer:     env.URL,
		Audiences:  []string{apiAud},
		BaseURL:    apiBase,
		Replay:     replay,
		HTTPClient: env.Client(nil),
	}
	if mod != nil {
		mod(v)
	}
	return v
}
