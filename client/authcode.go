package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	"golang.org/x/oauth2"

	"github.com/bulwarkauth/bulwark/internal/oauth"
)

// AuthRequest is an authorization code request in flight: everything a
// redirect-based client must remember between StartAuth and FinishAuth.
// It is secret (Verifier redeems the code) and must be bound to the user
// agent that started the flow (FAPI 2.0 SP §5.3.3.2-4), for example kept
// server-side under a handle in a short-lived cookie. Its JSON form is
// stable, so it may be stored.
type AuthRequest struct {
	// URL is where to send the browser: the authorization endpoint with
	// only client_id and request_uri after PAR (FAPI 2.0 SP
	// §5.3.3.2-6), or the full request without PAR.
	URL string `json:"url"`
	// State is the random state parameter the response must echo.
	State string `json:"state"`
	// Nonce is the ID token nonce, set when the openid scope is asked.
	Nonce string `json:"nonce,omitempty"`
	// Verifier is the PKCE code_verifier (RFC 7636), fresh per request.
	Verifier string `json:"verifier"`
	// RedirectURI is the redirect_uri the request was made with.
	RedirectURI string `json:"redirect_uri"`
	// PAR reports whether the request was pushed (RFC 9126).
	PAR bool `json:"par,omitempty"`
}

// AuthOptions tune StartAuth.
type AuthOptions struct {
	// RedirectURI is the redirect_uri, registered at the server. Required.
	RedirectURI string
	// RequirePAR fails StartAuth with ErrNotSupported when the server
	// advertises no pushed_authorization_request_endpoint. When false,
	// PAR is still used whenever it is advertised.
	RequirePAR bool
	// Extra are further authorization request parameters (prompt,
	// acr_values, ...). They cannot replace the ones StartAuth sets.
	Extra url.Values
}

// StartAuth begins an authorization code grant for a redirect-based
// client (a web server or a native app's loopback listener): a fresh PKCE
// S256 verifier (RFC 7636, FAPI 2.0 SP §5.3.3.2-4), a random state, a
// nonce when the openid scope is asked for, and — whenever the server
// offers it — a pushed authorization request with client authentication
// (RFC 9126) that in ModeDPoP carries a DPoP proof or dpop_jkt, which binds
// the code to the DPoP key (RFC 9449 §10). Without PAR the parameters go
// into the authorization URL and dpop_jkt binds the code.
//
// Keep the result server-side and pass it to FinishAuth with the redirect's
// query. Every call makes new secrets, so never reuse one for two logins.
func (c *Config) StartAuth(ctx context.Context, o AuthOptions) (*AuthRequest, error) {
	if o.RedirectURI == "" {
		return nil, errors.New("client: StartAuth needs a RedirectURI")
	}
	md, err := c.Discover(ctx)
	if err != nil {
		return nil, err
	}
	authz, err := md.endpoint("authorization_endpoint", false)
	if err != nil {
		return nil, err
	}
	usePAR := md.PushedAuthorizationRequestEndpoint != "" || (c.useMTLS() && md.MTLSEndpointAliases["pushed_authorization_request_endpoint"] != "")
	if !usePAR && o.RequirePAR {
		return nil, fmt.Errorf("%w: no pushed_authorization_request_endpoint, and PAR is required", ErrNotSupported)
	}
	ar := &AuthRequest{
		State:       randomString(16),
		Verifier:    oauth2.GenerateVerifier(),
		RedirectURI: o.RedirectURI,
		PAR:         usePAR,
	}
	form := url.Values{}
	for k, v := range o.Extra {
		form[k] = slices.Clone(v)
	}
	form.Set("response_type", "code")
	form.Set("client_id", c.ClientID)
	form.Set("redirect_uri", o.RedirectURI)
	form.Set("state", ar.State)
	form.Set("code_challenge", oauth2.S256ChallengeFromVerifier(ar.Verifier))
	form.Set("code_challenge_method", "S256")
	if len(c.Scopes) > 0 {
		form.Set("scope", strings.Join(c.Scopes, " "))
	}
	if slices.Contains(c.Scopes, oauth.ScopeOpenID) {
		// 22 characters: well under the 64 FAPI 2.0 SP §5.3.3.2-7 allows.
		ar.Nonce = randomString(16)
		form.Set("nonce", ar.Nonce)
	}
	key, err := c.dpopKey()
	if err != nil {
		return nil, err
	}
	proofAtPAR := usePAR && key != nil && !c.DPoPJKTAtPAR
	if key != nil && !proofAtPAR {
		form.Set("dpop_jkt", key.Thumbprint())
	}
	sep := "?"
	if strings.Contains(authz, "?") {
		sep = "&"
	}
	if !usePAR {
		ar.URL = authz + sep + form.Encode()
		return ar, nil
	}
	// client_id goes with client authentication where the method needs
	// it; for client_secret_basic it is in the Authorization header.
	form.Del("client_id")
	_, body, err := c.post(ctx, "pushed_authorization_request_endpoint", form, proofAtPAR)
	if err != nil {
		return nil, fmt.Errorf("client: pushed authorization request: %w", err)
	}
	var par struct {
		RequestURI string `json:"request_uri"`
	}
	if err := json.Unmarshal(body, &par); err != nil || par.RequestURI == "" {
		return nil, errors.New("client: pushed authorization response has no request_uri")
	}
	ar.URL = authz + sep + url.Values{"client_id": {c.ClientID}, "request_uri": {par.RequestURI}}.Encode()
	return ar, nil
}

// FinishAuth completes the grant StartAuth began, given the query of the
// redirect to ar.RedirectURI:
//
//  1. the response's iss must be the issuer (RFC 9207 §2.4; required
//     when the server advertises authorization_response_iss_parameter_supported)
//     and its state must equal ar.State, before anything is sent;
//  2. the code is redeemed with ar.Verifier (PKCE) and, in ModeDPoP, a
//     proof;
//  3. when ar has a nonce (openid was asked for), the response must carry
//     an ID token, which is validated (see VerifyIDToken).
//
// The ID token's claims are returned; nil when openid was not asked for.
// Any failure before the token request wraps ErrAuthorizationResponse.
func (c *Config) FinishAuth(ctx context.Context, ar *AuthRequest, query url.Values) (*oauth2.Token, *IDToken, error) {
	md, err := c.Discover(ctx)
	if err != nil {
		return nil, nil, err
	}
	code, err := c.checkAuthorizationResponse(md, query, ar.State)
	if err != nil {
		return nil, nil, err
	}
	tok, err := c.tokenRequest(ctx, url.Values{
		"grant_type":    {oauth.GrantAuthorizationCode},
		"code":          {code},
		"redirect_uri":  {ar.RedirectURI},
		"code_verifier": {ar.Verifier},
	})
	if err != nil {
		return nil, nil, err
	}
	if ar.Nonce == "" {
		return tok, nil, nil
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, nil, fmt.Errorf("%w: the token response has no id_token", ErrIDToken)
	}
	idt, err := c.VerifyIDToken(ctx, raw, ar.Nonce)
	if err != nil {
		return nil, nil, err
	}
	return tok, idt, nil
}
