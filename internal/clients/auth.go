package clients

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"net/url"
	"strings"
	"time"

	"github.com/bulwarkauth/bulwark/internal/jose"
	"github.com/bulwarkauth/bulwark/internal/mtls"
	"github.com/bulwarkauth/bulwark/internal/oauth"
	"github.com/bulwarkauth/bulwark/internal/store"
)

// Credentials are the client credentials found in one request, parsed once
// by the HTTP edge. At most one method may be present (RFC 6749 §2.3: "The
// client MUST NOT use more than one authentication method in each
// request").
type Credentials struct {
	// ClientID is the client_id form parameter, possibly empty.
	ClientID string
	// BasicID and BasicSecret come from an Authorization: Basic header.
	BasicID, BasicSecret string
	HasBasic             bool
	// PostSecret is the client_secret form parameter.
	PostSecret    string
	HasPostSecret bool
	// AssertionType and Assertion are the RFC 7521 §4.2 parameters.
	AssertionType string
	Assertion     string
	// Certificate is the client certificate of the TLS connection (or the
	// one a trusted proxy forwarded), nil when none was presented. It
	// authenticates only clients registered for tls_client_auth or
	// self_signed_tls_client_auth; for others it may still bind tokens.
	Certificate *x509.Certificate
	// Intermediates are the other certificates the client sent, used to
	// build the chain for tls_client_auth.
	Intermediates []*x509.Certificate
}

// ParseCredentials extracts credentials from the Authorization header value
// and the form. A malformed Basic header is invalid_client.
func ParseCredentials(authorization string, form url.Values) (Credentials, error) {
	c := Credentials{
		ClientID:      form.Get("client_id"),
		PostSecret:    form.Get("client_secret"),
		HasPostSecret: form.Has("client_secret"),
		AssertionType: form.Get("client_assertion_type"),
		Assertion:     form.Get("client_assertion"),
	}
	if authorization == "" {
		return c, nil
	}
	scheme, rest, ok := strings.Cut(authorization, " ")
	if !ok || !strings.EqualFold(scheme, "Basic") {
		// Other schemes (Bearer, DPoP) are not client authentication.
		return c, nil
	}
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(rest))
	if err != nil {
		return c, oauth.InvalidClient("malformed Basic credentials")
	}
	id, sec, ok := strings.Cut(string(raw), ":")
	if !ok {
		return c, oauth.InvalidClient("malformed Basic credentials")
	}
	// RFC 6749 §2.3.1: the id and secret are form-urlencoded before being
	// placed in the Basic header.
	if c.BasicID, err = url.QueryUnescape(id); err != nil {
		return c, oauth.InvalidClient("malformed Basic credentials")
	}
	if c.BasicSecret, err = url.QueryUnescape(sec); err != nil {
		return c, oauth.InvalidClient("malformed Basic credentials")
	}
	c.HasBasic = true
	return c, nil
}

// method returns the single authentication method the credentials use.
func (c Credentials) method() (string, error) {
	n := 0
	m := oauth.AuthNone
	if c.HasBasic {
		n++
		m = oauth.AuthClientSecretBasic
	}
	if c.HasPostSecret {
		n++
		m = oauth.AuthClientSecretPost
	}
	if c.Assertion != "" || c.AssertionType != "" {
		n++
		m = oauth.AuthPrivateKeyJWT
	}
	if n > 1 {
		return "", oauth.InvalidRequest("more than one client authentication method used")
	}
	return m, nil
}

// Failure reasons used as metric labels.
const (
	ReasonUnknownClient = "unknown_client"
	ReasonWrongMethod   = "wrong_method"
	ReasonBadSecret     = "bad_secret"
	ReasonBadAssertion  = "bad_assertion"
	ReasonReplayed      = "replayed_assertion"
	ReasonMalformed     = "malformed"
	ReasonBadCert       = "bad_certificate"
)

// AuthError is an authentication failure with a metric reason. It unwraps
// to the *oauth.Error the client sees.
type AuthError struct {
	Reason string
	Err    *oauth.Error
}

func (e *AuthError) Error() string { return e.Err.Error() }

// Unwrap returns the OAuth error.
func (e *AuthError) Unwrap() error { return e.Err }

func fail(reason, desc string, cause error) error {
	return &AuthError{Reason: reason, Err: oauth.InvalidClient(desc).WithCause(cause)}
}

// Authenticate identifies and authenticates the client behind creds. A
// public client (method none) is identified only. On failure the client is
// nil. Every failure is invalid_client (RFC 6749 §5.2), except that a store
// outage is temporarily_unavailable: the replay check never gets skipped.
func (r *Registry) Authenticate(ctx context.Context, creds Credentials) (*Client, error) {
	c, err := r.authenticate(ctx, creds)
	var ae *AuthError
	if err != nil && r.OnFailure != nil && errors.As(err, &ae) {
		claimed := creds.ClientID
		if claimed == "" {
			claimed = creds.BasicID
		}
		r.OnFailure(ctx, claimed, ae.Reason)
	}
	return c, err
}

func (r *Registry) authenticate(ctx context.Context, creds Credentials) (*Client, error) {
	method, err := creds.method()
	if err != nil {
		return nil, &AuthError{Reason: ReasonMalformed, Err: err.(*oauth.Error)}
	}
	id := creds.ClientID
	var assertion *jose.JWT
	var assertionClaims jose.Claims
	switch method {
	case oauth.AuthClientSecretBasic:
		if id != "" && id != creds.BasicID {
			return nil, fail(ReasonMalformed, "client_id does not match credentials", nil)
		}
		id = creds.BasicID
	case oauth.AuthPrivateKeyJWT:
		// RFC 7523 §2.2: client_assertion_type names the jwt-bearer type
		// and client_assertion holds exactly one JWT.
		if creds.AssertionType != oauth.ClientAssertionTypeJWT {
			return nil, fail(ReasonMalformed, "unsupported client_assertion_type", nil)
		}
		assertion, err = jose.Parse(creds.Assertion, nil)
		if err != nil {
			return nil, fail(ReasonBadAssertion, "invalid client assertion", err)
		}
		if err := assertion.UnverifiedClaims(&assertionClaims); err != nil {
			return nil, fail(ReasonBadAssertion, "invalid client assertion", err)
		}
		if id == "" {
			id = assertionClaims.Subject
		}
	}
	if id == "" {
		return nil, fail(ReasonMalformed, "client authentication required", nil)
	}
	c, err := r.Get(ctx, id)
	if errors.Is(err, ErrUnknownClient) {
		return nil, fail(ReasonUnknownClient, "client authentication failed", err)
	}
	if err != nil {
		return nil, oauth.Unavailable(err)
	}
	if method == oauth.AuthNone && c.UsesMTLS() {
		// RFC 8705 §2: the client is identified by client_id and
		// authenticated by the TLS client certificate alone.
		method = c.AuthMethod
	}
	if c.AuthMethod != method {
		return nil, fail(ReasonWrongMethod, "client authentication failed", errors.New("method "+method+" presented, "+c.AuthMethod+" registered"))
	}
	switch method {
	case oauth.AuthClientSecretBasic:
		err = r.checkSecret(c, creds.BasicSecret)
	case oauth.AuthClientSecretPost:
		err = r.checkSecret(c, creds.PostSecret)
	case oauth.AuthPrivateKeyJWT:
		err = r.checkAssertion(ctx, c, assertion)
	case oauth.AuthTLSClientAuth:
		err = r.checkPKICertificate(c, creds)
	case oauth.AuthSelfSignedTLSClientAuth:
		err = r.checkSelfSigned(ctx, c, creds)
	}
	if err != nil {
		// Never hand back a client that failed authentication.
		return nil, err
	}
	return c, nil
}

func (r *Registry) checkSecret(c *Client, presented string) error {
	if c.secretHash == "" || r.Secrets == nil {
		return fail(ReasonBadSecret, "client authentication failed", errors.New("no secret registered"))
	}
	if err := r.Secrets.Verify(presented, c.secretHash); err != nil {
		return fail(ReasonBadSecret, "client authentication failed", err)
	}
	return nil
}

// checkPKICertificate applies tls_client_auth (RFC 8705 §2.1): the
// certificate chains to a configured client CA and carries the subject or
// SAN the client registered.
func (r *Registry) checkPKICertificate(c *Client, creds Credentials) error {
	if creds.Certificate == nil {
		return fail(ReasonBadCert, "a client certificate is required", mtls.ErrNoCertificate)
	}
	if err := mtls.VerifyChain(creds.Certificate, creds.Intermediates, r.ClientCAs, r.now()); err != nil {
		return fail(ReasonBadCert, "client certificate not trusted", err)
	}
	if !c.tlsSubject().Matches(creds.Certificate) {
		return fail(ReasonBadCert, "client certificate does not match the registration", mtls.ErrSubject)
	}
	return nil
}

// checkSelfSigned applies self_signed_tls_client_auth (RFC 8705 §2.2): the
// certificate is one registered in the client's JWKS (x5c). An unknown
// certificate refetches a jwks_uri once, as a rotated key would.
func (r *Registry) checkSelfSigned(ctx context.Context, c *Client, creds Credentials) error {
	if creds.Certificate == nil {
		return fail(ReasonBadCert, "a client certificate is required", mtls.ErrNoCertificate)
	}
	for _, refresh := range []bool{false, true} {
		if refresh && c.JWKSURI == "" {
			break
		}
		keys, err := r.keySet(ctx, c, refresh)
		if err != nil {
			return fail(ReasonBadCert, "client keys unavailable", err)
		}
		var registered []string
		for _, k := range keys.Keys() {
			if tps := k.CertificateThumbprints(); len(tps) > 0 {
				registered = append(registered, tps[0])
			}
		}
		err = mtls.MatchSelfSigned(creds.Certificate, registered, r.now())
		if err == nil {
			return nil
		}
		if !errors.Is(err, mtls.ErrNotRegistered) {
			return fail(ReasonBadCert, "client certificate not accepted", err)
		}
	}
	return fail(ReasonBadCert, "client certificate is not registered", mtls.ErrNotRegistered)
}

// Assertion lifetime rules. An assertion is used once, right after it is
// made; one that claims to live longer than MaxAssertionLifetime or was made
// longer than MaxAssertionAge ago is refused, which bounds the jti replay
// cache.
const (
	MaxAssertionLifetime = 5 * time.Minute
	MaxAssertionAge      = 5 * time.Minute
)

// checkAssertion verifies a private_key_jwt client assertion: RFC 7523 §3
// and OIDC Core §9, tightened by FAPI 2.0 SP §5.3.2.1-8 and -13.
func (r *Registry) checkAssertion(ctx context.Context, c *Client, t *jose.JWT) error {
	if !slicesContains(c.profile.SigningAlgs, t.Header.Algorithm) {
		return fail(ReasonBadAssertion, "client assertion algorithm not allowed", jose.ErrAlgorithm)
	}
	keys, err := r.keySet(ctx, c, false)
	if err != nil {
		return fail(ReasonBadAssertion, "client keys unavailable", err)
	}
	var claims jose.Claims
	if _, err := t.VerifySet(keys, &claims); err != nil {
		if !errors.Is(err, jose.ErrNoKey) || c.JWKSURI == "" {
			return fail(ReasonBadAssertion, "client assertion signature invalid", err)
		}
		// An unknown kid may mean the client rotated keys: refetch once.
		if keys, err = r.keySet(ctx, c, true); err != nil {
			return fail(ReasonBadAssertion, "client keys unavailable", err)
		}
		if _, err := t.VerifySet(keys, &claims); err != nil {
			return fail(ReasonBadAssertion, "client assertion signature invalid", err)
		}
	}
	// RFC 7523 §3 items 1 and 2, OIDC Core §9: iss and sub MUST both be the
	// client_id.
	if claims.Issuer != c.ID || claims.Subject != c.ID {
		return fail(ReasonBadAssertion, "client assertion iss and sub must be the client_id", nil)
	}
	if !r.audienceOK(c.profile, claims.Audience) {
		return fail(ReasonBadAssertion, "client assertion aud must be the issuer", nil)
	}
	skew := r.FutureSkew
	if skew == 0 {
		skew = 10 * time.Second
	}
	now := r.now()
	if err := claims.ValidateTimes(now, jose.TimeRules{
		RequireExp:  true,
		FutureSkew:  skew,
		ExpLeeway:   5 * time.Second,
		MaxAge:      MaxAssertionAge,
		MaxLifetime: MaxAssertionLifetime,
	}); err != nil {
		return fail(ReasonBadAssertion, "client assertion expired or not yet valid", err)
	}
	// OIDC Core §9: jti is required, and the assertion is single-use.
	if claims.ID == "" || len(claims.ID) > 256 {
		return fail(ReasonBadAssertion, "client assertion jti required", nil)
	}
	sum := sha256.Sum256([]byte(claims.ID))
	key := "pkj:" + c.ID + ":" + base64.RawURLEncoding.EncodeToString(sum[:])
	if err := r.Replay.Use(ctx, key, claims.Expiry.Time().Add(5*time.Second)); err != nil {
		if errors.Is(err, store.ErrReplayed) {
			return fail(ReasonReplayed, "client assertion already used", err)
		}
		return oauth.Unavailable(err)
	}
	return nil
}

// audienceOK applies FAPI 2.0 SP §5.3.2.1-8 ("the issuer identifier of the
// authorization server as the sole value of aud, as a string") for profiles
// that demand it, and RFC 7523 §3 / RFC 9126 §2 otherwise.
func (r *Registry) audienceOK(p *Profile, aud *jose.Audience) bool {
	if aud == nil || len(aud.Values) == 0 {
		return false
	}
	if p.AssertionAudienceIssuerOnly {
		return aud.Single && aud.Values[0] == r.Issuer
	}
	if aud.Contains(r.Issuer) {
		return true
	}
	for _, u := range r.EndpointURLs {
		if aud.Contains(u) {
			return true
		}
	}
	return false
}

func slicesContains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}
