package token

import (
	"context"

	"github.com/bulwarkauth/bulwark/internal/clients"
	"github.com/bulwarkauth/bulwark/internal/oauth"
)

// clientCredentialsGrant issues a token to the client for itself
// (RFC 6749 §4.4). There is no user, so no ID token and no refresh token
// (RFC 6749 §4.4.3).
type clientCredentialsGrant struct{}

func (clientCredentialsGrant) Exchange(ctx context.Context, s *Service, c *clients.Client, req *Request, _ Confirmation) (*Issue, error) {
	if c.Public() {
		return nil, oauth.New(oauth.ErrUnauthorizedClient, "public clients cannot use client_credentials")
	}
	scopes := c.Scopes
	if req.ScopeSet {
		asked, ok := oauth.ParseScopes(req.Scope)
		if !ok || !asked.SubsetOf(c.Scopes) {
			return nil, oauth.New(oauth.ErrInvalidScope, "scope not allowed for this client")
		}
		scopes = asked
	}
	// openid means nothing without a user; drop it rather than fail.
	out := scopes[:0:0]
	for _, sc := range scopes {
		if sc != oauth.ScopeOpenID {
			out = append(out, sc)
		}
	}
	return &Issue{Subject: c.ID, Scopes: out, Audience: req.Resource}, nil
}
