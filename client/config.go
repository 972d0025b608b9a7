package client

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"

	"github.com/bulwarkauth/bulwark/internal/dpop"
	"github.com/bulwarkauth/bulwark/internal/jose"
	"github.com/bulwarkauth/bulwark/internal/oauth"
)

// maxResponseSize bounds every response body the client reads from an
// authorization server.
const maxResponseSize = 1 << 20

// assertionLifetime is the exp - iat of a private_key_jwt assertion: short,
// because the assertion is a bearer credential while it lives (FAPI 2.0 SP
// §5.3.3.1-2, CL-2).
const assertionLifetime = 60 * time.Second

// expiryDelta is how long before its expiry a token is treated as expired,
// so a token does not lapse between Token and the request it authorizes
// (x/oauth2 uses the same 10 s).
const expiryDelta = 10 * time.Second

// Mode is how access tokens are sender-constrained.
type Mode string

// Sender-constraint modes.
const (
	// ModeDPoP binds tokens to the Config's DPoP key (RFC 9449): every
	// token, PAR and resource request carries a fresh proof, and a token
	// response whose token_type is not DPoP is an error (ErrTokenType)
	// unless InsecureAllowBearer is set. It is the default.
	ModeDPoP Mode = "dpop"
	// ModeMTLS binds tokens to the Config's client certificate (RFC 8705
	// §3): requests go to the mtls_endpoint_aliases and the certificate
	// is presented on every connection.
	ModeMTLS Mode = "mtls"
	// ModeBearer asks for unconstrained Bearer tokens (RFC 6750). FAPI
	// 2.0 servers refuse them; use it only with servers that do not
	// support a sender constraint.
	ModeBearer Mode = "bearer"
)

// AuthMethod is a client authentication method (RFC 7591 §2
// token_endpoint_auth_method).
type AuthMethod string

// Client authentication methods.
const (
	// AuthPrivateKeyJWT signs a fresh RFC 7523 assertion with Config.Key
	// for every request: iss = sub = client_id, aud = the issuer as a
	// string (FAPI 2.0 SP §5.3.3.1-5), a random jti and a 60 s lifetime.
	AuthPrivateKeyJWT AuthMethod = "private_key_jwt"
	// AuthClientSecretBasic sends Config.ClientSecret with HTTP Basic
	// (RFC 6749 §2.3.1). Not allowed by FAPI 2.0.
	AuthClientSecretBasic AuthMethod = "client_secret_basic"
	// AuthTLSClientAuth authenticates with Config.Certificate over mutual
	// TLS (RFC 8705 §2), using the mtls_endpoint_aliases.
	AuthTLSClientAuth AuthMethod = "tls_client_auth"
	// AuthNone is a public client: only client_id is sent (RFC 6749
	// §2.1). Use it with PKCE, which Login always does.
	AuthNone AuthMethod = "none"
)

// Config describes one OAuth client of one authorization server, like
// oauth2.Config, but with the endpoints discovered from Issuer rather than
// configured. Set the fields before first use and do not change or copy
// the Config afterwards; its methods and the token sources it returns are
// then safe for concurrent use.
//
// Security defaults: DPoP-bound tokens (Mode ""), https only, exact
// issuer match, PAR and PKCE S256 for every login, RFC 9207 iss checked.
type Config struct {
	// Issuer is the authorization server's issuer identifier. It must come
	// from a trusted source (configuration, a flag), never from a
	// response (FAPI 2.0 SP §5.3.3.1-10). Required.
	Issuer string
	// ClientID is the client's identifier. Required.
	ClientID string
	// ClientSecret is the secret for AuthClientSecretBasic.
	ClientSecret string
	// Key signs private_key_jwt assertions. It may be any crypto.Signer:
	// an ECDSA P-256 key (ES256), an RSA key of at least 2048 bits
	// (PS256) or an Ed25519 key (EdDSA), held in memory or in an HSM.
	Key crypto.Signer
	// KeyID is the kid header of the assertions; empty sends none.
	KeyID string
	// Certificate is the client certificate for AuthTLSClientAuth and
	// ModeMTLS. It is presented on every connection the Config makes. It
	// may be nil with an explicit AuthMethod or Mode when HTTPClient's
	// transport presents a certificate itself.
	Certificate *tls.Certificate
	// AuthMethod is how the client authenticates. Empty picks
	// AuthPrivateKeyJWT when Key is set, else AuthTLSClientAuth when
	// Certificate is set, else AuthClientSecretBasic when ClientSecret
	// is set, else AuthNone.
	AuthMethod AuthMethod
	// Mode is the sender constraint. Empty means ModeDPoP.
	Mode Mode
	// DPoPKey is the DPoP proof key in ModeDPoP. Nil means a fresh ES256
	// key made on first use and kept in memory for the Config's life:
	// tokens it binds cannot be used by another process. Use
	// LoadOrCreateDPoPKey to keep one across runs.
	DPoPKey *DPoPKey
	// DPoPJKTAtPAR sends the DPoP key's thumbprint as dpop_jkt in Login's
	// pushed authorization request instead of a DPoP proof (RFC 9449
	// §10). Either binds the authorization code to the key; the proof is
	// the default because it also proves possession at PAR.
	DPoPJKTAtPAR bool
	// InsecureAllowBearer accepts a Bearer token_type in ModeDPoP. A
	// server that ignores the proof then issues a token anyone who sees
	// it can replay; FAPI 2.0 forbids using one (RFC 9449 §5).
	InsecureAllowBearer bool
	// InsecureAllowHTTP allows an http issuer and http endpoints, for
	// development servers on loopback. Everything, credentials included,
	// then travels in clear.
	InsecureAllowHTTP bool
	// Scopes are the scopes to request; nil requests the client's
	// default. Ask for the least you need (FAPI 2.0 SP §5.3.3.1-13).
	Scopes []string
	// RedirectURL is the loopback redirect URI for Login, such as
	// "http://127.0.0.1/callback" (the default when empty). Its host
	// must be 127.0.0.1 or [::1]; the port is replaced by the port of
	// the listener Login opens (RFC 8252 §7.3).
	RedirectURL string
	// OpenBrowser shows the authorization URL to the user. Nil returns
	// an error from Login: a library does not start programs on its
	// own. Tests drive the login pages from here.
	OpenBrowser func(ctx context.Context, authURL string) error
	// Metadata, when set, is used instead of discovery. Its Issuer must
	// still equal Issuer.
	Metadata *Metadata
	// HTTPClient sends every request to the authorization server. Nil
	// means a client with a 30 s timeout over http.DefaultTransport.
	// With Certificate set, its Transport must be nil or an
	// *http.Transport, which is cloned to present the certificate.
	HTTPClient *http.Client
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Sleep waits between device-flow polls; nil means a timer that
	// stops when ctx is done.
	Sleep func(ctx context.Context, d time.Duration) error

	// mu guards md, hc, hcErr, signer, genKey.
	mu     sync.Mutex
	md     *Metadata
	hc     *http.Client
	hcErr  error
	signer *jose.PrivateKey
	genKey *DPoPKey
	// nonces remembers the last DPoP-Nonce of each server origin; it has
	// its own lock.
	nonces nonceStore
	// keys caches the issuer's JWKS for ID and logout tokens; it has its
	// own lock.
	keys keyCache
}

func (c *Config) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func (c *Config) mode() Mode {
	if c.Mode == "" {
		return ModeDPoP
	}
	return c.Mode
}

func (c *Config) authMethod() AuthMethod {
	switch {
	case c.AuthMethod != "":
		return c.AuthMethod
	case c.Key != nil:
		return AuthPrivateKeyJWT
	case c.Certificate != nil:
		return AuthTLSClientAuth
	case c.ClientSecret != "":
		return AuthClientSecretBasic
	}
	return AuthNone
}

// useMTLS reports whether requests go to the mtls_endpoint_aliases: when
// the client authenticates or binds its tokens with its certificate
// (RFC 8705 §5).
func (c *Config) useMTLS() bool {
	return c.authMethod() == AuthTLSClientAuth || c.mode() == ModeMTLS
}

// Discover returns the server's metadata, fetched on first use and kept
// for the Config's life (see Metadata). The issuer must match exactly or
// the error wraps ErrIssuerMismatch; a failed discovery is retried on the
// next call.
func (c *Config) Discover(ctx context.Context) (*Metadata, error) {
	c.mu.Lock()
	md := c.md
	c.mu.Unlock()
	if md != nil {
		return md, nil
	}
	if c.Issuer == "" {
		return nil, errNoMetadata
	}
	if c.Metadata != nil {
		if c.Metadata.Issuer != c.Issuer {
			return nil, fmt.Errorf("%w: %q", ErrIssuerMismatch, c.Metadata.Issuer)
		}
		if err := c.Metadata.check(c.InsecureAllowHTTP); err != nil {
			return nil, err
		}
		md = c.Metadata
	} else {
		hc, err := c.httpClient()
		if err != nil {
			return nil, err
		}
		if md, err = discover(ctx, hc, c.Issuer, c.InsecureAllowHTTP); err != nil {
			return nil, err
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.md == nil {
		c.md = md
	}
	return c.md, nil
}

// httpClient returns the client that talks to the authorization server,
// presenting Certificate when set.
func (c *Config) httpClient() (*http.Client, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.hc != nil || c.hcErr != nil {
		return c.hc, c.hcErr
	}
	c.hc, c.hcErr = buildHTTPClient(c.HTTPClient, c.Certificate)
	return c.hc, c.hcErr
}

func buildHTTPClient(base *http.Client, cert *tls.Certificate) (*http.Client, error) {
	if base == nil {
		base = &http.Client{Timeout: 30 * time.Second}
	}
	// Requests to the authorization server never follow redirects: a
	// redirected token or PAR request would carry client credentials and
	// a proof for another URL. A 3xx is returned as a RetrieveError.
	noRedirect := *base
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	base = &noRedirect
	if cert == nil {
		return base, nil
	}
	rt := base.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	t, ok := rt.(*http.Transport)
	if !ok {
		return nil, fmt.Errorf("client: Certificate needs HTTPClient.Transport to be an *http.Transport, not %T", rt)
	}
	t = t.Clone()
	if t.TLSClientConfig == nil {
		t.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	cc := *cert
	t.TLSClientConfig.Certificates = nil
	t.TLSClientConfig.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &cc, nil }
	hc := *base
	hc.Transport = t
	return &hc, nil
}

// dpopKey returns the DPoP key in ModeDPoP and nil otherwise.
func (c *Config) dpopKey() (*DPoPKey, error) {
	if c.mode() != ModeDPoP {
		return nil, nil
	}
	if c.DPoPKey != nil {
		return c.DPoPKey, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.genKey == nil {
		k, err := NewDPoPKey("")
		if err != nil {
			return nil, err
		}
		c.genKey = k
	}
	return c.genKey, nil
}

// assertionKey wraps Key for jose.
func (c *Config) assertionKey() (*jose.PrivateKey, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.signer != nil {
		return c.signer, nil
	}
	if c.Key == nil {
		return nil, errors.New("client: private_key_jwt needs Config.Key")
	}
	k, err := jose.NewExternalKey(c.Key, "", c.KeyID)
	if err != nil {
		return nil, fmt.Errorf("client: Config.Key: %w", err)
	}
	c.signer = k
	return k, nil
}

// assertionClaims are the RFC 7523 §3 claims of a client assertion. aud is
// a plain string: FAPI 2.0 SP §5.3.2.1-8 and §5.3.3.1-5 (CL-5).
type assertionClaims struct {
	Iss string `json:"iss"`
	Sub string `json:"sub"`
	Aud string `json:"aud"`
	JTI string `json:"jti"`
	IAT int64  `json:"iat"`
	Exp int64  `json:"exp"`
}

// authenticate adds client authentication to a request about to be sent:
// form parameters and, for client_secret_basic, the Authorization header.
func (c *Config) authenticate(req *http.Request, form url.Values) error {
	switch c.authMethod() {
	case AuthPrivateKeyJWT:
		k, err := c.assertionKey()
		if err != nil {
			return err
		}
		now := c.now()
		a, err := jose.SignWithKey(k, "", false, assertionClaims{
			Iss: c.ClientID, Sub: c.ClientID, Aud: c.Issuer, JTI: randomString(16),
			IAT: now.Unix(), Exp: now.Add(assertionLifetime).Unix(),
		})
		if err != nil {
			return fmt.Errorf("client: sign assertion: %w", err)
		}
		form.Set("client_id", c.ClientID)
		form.Set("client_assertion_type", oauth.ClientAssertionTypeJWT)
		form.Set("client_assertion", a)
	case AuthClientSecretBasic:
		// RFC 6749 §2.3.1: the id and secret are form-encoded before
		// they are put into the Basic credentials.
		req.SetBasicAuth(url.QueryEscape(c.ClientID), url.QueryEscape(c.ClientSecret))
	case AuthTLSClientAuth, AuthNone:
		// RFC 8705 §2 (https://www.rfc-editor.org/rfc/rfc8705#section-2):
		// the client_id parameter is required for mTLS authentication.
		form.Set("client_id", c.ClientID)
	default:
		return fmt.Errorf("client: unknown AuthMethod %q", c.AuthMethod)
	}
	return nil
}

// post sends form to the named endpoint with client authentication and, in
// ModeDPoP when withProof, a fresh DPoP proof whose htu is the URL actually
// used (the mTLS alias when one applies). A 400 use_dpop_nonce answer is
// retried once with the server's nonce and a new proof and assertion
// (RFC 9449 §8, https://www.rfc-editor.org/rfc/rfc9449#section-8; every
// retry needs a new jti, §4.2). It
// returns the final response, already read and closed, and its body.
func (c *Config) post(ctx context.Context, endpoint string, form url.Values, withProof bool) (*http.Response, []byte, error) {
	md, err := c.Discover(ctx)
	if err != nil {
		return nil, nil, err
	}
	u, err := md.endpoint(endpoint, c.useMTLS())
	if err != nil {
		return nil, nil, err
	}
	hc, err := c.httpClient()
	if err != nil {
		return nil, nil, err
	}
	var key *DPoPKey
	if withProof {
		if key, err = c.dpopKey(); err != nil {
			return nil, nil, err
		}
	}
	org := origin(u)
	for attempt := 0; ; attempt++ {
		f := url.Values{}
		for k, v := range form {
			f[k] = v
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, nil)
		if err != nil {
			return nil, nil, fmt.Errorf("client: %w", err)
		}
		if err := c.authenticate(req, f); err != nil {
			return nil, nil, err
		}
		nonce := c.nonces.get(org)
		if key != nil {
			p, err := key.proof(http.MethodPost, u, "", nonce, c.now())
			if err != nil {
				return nil, nil, err
			}
			req.Header.Set(dpop.HeaderName, p)
		}
		body := f.Encode()
		req.Body = io.NopCloser(strings.NewReader(body))
		req.ContentLength = int64(len(body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(strings.NewReader(body)), nil }
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Accept", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			return nil, nil, fmt.Errorf("client: %s: %w", endpoint, err)
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseSize))
		resp.Body.Close()
		if err != nil {
			return nil, nil, fmt.Errorf("client: %s: %w", endpoint, err)
		}
		// RFC 9449 §8.2: a server may supply a new nonce on any
		// response; the next proof to this server carries it.
		newNonce := resp.Header.Get(dpop.NonceHeaderName)
		if newNonce != "" {
			c.nonces.set(org, newNonce)
		}
		if resp.StatusCode/100 == 2 {
			return resp, b, nil
		}
		re := newRetrieveError(resp, b)
		if key != nil && attempt == 0 && resp.StatusCode == http.StatusBadRequest &&
			re.ErrorCode == oauth.ErrUseDPoPNonce && newNonce != "" && newNonce != nonce {
			continue
		}
		return nil, nil, re
	}
}

// tokenRequest posts a token request and parses the response.
func (c *Config) tokenRequest(ctx context.Context, form url.Values) (*oauth2.Token, error) {
	_, body, err := c.post(ctx, "token_endpoint", form, true)
	if err != nil {
		return nil, err
	}
	return c.parseToken(body)
}

// parseToken decodes an RFC 6749 §5.1 token response and enforces the
// sender constraint's token_type.
func (c *Config) parseToken(body []byte) (*oauth2.Token, error) {
	var raw map[string]any
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, fmt.Errorf("client: token response: %w", err)
	}
	str := func(k string) string { s, _ := raw[k].(string); return s }
	t := &oauth2.Token{AccessToken: str("access_token"), TokenType: str("token_type"), RefreshToken: str("refresh_token")}
	if t.AccessToken == "" {
		return nil, errors.New("client: token response has no access_token")
	}
	if t.TokenType == "" {
		return nil, errors.New("client: token response has no token_type")
	}
	switch {
	case strings.EqualFold(t.TokenType, oauth.TokenTypeDPoP):
		t.TokenType = oauth.TokenTypeDPoP
	case strings.EqualFold(t.TokenType, oauth.TokenTypeBearer):
		t.TokenType = oauth.TokenTypeBearer
	}
	switch c.mode() {
	case ModeDPoP:
		// RFC 9449 §5 (https://www.rfc-editor.org/rfc/rfc9449#section-5):
		// token_type DPoP is how the server says the token is bound. A
		// client that needs DPoP protection, as FAPI 2.0 always does,
		// discards a response of another type (checklist DPOP-CL-2).
		if t.TokenType != oauth.TokenTypeDPoP && !(c.InsecureAllowBearer && t.TokenType == oauth.TokenTypeBearer) {
			return nil, fmt.Errorf("%w: %q in DPoP mode", ErrTokenType, t.TokenType)
		}
	default:
		if t.TokenType == oauth.TokenTypeDPoP {
			return nil, fmt.Errorf("%w: %q without a DPoP key", ErrTokenType, t.TokenType)
		}
	}
	if secs, ok := number(raw["expires_in"]); ok && secs > 0 {
		t.ExpiresIn = secs
		t.Expiry = c.now().Add(time.Duration(secs) * time.Second)
	}
	return t.WithExtra(raw), nil
}

// number reads a JSON number, or a string holding one (some servers send
// expires_in as a string).
func number(v any) (int64, bool) {
	switch n := v.(type) {
	case float64:
		return int64(n), true
	case string:
		i, err := strconv.ParseInt(n, 10, 64)
		return i, err == nil
	}
	return 0, false
}

// valid reports whether t can still be used at now.
func valid(t *oauth2.Token, now time.Time) bool {
	return t != nil && t.AccessToken != "" && (t.Expiry.IsZero() || now.Add(expiryDelta).Before(t.Expiry))
}

func randomString(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// origin is the scheme and host of u, the unit DPoP nonces are kept per.
func origin(u string) string {
	p, err := url.Parse(u)
	if err != nil {
		return u
	}
	return strings.ToLower(p.Scheme + "://" + p.Host)
}

// nonceStore keeps one DPoP nonce per server origin (RFC 9449 §8: a
// nonce is specific to the server that issued it). The zero value is
// ready; it is safe for concurrent use.
type nonceStore struct {
	mu sync.Mutex
	m  map[string]string // guarded by mu
}

func (s *nonceStore) get(origin string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.m[origin]
}

func (s *nonceStore) set(origin, nonce string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]string{}
	}
	s.m[origin] = nonce
}
