package token

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/bulwarkauth/bulwark/internal/clients"
	"github.com/bulwarkauth/bulwark/internal/oauth"
	"github.com/bulwarkauth/bulwark/internal/store"
)

// Revoke handles an RFC 7009 revocation request from an authenticated
// client. Revoking a refresh token revokes its whole grant, and with it the
// access tokens issued under it (RFC 7009 §2.1 "SHOULD also invalidate all
// access tokens based on the same authorization grant"). An unknown token,
// or one issued to another client, is answered like a success (RFC 7009
// §2.2) so the endpoint reveals nothing.
func (s *Service) Revoke(ctx context.Context, creds clients.Credentials, tok, hint string) error {
	caller, err := s.Clients.Authenticate(ctx, creds)
	if err != nil {
		var ae *clients.AuthError
		if errors.As(err, &ae) {
			s.Metrics.ClientAuthFailed(ae.Reason)
		}
		return err
	}
	if tok == "" {
		return oauth.InvalidRequest("token is required")
	}
	if c, err := s.verifyAccess(ctx, tok); err == nil {
		if c.ClientID != caller.ID {
			return nil
		}
		if err := s.Store.Revocations.Revoke(ctx, c.ID, c.Expiry.Time()); err != nil {
			return storeError(err)
		}
		s.audit(ctx, caller.ID, "access_token", c.GrantID)
		return nil
	} else if !errors.Is(err, errInactive) {
		return oauth.Unavailable(err)
	}
	if len(tok) > 128 {
		return nil
	}
	rt, err := s.Store.RefreshTokens.Get(ctx, store.Hash(tok))
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return storeError(err)
	}
	if rt.ClientID != caller.ID {
		return nil
	}
	if err := s.Store.Grants.Revoke(ctx, rt.GrantID); err != nil {
		return storeError(err)
	}
	if err := s.Store.RefreshTokens.Delete(ctx, store.Hash(tok)); err != nil {
		return storeError(err)
	}
	s.audit(ctx, caller.ID, "refresh_token", rt.GrantID)
	return nil
}

// audit records a revocation; the token itself never goes into the log.
func (s *Service) audit(ctx context.Context, clientID, kind, grantID string) {
	if s.Audit == nil {
		return
	}
	details, _ := json.Marshal(map[string]string{"token_type": kind, "grant_id": grantID})
	s.Audit(ctx, &store.AuditEvent{
		Time: s.now(), Action: "token.revoke", Actor: "client:" + clientID,
		Target: "grant:" + grantID, Outcome: "success", Details: details,
	})
}
