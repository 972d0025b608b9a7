package token

import (
	"context"
	"errors"
	"net/http"
	"time"

	"github.com/bulwarkauth/bulwark/internal/clients"
	"github.com/bulwarkauth/bulwark/internal/oauth"
	"github.com/bulwarkauth/bulwark/internal/store"
)

// DeviceSlowDownStep is how much a slow_down raises a device code's
// polling interval: RFC 8628 §3.5, "the interval MUST be increased by 5
// seconds for this and all subsequent requests"
// (https://www.rfc-editor.org/rfc/rfc8628#section-3.5).
const DeviceSlowDownStep = 5 * time.Second

// deviceGrant answers a device's polls (RFC 8628 §3.4–3.5): pending,
// slow_down, denied, expired, or, once, tokens. The sender constraint of
// the tokens is the poll's, from phase 4, like every grant's.
type deviceGrant struct{}

// pollError is a polling answer of RFC 8628 §3.5. Every one is an RFC 6749
// §5.2 error response, so 400 even for access_denied, which elsewhere is
// a 403.
func pollError(code, desc string) *oauth.Error {
	return &oauth.Error{Code: code, Description: desc, Status: http.StatusBadRequest}
}

func (deviceGrant) Exchange(ctx context.Context, s *Service, c *clients.Client, req *Request, _ Confirmation) (*Issue, error) {
	if req.DeviceCode == "" {
		return nil, oauth.InvalidRequest("device_code is required")
	}
	if len(req.DeviceCode) > 128 {
		return nil, oauth.InvalidGrant("invalid device code")
	}
	hash := store.Hash(req.DeviceCode)
	now := s.now()
	// Every poll is recorded, so the interval is enforced however the
	// poll ends. A poll by another client moves only that clock, and
	// needs the device code, which never leaves the device.
	d, tooFast, err := s.Store.DeviceCodes.Poll(ctx, hash, now, DeviceSlowDownStep)
	if errors.Is(err, store.ErrNotFound) {
		return nil, oauth.InvalidGrant("invalid device code")
	}
	if err != nil {
		return nil, storeError(err)
	}
	// RFC 8628 §3.4 (https://www.rfc-editor.org/rfc/rfc8628#section-3.4)
	// with RFC 6749 §5.2: the device code was issued to the authenticated
	// client, or the grant is invalid_grant.
	if d.ClientID != c.ID {
		return nil, oauth.InvalidGrant("device code was issued to another client")
	}
	switch d.Status {
	case store.DeviceConsumed:
		return nil, oauth.InvalidGrant("device code already used")
	case store.DeviceDenied:
		return nil, pollError(oauth.ErrAccessDenied, "the user denied the request")
	}
	if !now.Before(d.ExpiresAt) {
		return nil, pollError(oauth.ErrExpiredToken, "the device code has expired; start a new device authorization")
	}
	if d.Status == store.DevicePending {
		if tooFast {
			return nil, pollError(oauth.ErrSlowDown, "polling too fast; wait 5 seconds longer between requests")
		}
		return nil, pollError(oauth.ErrAuthorizationPending, "the user has not finished yet")
	}
	// Approved: exactly one poll turns it into tokens.
	d, err = s.Store.DeviceCodes.Consume(ctx, hash)
	switch {
	case errors.Is(err, store.ErrReplayed):
		return nil, oauth.InvalidGrant("device code already used")
	case errors.Is(err, store.ErrNotFound):
		// Expired by the store's clock between Poll and Consume.
		return nil, pollError(oauth.ErrExpiredToken, "the device code has expired; start a new device authorization")
	case err != nil:
		return nil, storeError(err)
	}
	scopes, ok := oauth.ParseScopes(d.Scopes)
	if !ok {
		return nil, oauth.ServerError(errors.New("token: stored device scopes do not parse"))
	}
	// The grant was recorded with the approval; a consent revoked since
	// revoked it, and the approval with it.
	g, err := s.Store.Grants.Get(ctx, store.DeviceGrantID(hash))
	switch {
	case errors.Is(err, store.ErrNotFound):
		// Approved by a node that records the grant only here (a rolling
		// upgrade): record it now, as that node would have.
		g = &store.Grant{
			ID: store.DeviceGrantID(hash), ClientID: c.ID, Subject: d.Subject, Scopes: scopes.String(),
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
		Subject: d.Subject, Scopes: scopes, GrantID: g.ID, AuthTime: d.AuthTime,
		IssueRefresh: c.AllowsGrant(oauth.GrantRefreshToken),
		IDToken:      scopes.Has(oauth.ScopeOpenID),
	}, nil
}
