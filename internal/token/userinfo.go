package token

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/bulwarkauth/bulwark/internal/oauth"
	"github.com/bulwarkauth/bulwark/internal/store"
)

// scopeClaims lists the claims each OIDC scope releases (OIDC Core §5.4).
var scopeClaims = map[string][]string{
	"profile": {"name", "family_name", "given_name", "middle_name", "nickname", "preferred_username", "profile", "picture", "website", "gender", "birthdate", "zoneinfo", "locale", "updated_at"},
	"email":   {"email", "email_verified"},
	"address": {"address"},
	"phone":   {"phone_number", "phone_number_verified"},
}

// Userinfo returns the claims of the user behind an access token (OIDC
// Core §5.3). The token must be active, presented as its binding demands
// (CheckResource), and carry the openid scope; failures are invalid_token
// (RFC 6750 §3.1), a DPoP error (RFC 9449 §7.1) or insufficient_scope.
func (s *Service) Userinfo(ctx context.Context, req ResourceRequest) (map[string]any, error) {
	c, err := s.checkResource(ctx, req)
	if err != nil {
		return nil, err
	}
	scopes, _ := oauth.ParseScopes(c.Scope)
	if !scopes.Has(oauth.ScopeOpenID) || c.Subject == c.ClientID && c.GrantID == "" {
		return nil, oauth.New(oauth.ErrInsufficientScope, "the openid scope is required")
	}
	u, err := s.Store.Users.Get(ctx, c.Subject)
	if errors.Is(err, store.ErrNotFound) {
		return nil, oauth.New(oauth.ErrInvalidToken, "the user no longer exists")
	}
	if err != nil {
		return nil, oauth.Unavailable(err)
	}
	all := map[string]any{}
	if len(u.Claims) > 0 {
		if err := json.Unmarshal(u.Claims, &all); err != nil {
			return nil, oauth.ServerError(err)
		}
	}
	out := map[string]any{"sub": u.Subject}
	for _, sc := range scopes {
		for _, name := range scopeClaims[sc] {
			if v, ok := all[name]; ok {
				out[name] = v
			}
		}
	}
	if scopes.Has("profile") {
		out["preferred_username"] = u.Username
	}
	return out, nil
}
