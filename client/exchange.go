package client

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"golang.org/x/oauth2"
)

// grantTokenExchange is the grant type of RFC 8693 §2.1.
const grantTokenExchange = "urn:ietf:params:oauth:grant-type:token-exchange"

// Token type identifiers of RFC 8693 §3.
const (
	TokenTypeAccessToken  = "urn:ietf:params:oauth:token-type:access_token"
	TokenTypeRefreshToken = "urn:ietf:params:oauth:token-type:refresh_token"
	TokenTypeIDToken      = "urn:ietf:params:oauth:token-type:id_token"
	TokenTypeJWT          = "urn:ietf:params:oauth:token-type:jwt"
)

// TokenExchange is an RFC 8693 §2.1 token exchange request.
type TokenExchange struct {
	// SubjectToken and SubjectTokenType are required.
	SubjectToken, SubjectTokenType string
	// ActorToken and ActorTokenType are optional (delegation).
	ActorToken, ActorTokenType string
	// RequestedTokenType is optional; empty lets the server choose.
	RequestedTokenType string
	// Audience and Resource name where the new token will be used.
	Audience, Resource []string
	// Scopes are the scopes requested; nil means Config.Scopes.
	Scopes []string
}

// ExchangeToken runs the token exchange grant (RFC 8693) with client
// authentication and, in ModeDPoP, a DPoP proof. It returns an error
// wrapping ErrNotSupported, without sending anything, when the server does
// not list the grant in grant_types_supported. The issued_token_type of
// the response is in Extra("issued_token_type").
func (c *Config) ExchangeToken(ctx context.Context, x TokenExchange) (*oauth2.Token, error) {
	if x.SubjectToken == "" || x.SubjectTokenType == "" {
		return nil, errors.New("client: token exchange needs SubjectToken and SubjectTokenType")
	}
	if (x.ActorToken == "") != (x.ActorTokenType == "") {
		return nil, errors.New("client: token exchange needs ActorToken and ActorTokenType together")
	}
	md, err := c.Discover(ctx)
	if err != nil {
		return nil, err
	}
	if !md.supportsGrant(grantTokenExchange) {
		return nil, fmt.Errorf("%w: token exchange (RFC 8693)", ErrNotSupported)
	}
	form := url.Values{
		"grant_type":         {grantTokenExchange},
		"subject_token":      {x.SubjectToken},
		"subject_token_type": {x.SubjectTokenType},
	}
	if x.ActorToken != "" {
		form.Set("actor_token", x.ActorToken)
		form.Set("actor_token_type", x.ActorTokenType)
	}
	if x.RequestedTokenType != "" {
		form.Set("requested_token_type", x.RequestedTokenType)
	}
	form["audience"] = x.Audience
	form["resource"] = x.Resource
	scopes := x.Scopes
	if scopes == nil {
		scopes = c.Scopes
	}
	if len(scopes) > 0 {
		form.Set("scope", strings.Join(scopes, " "))
	}
	for k, v := range form {
		if len(v) == 0 {
			delete(form, k)
		}
	}
	return c.tokenRequest(ctx, form)
}
