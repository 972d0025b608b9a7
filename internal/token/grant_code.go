package token

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"time"

	"github.com/bulwarkauth/bulwark/internal/clients"
	"github.com/bulwarkauth/bulwark/internal/oauth"
	"github.com/bulwarkauth/bulwark/internal/store"
)

// codeGrant redeems an authorization code (RFC 6749 §4.1.3).
type codeGrant struct{}

func (codeGrant) Exchange(ctx context.Context, s *Service, c *clients.Client, req *Request, cnf Confirmation) (*Issue, error) {
	if req.Code == "" {
		return nil, oauth.InvalidRequest("code is required")
	}
	if len(req.Code) > 128 {
		return nil, oauth.InvalidGrant("invalid authorization code")
	}
	rec, err := s.Store.Codes.Consume(ctx, store.Hash(req.Code))
	switch {
	case errors.Is(err, store.ErrReplayed):
		// RFC 6749 §4.1.2: "If an authorization code is used more than
		// once, the authorization server MUST deny the request and SHOULD
		// revoke (when possible) all tokens previously issued based on
		// that authorization code."
		if rerr := s.Store.Grants.Revoke(ctx, rec.GrantID); rerr != nil {
			return nil, storeError(rerr)
		}
		return nil, oauth.InvalidGrant("authorization code already used")
	case errors.Is(err, store.ErrNotFound):
		return nil, oauth.InvalidGrant("invalid or expired authorization code")
	case err != nil:
		return nil, storeError(err)
	}
	// FAPI 2.0 SP §5.3.2.1-11: codes live at most 60 s. The store expires
	// them too; checking here keeps the rule independent of its clock.
	if !s.now().Before(rec.ExpiresAt) {
		return nil, oauth.InvalidGrant("invalid or expired authorization code")
	}
	// RFC 6749 §4.1.3: the code was issued to the authenticated client.
	if rec.ClientID != c.ID {
		return nil, oauth.InvalidGrant("authorization code was issued to another client")
	}
	var d oauth.CodeData
	if err := json.Unmarshal(rec.Params, &d); err != nil {
		return nil, oauth.ServerError(err)
	}
	if req.RedirectURI != "" && req.RedirectURI != d.RedirectURI {
		return nil, oauth.InvalidGrant("redirect_uri does not match the authorization request")
	}
	// RFC 7636 §4.6 and RFC 9700 §2.1.1: the verifier must match; a missing
	// verifier is invalid_grant like a wrong one.
	if !oauth.VerifyPKCE(d.CodeChallenge, req.CodeVerifier) {
		return nil, oauth.InvalidGrant("code_verifier does not match the code_challenge")
	}
	// RFC 9449 §10: a code bound with dpop_jkt (or by the DPoP proof of
	// its PAR request) is redeemed only with a proof of that key.
	if d.DPoPJKT != "" && subtle.ConstantTimeCompare([]byte(d.DPoPJKT), []byte(cnf.JKT)) != 1 {
		return nil, oauth.New(oauth.ErrInvalidDPoPProof, "the DPoP key does not match the one the authorization request was bound to")
	}
	// The grant was recorded with the code; a consent revoked since (or
	// a client deleted) revoked it, and the code with it.
	g, err := s.Store.Grants.Get(ctx, rec.GrantID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		// A code of a node that records grants only at redemption (a
		// rolling upgrade): record it now, as that node would have.
		now := s.now()
		g = &store.Grant{
			ID: rec.GrantID, ClientID: c.ID, Subject: d.Subject, Scopes: d.Scopes.String(),
			AuthTime: d.AuthTime, CreatedAt: now, ExpiresAt: now.Add(s.ttl(s.RefreshTokenTTL, 30*24*time.Hour)),
		}
		if err := s.Store.Grants.Put(ctx, g); err != nil {
			return nil, storeError(err)
		}
	case err != nil:
		return nil, storeError(err)
	case g.Revoked || g.ClientID != c.ID || g.Subject != d.Subject:
		return nil, oauth.InvalidGrant("the authorization was revoked")
	}
	return &Issue{
		Subject: d.Subject, Scopes: d.Scopes, GrantID: rec.GrantID, AuthTime: d.AuthTime,
		Nonce: d.Nonce, Audience: d.Resource,
		IssueRefresh: c.AllowsGrant(oauth.GrantRefreshToken),
		IDToken:      d.Scopes.Has(oauth.ScopeOpenID),
	}, nil
}
