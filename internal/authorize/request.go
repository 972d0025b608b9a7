package authorize

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bulwarkauth/bulwark/internal/clients"
	"github.com/bulwarkauth/bulwark/internal/oauth"
)

// Params is a validated authorization request. It is stored as JSON with
// the pushed request or interaction, so its field names are a storage
// format: add fields, never rename them.
type Params struct {
	ClientID      string       `json:"client_id"`
	RedirectURI   string       `json:"redirect_uri"`
	Scopes        oauth.Scopes `json:"scope,omitempty"`
	State         string       `json:"state,omitempty"`
	Nonce         string       `json:"nonce,omitempty"`
	CodeChallenge string       `json:"code_challenge"`
	Prompt        []string     `json:"prompt,omitempty"`
	MaxAge        int          `json:"max_age"`
	LoginHint     string       `json:"login_hint,omitempty"`
	// DPoPJKT binds the code to a DPoP key (RFC 9449 §10).
	DPoPJKT string `json:"dpop_jkt,omitempty"`
	// Resource holds RFC 8707 resource indicators.
	Resource []string `json:"resource,omitempty"`
	// PushedHash is the store key of the PAR request this came from; empty
	// when the client sent the parameters to the authorization endpoint.
	PushedHash string `json:"pushed_hash,omitempty"`
	// PushedExpiresAt is when the request_uri stops being accepted at the
	// authorization endpoint.
	PushedExpiresAt time.Time `json:"pushed_expires_at,omitzero"`
}

// Limits on parameter sizes. FAPI 2.0 SP §5.3.2.2-14 and Note 4 require
// accepting nonce up to 64 and state over 1000 characters without
// truncation; longer values are refused, never cut.
const (
	MaxStateLength = 4096
	MaxNonceLength = 512
)

// redirectError is an error that may be sent to the client's redirect URI
// because client_id and redirect_uri were already validated.
type redirectError struct {
	err         *oauth.Error
	redirectURI string
	state       string
}

func (e *redirectError) Error() string { return e.err.Error() }
func (e *redirectError) Unwrap() error { return e.err }

// validate checks an authorization request's parameters against the
// client. pushed says they arrived at the PAR endpoint (where errors are
// JSON) rather than the authorization endpoint (where, once the redirect
// URI is known good, errors are redirects).
func validate(c *clients.Client, q url.Values, pushed bool) (*Params, error) {
	// RFC 9126 §2.1: "The request_uri authorization request parameter is
	// one exception, and it MUST NOT be provided" in a pushed request.
	if pushed && q.Has("request_uri") {
		return nil, oauth.InvalidRequest("request_uri must not be sent to the PAR endpoint")
	}
	if q.Has("request") {
		return nil, oauth.New("request_not_supported", "request objects are not supported")
	}
	if id := q.Get("client_id"); pushed && id != "" && id != c.ID {
		return nil, oauth.InvalidRequest("client_id does not match the authenticated client")
	}
	p := &Params{ClientID: c.ID, MaxAge: -1}

	// Redirect URI first: until it is known good nothing may be sent to it.
	ru := q.Get("redirect_uri")
	if ru == "" {
		// FAPI 2.0 SP §5.3.2.2-6: redirect_uri is required in PAR.
		if c.Profile().RequirePAR || len(c.RedirectURIs) != 1 {
			return nil, oauth.InvalidRequest("redirect_uri is required")
		}
		ru = c.RedirectURIs[0]
	}
	if !MatchRedirectURI(c.RedirectURIs, ru) {
		return nil, oauth.InvalidRequest("redirect_uri is not registered for this client")
	}
	p.RedirectURI = ru
	p.State = q.Get("state")
	if len(p.State) > MaxStateLength {
		return nil, oauth.InvalidRequest("state is too long")
	}
	fail := func(e *oauth.Error) error {
		if pushed {
			return e
		}
		return &redirectError{err: e, redirectURI: p.RedirectURI, state: p.State}
	}

	// FAPI 2.0 SP §5.3.2.2-1: "shall only support confidential clients and
	// the response type code".
	switch rt := q.Get("response_type"); rt {
	case "code":
	case "":
		return nil, fail(oauth.InvalidRequest("response_type is required"))
	default:
		return nil, fail(oauth.New(oauth.ErrUnsupportedResponseType, "only response_type=code is supported"))
	}
	if !c.AllowsGrant(oauth.GrantAuthorizationCode) {
		return nil, fail(oauth.New(oauth.ErrUnauthorizedClient, "client may not use the authorization code grant"))
	}
	if rm := q.Get("response_mode"); rm != "" && rm != "query" {
		return nil, fail(oauth.InvalidRequest("only response_mode=query is supported"))
	}

	// PKCE (RFC 7636, FAPI 2.0 SP §5.3.2.2-5): S256 is required for every
	// client; a missing challenge or "plain" is invalid_request.
	if q.Get("code_challenge_method") != "S256" {
		return nil, fail(oauth.InvalidRequest("code_challenge_method must be S256"))
	}
	cc := q.Get("code_challenge")
	if !validChallenge(cc) {
		return nil, fail(oauth.InvalidRequest("code_challenge must be a base64url SHA-256 value"))
	}
	p.CodeChallenge = cc

	scopes, ok := oauth.ParseScopes(q.Get("scope"))
	if !ok {
		return nil, fail(oauth.New(oauth.ErrInvalidScope, "malformed scope"))
	}
	if !scopes.SubsetOf(c.Scopes) {
		return nil, fail(oauth.New(oauth.ErrInvalidScope, "scope not allowed for this client"))
	}
	p.Scopes = scopes

	p.Nonce = q.Get("nonce")
	if len(p.Nonce) > MaxNonceLength {
		return nil, fail(oauth.InvalidRequest("nonce is too long"))
	}
	if pr := q.Get("prompt"); pr != "" {
		p.Prompt = strings.Fields(pr)
		for _, v := range p.Prompt {
			if !slices.Contains([]string{"none", "login", "consent", "select_account"}, v) {
				return nil, fail(oauth.InvalidRequest("unsupported prompt value"))
			}
		}
		if slices.Contains(p.Prompt, "none") && len(p.Prompt) > 1 {
			return nil, fail(oauth.InvalidRequest("prompt=none cannot be combined"))
		}
	}
	if ma := q.Get("max_age"); ma != "" {
		n, err := strconv.Atoi(ma)
		if err != nil || n < 0 {
			return nil, fail(oauth.InvalidRequest("max_age must be a non-negative integer"))
		}
		p.MaxAge = n
	}
	p.LoginHint = q.Get("login_hint")
	if len(p.LoginHint) > 256 {
		return nil, fail(oauth.InvalidRequest("login_hint is too long"))
	}
	if jkt := q.Get("dpop_jkt"); jkt != "" {
		if b, err := base64.RawURLEncoding.DecodeString(jkt); err != nil || len(b) != sha256.Size {
			return nil, fail(oauth.InvalidRequest("dpop_jkt must be a base64url SHA-256 thumbprint"))
		}
		p.DPoPJKT = jkt
	}
	if res := q["resource"]; len(res) > 0 {
		for _, r := range res {
			u, err := url.Parse(r)
			if err != nil || !u.IsAbs() || u.Fragment != "" {
				return nil, fail(oauth.New("invalid_target", "resource must be an absolute URI without fragment"))
			}
		}
		p.Resource = res
	}
	return p, nil
}

// validChallenge reports whether s is a base64url-encoded SHA-256 digest:
// 43 characters from the unreserved alphabet (RFC 7636 §4.2).
func validChallenge(s string) bool {
	if len(s) != 43 {
		return false
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	return err == nil && len(b) == sha256.Size
}

// MatchRedirectURI reports whether uri is registered, by exact string
// comparison (RFC 9700 §2.1). The one exception is the port of a loopback
// http redirect URI, which native apps pick at run time (RFC 8252 §7.3):
// only for the IP literals 127.0.0.1 and [::1], never for "localhost"
// (RFC 8252 §8.3) or https.
func MatchRedirectURI(registered []string, uri string) bool {
	for _, r := range registered {
		if subtle.ConstantTimeCompare([]byte(r), []byte(uri)) == 1 {
			return true
		}
	}
	u, err := url.Parse(uri)
	if err != nil || u.Scheme != "http" || (u.Hostname() != "127.0.0.1" && u.Hostname() != "::1") {
		return false
	}
	for _, r := range registered {
		ru, err := url.Parse(r)
		if err != nil || ru.Scheme != "http" || ru.Hostname() != u.Hostname() {
			continue
		}
		// Compare everything but the port, still as exact strings.
		if ru.Path == u.Path && ru.RawQuery == u.RawQuery && ru.User.String() == u.User.String() &&
			stripPort(r) == stripPort(uri) {
			return true
		}
	}
	return false
}

// stripPort removes the port from an http URL's authority, leaving the
// rest of the string byte-for-byte intact.
func stripPort(s string) string {
	rest, ok := strings.CutPrefix(s, "http://")
	if !ok {
		return s
	}
	// The authority ends at the path, the query or the fragment; without
	// '#' here "http://127.0.0.1:1#x" would lose its fragment with the port.
	end := strings.IndexAny(rest, "/?#")
	if end < 0 {
		end = len(rest)
	}
	auth := rest[:end]
	if strings.HasPrefix(auth, "[") {
		if i := strings.Index(auth, "]"); i >= 0 {
			auth = auth[:i+1]
		}
	} else if i := strings.LastIndex(auth, ":"); i >= 0 {
		auth = auth[:i]
	}
	return "http://" + auth + rest[end:]
}
