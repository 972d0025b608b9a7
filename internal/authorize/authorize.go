package authorize

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/bulwarkauth/bulwark/internal/clients"
	"github.com/bulwarkauth/bulwark/internal/dpop"
	"github.com/bulwarkauth/bulwark/internal/oauth"
	"github.com/bulwarkauth/bulwark/internal/store"
	"github.com/bulwarkauth/bulwark/internal/telemetry"
)

// Service runs PAR and the authorization endpoint. All fields except Now
// and Metrics are required. It is safe for concurrent use.
type Service struct {
	Clients *clients.Registry
	Store   *store.Store
	// Issuer is added as iss to every authorization response (RFC 9207).
	Issuer string
	// PARTTL is the lifetime of a pushed request_uri, below 600 s.
	PARTTL time.Duration
	// LoginTTL is how long the user has to log in and consent.
	LoginTTL time.Duration
	Now      func() time.Time
	Metrics  *telemetry.Metrics
	// DPoP verifies DPoP proofs sent to PAR; nil refuses them.
	DPoP *dpop.Verifier
	// VerificationURI is the absolute URL of the device flow's user-code
	// page (RFC 8628 §3.2 verification_uri); required for the device
	// authorization endpoint.
	VerificationURI string
	// DeviceCodeTTL is the lifetime of device and user codes; zero means
	// DefaultDeviceCodeTTL.
	DeviceCodeTTL time.Duration
	// DevicePollInterval is the polling interval given to devices; zero
	// means DefaultDevicePollInterval.
	DevicePollInterval time.Duration
	// GrantTTL is the lifetime of the grant recorded with each code (the
	// refresh-token lifetime); zero means DefaultGrantTTL.
	GrantTTL time.Duration
}

// DefaultGrantTTL is the grant lifetime when Service.GrantTTL is zero,
// the token endpoint's default refresh-token lifetime.
const DefaultGrantTTL = 30 * 24 * time.Hour

// PushRequest is a pushed authorization request, parsed by the handler.
type PushRequest struct {
	// Params are the form parameters.
	Params url.Values
	// DPoPProofs are the values of every DPoP header (RFC 9449 §10.1).
	DPoPProofs []string
	// EndpointURL is the configured external URL of the PAR endpoint (or
	// its mTLS alias): the htu a proof must name.
	EndpointURL string
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// PARResponse is the RFC 9126 §2.2 success body.
type PARResponse struct {
	RequestURI string `json:"request_uri"`
	ExpiresIn  int64  `json:"expires_in"`
}

// Push validates a pushed authorization request from an authenticated
// client and stores it under a fresh request_uri (RFC 9126 §2).
func (s *Service) Push(ctx context.Context, c *clients.Client, req PushRequest) (*PARResponse, error) {
	p, err := validate(c, req.Params, true)
	if err == nil {
		err = s.bindPushed(ctx, c, p, req)
	}
	if err != nil {
		s.Metrics.PARRequest(errorCode(err))
		return nil, err
	}
	now := s.now()
	uri := oauth.RequestURIPrefix + randomToken()
	p.PushedHash = store.Hash(uri)
	p.PushedExpiresAt = now.Add(s.PARTTL)
	if err := s.putRequest(ctx, p.PushedHash, p, now.Add(s.PARTTL+s.LoginTTL)); err != nil {
		return nil, err
	}
	s.Metrics.PARRequest("ok")
	return &PARResponse{RequestURI: uri, ExpiresIn: int64(s.PARTTL / time.Second)}, nil
}

// bindPushed applies RFC 9449 §10.1: a DPoP proof sent with PAR is
// verified like one at the token endpoint, and its key binds the code as
// dpop_jkt would; when both are present they must name the same key
// ("the authorization server MUST reject the request" otherwise).
func (s *Service) bindPushed(ctx context.Context, c *clients.Client, p *Params, req PushRequest) error {
	if len(req.DPoPProofs) == 0 {
		return nil
	}
	if s.DPoP == nil {
		return oauth.New(oauth.ErrInvalidDPoPProof, "DPoP is not supported")
	}
	proof, err := s.DPoP.Verify(ctx, dpop.Request{
		Proofs: req.DPoPProofs, Method: "POST", URL: req.EndpointURL, Nonce: c.DPoPNoncePolicy(),
	})
	if err != nil {
		return err
	}
	if p.DPoPJKT != "" && subtle.ConstantTimeCompare([]byte(p.DPoPJKT), []byte(proof.JKT)) != 1 {
		return oauth.New(oauth.ErrInvalidDPoPProof, "dpop_jkt does not match the key of the DPoP proof")
	}
	p.DPoPJKT = proof.JKT
	return nil
}

func errorCode(err error) string {
	if oe, ok := oauth.As(err); ok {
		return oe.Code
	}
	return oauth.ErrServerError
}

// The pushed request is kept in the store for PARTTL+LoginTTL so that a
// login that started before the request_uri expired can still consume it
// at completion; PushedExpiresAt is what the authorization endpoint checks.
func (s *Service) putRequest(ctx context.Context, hash string, p *Params, exp time.Time) error {
	b, err := json.Marshal(p)
	if err != nil {
		return oauth.ServerError(err)
	}
	if err := s.Store.Requests.Put(ctx, hash, &store.AuthorizationRequest{ClientID: p.ClientID, Params: b, ExpiresAt: exp}); err != nil {
		return storeError(err)
	}
	return nil
}

func storeError(err error) error {
	if errors.Is(err, store.ErrUnavailable) {
		return oauth.Unavailable(err)
	}
	return oauth.ServerError(err)
}

// PageError is an authorization endpoint failure that must be shown to the
// user as a page because there is no validated redirect URI to send it to.
type PageError struct{ Err *oauth.Error }

func (e *PageError) Error() string { return e.Err.Error() }
func (e *PageError) Unwrap() error { return e.Err }

// RedirectError is an authorization endpoint failure to be sent to the
// client's (validated) redirect URI; Location is the full URL.
type RedirectError struct {
	Err      *oauth.Error
	Location string
}

func (e *RedirectError) Error() string { return e.Err.Error() }
func (e *RedirectError) Unwrap() error { return e.Err }

func page(code, desc string) error { return &PageError{Err: oauth.New(code, desc)} }

// Begin handles a request to the authorization endpoint: it resolves the
// pushed request (or validates the parameters given directly, where the
// profile allows), and records an interaction for the login and consent
// pages. The pushed request_uri is not consumed here, so a reload works
// (FAPI 2.0 SP §5.3.2.2 Note 3); it is consumed when a code is issued.
func (s *Service) Begin(ctx context.Context, q url.Values) (*oauth.Interaction, error) {
	clientID := q.Get("client_id")
	if clientID == "" {
		return nil, page(oauth.ErrInvalidRequest, "client_id is required")
	}
	c, err := s.Clients.Get(ctx, clientID)
	if errors.Is(err, clients.ErrUnknownClient) {
		return nil, page(oauth.ErrInvalidClient, "unknown client")
	}
	if err != nil {
		return nil, &PageError{Err: oauth.Unavailable(err)}
	}
	now := s.now()
	var p *Params
	if ru := q.Get("request_uri"); ru != "" {
		p, err = s.resolvePushed(ctx, c, ru, now)
		if err != nil {
			return nil, err
		}
	} else {
		// FAPI 2.0 SP §5.3.2.2-3: "shall reject authorization requests
		// sent without [RFC9126]" for profiles that require PAR.
		if c.Profile().RequirePAR {
			return nil, s.redirectOrPage(c, q, oauth.InvalidRequest("this client must use pushed authorization requests"))
		}
		p, err = validate(c, q, false)
		if err != nil {
			var re *redirectError
			if errors.As(err, &re) {
				return nil, &RedirectError{Err: re.err, Location: s.errorLocation(re.redirectURI, re.state, re.err)}
			}
			return nil, &PageError{Err: asOAuth(err)}
		}
	}
	handle := oauth.RequestURIPrefix + randomToken()
	if err := s.putRequest(ctx, store.Hash(handle), p, now.Add(s.LoginTTL)); err != nil {
		return nil, &PageError{Err: asOAuth(err)}
	}
	return interaction(handle, c, p), nil
}

func interaction(handle string, c *clients.Client, p *Params) *oauth.Interaction {
	name := c.Name
	if name == "" {
		name = c.ID
	}
	return &oauth.Interaction{
		Handle: handle, ClientID: c.ID, ClientName: name, Scopes: p.Scopes,
		Prompt: p.Prompt, MaxAge: p.MaxAge, LoginHint: p.LoginHint,
	}
}

func asOAuth(err error) *oauth.Error {
	if oe, ok := oauth.As(err); ok {
		return oe
	}
	return oauth.ServerError(err)
}

// redirectOrPage sends err to the redirect URI in q only if that URI is
// registered for c; otherwise it becomes a page (RFC 9700 §4.11.2).
func (s *Service) redirectOrPage(c *clients.Client, q url.Values, err *oauth.Error) error {
	ru := q.Get("redirect_uri")
	if ru == "" || !MatchRedirectURI(c.RedirectURIs, ru) || len(q.Get("state")) > MaxStateLength {
		return &PageError{Err: err}
	}
	return &RedirectError{Err: err, Location: s.errorLocation(ru, q.Get("state"), err)}
}

// resolvePushed looks up a PAR request_uri for client c (RFC 9126 §4).
func (s *Service) resolvePushed(ctx context.Context, c *clients.Client, uri string, now time.Time) (*Params, error) {
	if !strings.HasPrefix(uri, oauth.RequestURIPrefix) || len(uri) > 256 {
		return nil, page(oauth.ErrInvalidRequestURI, "request_uri is not valid")
	}
	rec, err := s.Store.Requests.Get(ctx, store.Hash(uri))
	if errors.Is(err, store.ErrNotFound) {
		return nil, page(oauth.ErrInvalidRequestURI, "request_uri is unknown, expired or already used")
	}
	if err != nil {
		return nil, &PageError{Err: storeError(err).(*oauth.Error)}
	}
	var p Params
	if err := json.Unmarshal(rec.Params, &p); err != nil {
		return nil, &PageError{Err: oauth.ServerError(err)}
	}
	// RFC 9126 §4: the request_uri is bound to the client that pushed it.
	// Only pushed requests are valid here; an interaction handle is not.
	if rec.ClientID != c.ID || p.ClientID != c.ID || p.PushedHash != store.Hash(uri) {
		return nil, page(oauth.ErrInvalidRequestURI, "request_uri is unknown, expired or already used")
	}
	if !now.Before(p.PushedExpiresAt) {
		return nil, page(oauth.ErrInvalidRequestURI, "request_uri has expired")
	}
	return &p, nil
}

// Load returns the pending interaction behind handle without consuming it.
// Errors are *oauth.Error values to show on a page.
func (s *Service) Load(ctx context.Context, handle string) (*oauth.Interaction, error) {
	p, c, err := s.load(ctx, handle)
	if err != nil {
		_, err = flowResult("", err)
		return nil, err
	}
	return interaction(handle, c, p), nil
}

func (s *Service) load(ctx context.Context, handle string) (*Params, *clients.Client, error) {
	if !strings.HasPrefix(handle, oauth.RequestURIPrefix) || len(handle) > 256 {
		return nil, nil, page(oauth.ErrInvalidRequest, "this login has expired; start again from the application")
	}
	rec, err := s.Store.Requests.Get(ctx, store.Hash(handle))
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, page(oauth.ErrInvalidRequest, "this login has expired; start again from the application")
	}
	if err != nil {
		return nil, nil, &PageError{Err: storeError(err).(*oauth.Error)}
	}
	var p Params
	if err := json.Unmarshal(rec.Params, &p); err != nil {
		return nil, nil, &PageError{Err: oauth.ServerError(err)}
	}
	c, err := s.Clients.Get(ctx, p.ClientID)
	if err != nil {
		return nil, nil, page(oauth.ErrInvalidClient, "the application is no longer registered")
	}
	return &p, c, nil
}

// consume takes the interaction and its pushed request out of play. Exactly
// one caller wins; a pushed request_uri already used for a code is refused.
func (s *Service) consume(ctx context.Context, handle string) (*Params, *clients.Client, error) {
	p, c, err := s.load(ctx, handle)
	if err != nil {
		return nil, nil, err
	}
	if _, err := s.Store.Requests.Consume(ctx, store.Hash(handle)); err != nil {
		if errors.Is(err, store.ErrReplayed) || errors.Is(err, store.ErrNotFound) {
			return nil, nil, page(oauth.ErrInvalidRequest, "this login was already completed")
		}
		return nil, nil, &PageError{Err: storeError(err).(*oauth.Error)}
	}
	if p.PushedHash != "" {
		if _, err := s.Store.Requests.Consume(ctx, p.PushedHash); err != nil {
			if errors.Is(err, store.ErrReplayed) || errors.Is(err, store.ErrNotFound) {
				e := oauth.New(oauth.ErrInvalidRequestURI, "request_uri was already used")
				return nil, nil, &RedirectError{Err: e, Location: s.errorLocation(p.RedirectURI, p.State, e)}
			}
			return nil, nil, &PageError{Err: storeError(err).(*oauth.Error)}
		}
	}
	return p, c, nil
}

// flowResult turns the outcome of a login-page action into what package
// login can act on without knowing this package's types: a Location to
// redirect to (success, or an error the client should receive), or an
// *oauth.Error to show on a page.
func flowResult(loc string, err error) (string, error) {
	var re *RedirectError
	if errors.As(err, &re) {
		return re.Location, nil
	}
	var pe *PageError
	if errors.As(err, &pe) {
		return "", pe.Err
	}
	return loc, err
}

// Complete issues an authorization code for the approved interaction and
// returns the redirect URL carrying code, state and iss (RFC 9207 §2). An
// error is an *oauth.Error to show on a page; failures the client must hear
// about come back as a redirect URL.
func (s *Service) Complete(ctx context.Context, handle string, a oauth.Approval) (string, error) {
	return flowResult(s.complete(ctx, handle, a))
}

func (s *Service) complete(ctx context.Context, handle string, a oauth.Approval) (string, error) {
	p, c, err := s.consume(ctx, handle)
	if err != nil {
		return "", err
	}
	now := s.now()
	grantID := randomToken()
	scopes := p.Scopes
	if a.Scopes != nil {
		scopes = a.Scopes
	}
	data, err := json.Marshal(oauth.CodeData{
		RedirectURI: p.RedirectURI, CodeChallenge: p.CodeChallenge, Subject: a.Subject,
		AuthTime: a.AuthTime, Scopes: scopes, Nonce: p.Nonce, DPoPJKT: p.DPoPJKT, Resource: p.Resource,
	})
	if err != nil {
		return "", oauth.ServerError(err)
	}
	// The grant is recorded with the code, not when the code is redeemed:
	// revoking the user's consent for the client (RevokeAll) then also
	// revokes codes issued but not yet redeemed, which the token endpoint
	// refuses.
	ttl := s.GrantTTL
	if ttl <= 0 {
		ttl = DefaultGrantTTL
	}
	if err := s.Store.Grants.Put(ctx, &store.Grant{
		ID: grantID, ClientID: c.ID, Subject: a.Subject, Scopes: scopes.String(),
		AuthTime: a.AuthTime, CreatedAt: now, ExpiresAt: now.Add(ttl),
	}); err != nil {
		return "", storeError(err)
	}
	// FAPI 2.0 SP §5.4.1-4 / RFC 6749 §10.10: codes carry 256 random bits.
	code := randomToken()
	if err := s.Store.Codes.Put(ctx, store.Hash(code), &store.AuthorizationCode{
		ClientID: c.ID, GrantID: grantID, Params: data, ExpiresAt: now.Add(c.Profile().CodeTTL),
	}); err != nil {
		return "", storeError(err)
	}
	v := url.Values{"code": {code}}
	return s.location(p.RedirectURI, p.State, v), nil
}

// Deny ends the interaction with access_denied sent to the client,
// with iss (RFC 9207) and state.
func (s *Service) Deny(ctx context.Context, handle string, e *oauth.Error) (string, error) {
	p, _, err := s.consume(ctx, handle)
	if err != nil {
		return flowResult("", err)
	}
	if e == nil {
		e = oauth.New(oauth.ErrAccessDenied, "the user denied the request")
	}
	return s.errorLocation(p.RedirectURI, p.State, e), nil
}

func (s *Service) errorLocation(redirectURI, state string, e *oauth.Error) string {
	v := url.Values{"error": {e.Code}}
	if e.Description != "" {
		v.Set("error_description", e.Description)
	}
	return s.location(redirectURI, state, v)
}

// location appends v, state and iss to the redirect URI's query, keeping
// any query the registered URI already has (RFC 6749 §3.1.2).
func (s *Service) location(redirectURI, state string, v url.Values) string {
	if state != "" {
		v.Set("state", state)
	}
	v.Set("iss", s.Issuer)
	sep := "?"
	if strings.Contains(redirectURI, "?") {
		sep = "&"
	}
	return redirectURI + sep + v.Encode()
}

// randomToken returns 256 bits from crypto/rand, base64url-encoded.
func randomToken() string {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(fmt.Sprintf("authorize: no randomness: %v", err))
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}
