package token

import (
	"context"
	"errors"
	"strings"

	"github.com/bulwarkauth/bulwark/internal/clients"
	"github.com/bulwarkauth/bulwark/internal/jose"
	"github.com/bulwarkauth/bulwark/internal/store"
)

// errInactive means the token is not active: unknown, malformed, expired,
// revoked, or issued by someone else. Callers never learn which.
var errInactive = errors.New("token: not active")

// verifyAccess checks an access token this server issued and returns its
// claims if it is active. A store outage is returned as such, so the
// caller fails closed instead of calling a revoked token active.
func (s *Service) verifyAccess(ctx context.Context, raw string) (*accessClaims, error) {
	if strings.Count(raw, ".") != 2 {
		return nil, errInactive
	}
	t, err := jose.Parse(raw, nil)
	if err != nil || t.Header.Type != AccessTokenType {
		return nil, errInactive
	}
	var c accessClaims
	if _, err := t.VerifySet(s.Keys, &c); err != nil {
		return nil, errInactive
	}
	if c.Issuer != s.Issuer || c.ID == "" || c.Expiry == nil {
		return nil, errInactive
	}
	if err := c.ValidateTimes(s.now(), jose.TimeRules{RequireExp: true}); err != nil {
		return nil, errInactive
	}
	revoked, err := s.Store.Revocations.IsRevoked(ctx, c.ID)
	if err != nil {
		return nil, err
	}
	if revoked {
		return nil, errInactive
	}
	// A deleted client's tokens die with it; client_credentials tokens
	// have no grant to revoke.
	if _, err := s.Clients.Get(ctx, c.ClientID); errors.Is(err, clients.ErrUnknownClient) {
		return nil, errInactive
	} else if err != nil {
		return nil, err
	}
	if c.GrantID != "" {
		g, err := s.Store.Grants.Get(ctx, c.GrantID)
		if errors.Is(err, store.ErrNotFound) {
			return nil, errInactive
		}
		if err != nil {
			return nil, err
		}
		if g.Revoked {
			return nil, errInactive
		}
	}
	return &c, nil
}
