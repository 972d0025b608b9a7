package admin

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/bulwarkauth/bulwark/internal/clients"
	"github.com/bulwarkauth/bulwark/internal/oauth"
	"github.com/bulwarkauth/bulwark/internal/secret"
	"github.com/bulwarkauth/bulwark/internal/store"
)

// Registration modes (admin.registration.mode).
const (
	// RegistrationDisabled serves no registration endpoint.
	RegistrationDisabled = "disabled"
	// RegistrationOpen lets anyone register a client (RFC 7591 §3).
	RegistrationOpen = "open"
	// RegistrationInitialToken requires an initial access token
	// (RFC 7591 §3: "MAY be protected by an initial access token").
	RegistrationInitialToken = "initial_access_token"
)

// Registration is the RFC 7591 policy.
type Registration struct {
	// Mode is one of the Registration… constants; empty means disabled.
	Mode string
	// InitialTokenHashes are the SHA-256 digests of the accepted initial
	// access tokens (RegistrationInitialToken).
	InitialTokenHashes [][32]byte
	// Profile is the profile every registered client gets ("standard"
	// or "fapi2"); empty means standard.
	Profile string
	// Scopes are the scopes a registered client may ask for, and what it
	// gets when it asks for none; the admin scope is never allowed.
	Scopes oauth.Scopes
	// ClientURI is the registration endpoint's URL; a client's
	// configuration endpoint is ClientURI + "/" + client_id (RFC 7592 §3).
	ClientURI string
}

// Enabled reports whether the registration endpoint is served.
func (r Registration) Enabled() bool {
	return r.Mode == RegistrationOpen || r.Mode == RegistrationInitialToken
}

// Metadata is the RFC 7591 §2 client metadata a registrant sends, with the
// RFC 8705 and RFC 9449 additions. Unknown members are ignored (RFC 7591
// §2: "The authorization server MUST ignore any client metadata sent by
// the client that it does not understand").
type Metadata struct {
	RedirectURIs                          []string        `json:"redirect_uris,omitempty"`
	TokenEndpointAuthMethod               string          `json:"token_endpoint_auth_method,omitempty"`
	GrantTypes                            []string        `json:"grant_types,omitempty"`
	ResponseTypes                         []string        `json:"response_types,omitempty"`
	ClientName                            string          `json:"client_name,omitempty"`
	Scope                                 string          `json:"scope,omitempty"`
	JWKS                                  json.RawMessage `json:"jwks,omitempty"`
	JWKSURI                               string          `json:"jwks_uri,omitempty"`
	IDTokenSignedResponseAlg              string          `json:"id_token_signed_response_alg,omitempty"`
	TLSClientAuthSubjectDN                string          `json:"tls_client_auth_subject_dn,omitempty"`
	TLSClientAuthSANDNS                   string          `json:"tls_client_auth_san_dns,omitempty"`
	TLSClientAuthSANURI                   string          `json:"tls_client_auth_san_uri,omitempty"`
	TLSClientAuthSANIP                    string          `json:"tls_client_auth_san_ip,omitempty"`
	TLSClientAuthSANEmail                 string          `json:"tls_client_auth_san_email,omitempty"`
	TLSClientCertificateBoundAccessTokens bool            `json:"tls_client_certificate_bound_access_tokens,omitempty"`
	DPoPBoundAccessTokens                 bool            `json:"dpop_bound_access_tokens,omitempty"`
	SoftwareStatement                     string          `json:"software_statement,omitempty"`
	// ClientID and ClientSecret appear in RFC 7592 update requests only.
	ClientID     string `json:"client_id,omitempty"`
	ClientSecret string `json:"client_secret,omitempty"`
}

// MaxMetadataBytes bounds a registration request body.
const MaxMetadataBytes = 64 << 10

// ParseMetadata decodes a registration or update request body. Anything
// that is not a JSON object of the RFC's member types is
// invalid_client_metadata (RFC 7591 §3.2.2).
func ParseMetadata(body []byte) (*Metadata, error) {
	if len(body) > MaxMetadataBytes {
		return nil, invalidMetadata("the request is too large")
	}
	body = bytes.TrimSpace(body)
	if len(body) == 0 || body[0] != '{' {
		return nil, invalidMetadata("the request must be a JSON object")
	}
	var m Metadata
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&m); err != nil {
		return nil, invalidMetadata("the request is not valid client metadata")
	}
	if dec.More() {
		return nil, invalidMetadata("the request must be one JSON object")
	}
	if len(m.JWKS) > 0 && (m.JWKS[0] != '{') {
		return nil, invalidMetadata("jwks must be a JSON object")
	}
	return &m, nil
}

func invalidMetadata(desc string) *oauth.Error {
	return &oauth.Error{Code: "invalid_client_metadata", Description: desc}
}

// The methods a registered client may choose, per profile: public
// clients with PKCE (which the server always demands) and confidential
// clients with a secret or a key under standard; only key-based or mTLS
// authentication under fapi2 (FAPI 2.0 SP §5.3.2.1-5).
var registrableMethods = map[string][]string{
	clients.ProfileStandard: {oauth.AuthNone, oauth.AuthClientSecretBasic, oauth.AuthClientSecretPost, oauth.AuthPrivateKeyJWT},
	clients.ProfileFAPI2:    {oauth.AuthPrivateKeyJWT, oauth.AuthTLSClientAuth, oauth.AuthSelfSignedTLSClientAuth},
}

// toClient applies the registration policy to m and returns the client to
// store under id, or the RFC 7591 error. The client still goes through
// clients.Check afterwards.
func (r Registration) toClient(m *Metadata, id string) (*clients.Client, error) {
	if m.SoftwareStatement != "" {
		return nil, &oauth.Error{Code: "invalid_software_statement", Description: "software statements are not supported"}
	}
	profile := r.Profile
	if profile == "" {
		profile = clients.ProfileStandard
	}
	method := m.TokenEndpointAuthMethod
	if method == "" {
		// RFC 7591 §2: "If unspecified or omitted, the default is
		// client_secret_basic".
		method = oauth.AuthClientSecretBasic
	}
	if !slices.Contains(registrableMethods[profile], method) {
		return nil, invalidMetadata("token_endpoint_auth_method " + method + " cannot be registered for profile " + profile +
			" (allowed: " + strings.Join(registrableMethods[profile], ", ") + ")")
	}
	grants := m.GrantTypes
	if len(grants) == 0 {
		grants = []string{oauth.GrantAuthorizationCode}
	}
	for _, g := range grants {
		switch g {
		case oauth.GrantAuthorizationCode, oauth.GrantRefreshToken, oauth.GrantClientCredentials, oauth.GrantDeviceCode:
		default:
			return nil, invalidMetadata("grant_type " + g + " is not supported")
		}
		if method == oauth.AuthNone && g != oauth.GrantAuthorizationCode && g != oauth.GrantRefreshToken {
			return nil, invalidMetadata("a public client may register only authorization_code (with PKCE) and refresh_token")
		}
	}
	// RFC 7591 §2.1: response_types must agree with grant_types; only
	// the code flow exists here.
	for _, rt := range m.ResponseTypes {
		if rt != "code" {
			return nil, invalidMetadata("response_type " + rt + " is not supported")
		}
	}
	if len(m.ResponseTypes) > 0 && !slices.Contains(grants, oauth.GrantAuthorizationCode) {
		return nil, invalidMetadata("response_types code needs grant_types authorization_code")
	}
	if profile == clients.ProfileFAPI2 {
		for _, u := range m.RedirectURIs {
			if pu, err := url.Parse(u); err != nil || pu.Scheme != "https" {
				return nil, &oauth.Error{Code: "invalid_redirect_uri", Description: "fapi2 clients need https redirect URIs"}
			}
		}
	}
	scopes := r.Scopes
	if m.Scope != "" {
		asked, ok := oauth.ParseScopes(m.Scope)
		if !ok || !asked.SubsetOf(r.Scopes) {
			return nil, invalidMetadata("scope asks for scopes this server does not offer to registered clients")
		}
		scopes = asked
	}
	if len(m.ClientName) > 200 {
		return nil, invalidMetadata("client_name is too long")
	}
	return &clients.Client{
		ID: id, Name: m.ClientName, ProfileName: profile, AuthMethod: method,
		RedirectURIs: m.RedirectURIs, GrantTypes: grants, Scopes: scopes,
		JWKS: m.JWKS, JWKSURI: m.JWKSURI, IDTokenSignedResponseAlg: m.IDTokenSignedResponseAlg,
		TLSClientAuthSubjectDN: m.TLSClientAuthSubjectDN, TLSClientAuthSANDNS: m.TLSClientAuthSANDNS,
		TLSClientAuthSANURI: m.TLSClientAuthSANURI, TLSClientAuthSANIP: m.TLSClientAuthSANIP,
		TLSClientAuthSANEmail:                 m.TLSClientAuthSANEmail,
		TLSClientCertificateBoundAccessTokens: m.TLSClientCertificateBoundAccessTokens,
		DPoPBoundAccessTokens:                 m.DPoPBoundAccessTokens,
	}, nil
}

// RegistrationResponse is the RFC 7591 §3.2.1 and RFC 7592 §3 answer.
type RegistrationResponse struct {
	ClientID                              string          `json:"client_id"`
	ClientSecret                          string          `json:"client_secret,omitempty"`
	ClientIDIssuedAt                      int64           `json:"client_id_issued_at,omitempty"`
	ClientSecretExpiresAt                 *int64          `json:"client_secret_expires_at,omitempty"`
	RegistrationAccessToken               string          `json:"registration_access_token,omitempty"`
	RegistrationClientURI                 string          `json:"registration_client_uri"`
	ClientName                            string          `json:"client_name,omitempty"`
	RedirectURIs                          []string        `json:"redirect_uris,omitempty"`
	TokenEndpointAuthMethod               string          `json:"token_endpoint_auth_method"`
	GrantTypes                            []string        `json:"grant_types"`
	ResponseTypes                         []string        `json:"response_types,omitempty"`
	Scope                                 string          `json:"scope,omitempty"`
	JWKS                                  json.RawMessage `json:"jwks,omitempty"`
	JWKSURI                               string          `json:"jwks_uri,omitempty"`
	DPoPBoundAccessTokens                 bool            `json:"dpop_bound_access_tokens,omitempty"`
	TLSClientCertificateBoundAccessTokens bool            `json:"tls_client_certificate_bound_access_tokens,omitempty"`
}

func (r Registration) response(c *clients.Client, issued time.Time) *RegistrationResponse {
	out := &RegistrationResponse{
		ClientID: c.ID, RegistrationClientURI: r.ClientURI + "/" + url.PathEscape(c.ID),
		ClientName: c.Name, RedirectURIs: c.RedirectURIs, TokenEndpointAuthMethod: c.AuthMethod,
		GrantTypes: c.GrantTypes, Scope: c.Scopes.String(), JWKS: c.JWKS, JWKSURI: c.JWKSURI,
		DPoPBoundAccessTokens: c.DPoPBoundAccessTokens, TLSClientCertificateBoundAccessTokens: c.TLSClientCertificateBoundAccessTokens,
	}
	if !issued.IsZero() {
		out.ClientIDIssuedAt = issued.Unix()
	}
	if c.AllowsGrant(oauth.GrantAuthorizationCode) {
		out.ResponseTypes = []string{"code"}
	}
	return out
}

// errBadRegistrationToken answers every RFC 7592 request whose token
// does not fit the client, whether the client exists or not (RFC 7592
// §2: "the authorization server MUST respond with HTTP 401").
var errBadRegistrationToken = &oauth.Error{Code: oauth.ErrInvalidToken, Description: "the registration access token is not valid for this client"}

// checkInitialToken enforces the registration mode.
func (s *Service) checkInitialToken(tok string) error {
	switch s.Registration.Mode {
	case RegistrationOpen:
		return nil
	case RegistrationInitialToken:
		h := HashToken(tok)
		ok := 0
		for _, want := range s.Registration.InitialTokenHashes {
			ok |= subtle.ConstantTimeCompare(h[:], want[:])
		}
		if tok == "" || ok != 1 {
			return &oauth.Error{Code: oauth.ErrInvalidToken, Description: "a valid initial access token is required"}
		}
		return nil
	}
	return errNotFound
}

// Register is RFC 7591 §3: it applies the policy, registers the client
// and answers with its credentials, each shown only this once.
func (s *Service) Register(ctx context.Context, initialToken string, m *Metadata) (resp *RegistrationResponse, err error) {
	id := newSecret()[:22]
	defer func() { s.record(ctx, "registration", "client.register", target("client", id), err, nil) }()
	if err := s.checkInitialToken(initialToken); err != nil {
		return nil, err
	}
	c, err := s.Registration.toClient(m, id)
	if err != nil {
		return nil, err
	}
	rat := newSecret()
	rec := &store.Client{RegistrationHash: store.Hash(rat)}
	v, err := s.save(ctx, c, rec, true)
	if err != nil {
		return nil, err
	}
	resp = s.Registration.response(c, s.now())
	resp.RegistrationAccessToken = rat
	if v.Secret != "" {
		resp.ClientSecret = v.Secret
		never := int64(0)
		resp.ClientSecretExpiresAt = &never
	}
	return resp, nil
}

// registered loads the client whose configuration endpoint was called
// and checks its registration access token in constant time.
func (s *Service) registered(ctx context.Context, id, tok string) (*store.Client, *clients.Client, error) {
	if tok == "" || len(tok) > 512 {
		return nil, nil, errBadRegistrationToken
	}
	rec, err := s.Store.Clients.Get(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil, errBadRegistrationToken
	}
	if err != nil {
		return nil, nil, storeErr(err)
	}
	h := store.Hash(tok)
	if rec.RegistrationHash == "" || subtle.ConstantTimeCompare([]byte(h), []byte(rec.RegistrationHash)) != 1 {
		return nil, nil, errBadRegistrationToken
	}
	c, err := clients.FromRecord(rec)
	if err != nil {
		return nil, nil, oauth.ServerError(err)
	}
	return rec, c, nil
}

// ReadRegistration is RFC 7592 §2.1.
func (s *Service) ReadRegistration(ctx context.Context, id, tok string) (*RegistrationResponse, error) {
	_, c, err := s.registered(ctx, id, tok)
	if err != nil {
		return nil, err
	}
	return s.Registration.response(c, time.Time{}), nil
}

// UpdateRegistration is RFC 7592 §2.2: the request replaces the
// metadata; the secret and the registration access token stay (a client
// that moves to a secret method gets a new secret, shown once).
func (s *Service) UpdateRegistration(ctx context.Context, id, tok string, m *Metadata) (resp *RegistrationResponse, err error) {
	rec, _, err := s.registered(ctx, id, tok)
	if err != nil {
		return nil, err
	}
	defer func() { s.record(ctx, "client:"+id, "client.registration_update", target("client", id), err, nil) }()
	// RFC 7592 §2.2: client_id "MUST be the same as its currently issued
	// client identifier"; a client_secret sent "MUST match".
	if m.ClientID != id {
		return nil, invalidMetadata("client_id must be the client's identifier")
	}
	if m.ClientSecret != "" && (rec.SecretHash == "" || secret.Verify(m.ClientSecret, rec.SecretHash) != nil) {
		return nil, invalidMetadata("client_secret does not match")
	}
	c, err := s.Registration.toClient(m, id)
	if err != nil {
		return nil, err
	}
	v, err := s.save(ctx, c, rec, false)
	if err != nil {
		return nil, err
	}
	resp = s.Registration.response(c, time.Time{})
	resp.ClientSecret = v.Secret
	return resp, nil
}

// DeleteRegistration is RFC 7592 §2.3, with the cascade of DeleteClient.
func (s *Service) DeleteRegistration(ctx context.Context, id, tok string) (err error) {
	if _, _, err := s.registered(ctx, id, tok); err != nil {
		return err
	}
	defer func() { s.record(ctx, "client:"+id, "client.registration_delete", target("client", id), err, nil) }()
	return s.deleteClient(ctx, id)
}
