package authorize

import (
	"context"
	"errors"
	"net/url"
	"time"

	"github.com/bulwarkauth/bulwark/internal/clients"
	"github.com/bulwarkauth/bulwark/internal/oauth"
	"github.com/bulwarkauth/bulwark/internal/store"
)

// This file is the server side of the device authorization grant
// (RFC 8628) up to the user's decision: the device authorization endpoint
// (§3.1–3.2) and the lookup and decision behind the /device pages (§3.3),
// which package login renders through its DeviceFlow interface. The token
// endpoint's polling is package token's (grant_device.go).

// Defaults of the device flow settings.
const (
	DefaultDeviceCodeTTL      = 10 * time.Minute
	DefaultDevicePollInterval = 5 * time.Second
)

// DeviceRequest is a device authorization request (RFC 8628 §3.1) from an
// authenticated client, parsed by the handler.
type DeviceRequest struct {
	// Scope is the scope parameter; empty requests no scopes, as at the
	// authorization endpoint.
	Scope string
}

// DeviceResponse is the RFC 8628 §3.2 success body.
type DeviceResponse struct {
	DeviceCode              string `json:"device_code"`
	UserCode                string `json:"user_code"`
	VerificationURI         string `json:"verification_uri"`
	VerificationURIComplete string `json:"verification_uri_complete"`
	ExpiresIn               int64  `json:"expires_in"`
	Interval                int64  `json:"interval"`
}

func (s *Service) deviceTTL() time.Duration {
	if s.DeviceCodeTTL > 0 {
		return s.DeviceCodeTTL
	}
	return DefaultDeviceCodeTTL
}

func (s *Service) devicePollInterval() time.Duration {
	if s.DevicePollInterval > 0 {
		return s.DevicePollInterval
	}
	return DefaultDevicePollInterval
}

// maxUserCodeDraws bounds the retries when a fresh user code collides with
// a live one. With 2^34.6 codes a collision needs millions of live
// authorizations; four in a row means something else is wrong.
const maxUserCodeDraws = 4

// DeviceAuthorize starts a device authorization for client c
// (RFC 8628 §3.1): the client must have registered the device_code grant
// and may ask only for its registered scopes. The device code carries 256
// random bits (§5.2) and, like the user code, is stored only as a hash.
func (s *Service) DeviceAuthorize(ctx context.Context, c *clients.Client, req DeviceRequest) (*DeviceResponse, error) {
	if !c.AllowsGrant(oauth.GrantDeviceCode) {
		return nil, oauth.New(oauth.ErrUnauthorizedClient, "client may not use the device authorization grant")
	}
	scopes, ok := oauth.ParseScopes(req.Scope)
	if !ok {
		return nil, oauth.New(oauth.ErrInvalidScope, "malformed scope")
	}
	if !scopes.SubsetOf(c.Scopes) {
		return nil, oauth.New(oauth.ErrInvalidScope, "scope not allowed for this client")
	}
	if s.VerificationURI == "" {
		return nil, oauth.ServerError(errors.New("authorize: no verification URI configured"))
	}
	ttl, interval := s.deviceTTL(), s.devicePollInterval()
	deviceCode := randomToken()
	rec := &store.DeviceCode{
		ClientID: c.ID, Scopes: scopes.String(), ExpiresAt: s.now().Add(ttl),
		Interval: interval, Status: store.DevicePending,
	}
	var userCode string
	for i := 0; ; i++ {
		userCode = newUserCode()
		rec.UserCodeHash = userCodeHash(userCode)
		err := s.Store.DeviceCodes.Put(ctx, store.Hash(deviceCode), rec)
		if err == nil {
			break
		}
		if !errors.Is(err, store.ErrConflict) || i+1 == maxUserCodeDraws {
			return nil, storeError(err)
		}
	}
	shown := FormatUserCode(userCode)
	return &DeviceResponse{
		DeviceCode:      deviceCode,
		UserCode:        shown,
		VerificationURI: s.VerificationURI,
		// RFC 8628 §3.3.1: the complete URI only saves typing; the page
		// still shows the code and asks the user to confirm it (§5.4).
		VerificationURIComplete: s.VerificationURI + "?" + url.Values{"user_code": {shown}}.Encode(),
		ExpiresIn:               int64(ttl / time.Second),
		Interval:                int64(interval / time.Second),
	}, nil
}

// LookupDevice implements login.DeviceFlow: it returns the pending device
// authorization for the user code as the user typed it, as an interaction
// whose UserCode is the code in display form, for the consent page. It
// returns nil and no error when no pending authorization has that code:
// malformed, unknown, expired and already decided codes look the same, so
// the page reveals nothing about them (RFC 8628 §5.1). Errors are store
// failures, as *oauth.Error values to show on a page.
func (s *Service) LookupDevice(ctx context.Context, userCode string) (*oauth.Interaction, error) {
	_, rec, c, err := s.lookupDevice(ctx, userCode)
	if err != nil || rec == nil {
		return nil, err
	}
	scopes, _ := oauth.ParseScopes(rec.Scopes)
	name := c.Name
	if name == "" {
		name = c.ID
	}
	code, _ := NormalizeUserCode(userCode)
	return &oauth.Interaction{
		ClientID: c.ID, ClientName: name, Scopes: scopes, MaxAge: -1,
		UserCode: FormatUserCode(code),
	}, nil
}

// lookupDevice finds the pending authorization and its client; a nil
// record with a nil error means there is none.
func (s *Service) lookupDevice(ctx context.Context, userCode string) (string, *store.DeviceCode, *clients.Client, error) {
	code, ok := NormalizeUserCode(userCode)
	if !ok {
		return "", nil, nil, nil
	}
	hash, rec, err := s.Store.DeviceCodes.GetByUserCode(ctx, userCodeHash(code))
	if errors.Is(err, store.ErrNotFound) {
		return "", nil, nil, nil
	}
	if err != nil {
		return "", nil, nil, storeError(err)
	}
	// The store's clock and ours may differ; either one saying "expired"
	// ends the authorization.
	if rec.Status != store.DevicePending || !s.now().Before(rec.ExpiresAt) {
		return "", nil, nil, nil
	}
	c, err := s.Clients.Get(ctx, rec.ClientID)
	if errors.Is(err, clients.ErrUnknownClient) {
		return "", nil, nil, nil
	}
	if err != nil {
		return "", nil, nil, oauth.Unavailable(err)
	}
	return hash, rec, c, nil
}

// errDeviceGone is shown when a code stopped being pending between the
// consent page and the decision (another tab, expiry).
var errDeviceGone = oauth.InvalidRequest("this code has expired or was already used; start again on your device")

// DecideDevice implements login.DeviceFlow: it records the user's answer
// for the pending authorization behind userCode. Approval makes the
// device's next poll receive tokens for a.Subject; a denial makes it
// receive access_denied. Exactly one decision counts. Errors are
// *oauth.Error values to show on a page.
func (s *Service) DecideDevice(ctx context.Context, userCode string, approve bool, a oauth.Approval) error {
	hash, rec, _, err := s.lookupDevice(ctx, userCode)
	if err != nil {
		return err
	}
	if rec == nil {
		return errDeviceGone
	}
	status := store.DeviceDenied
	if approve {
		status = store.DeviceApproved
		// The grant is recorded with the approval (as with a code), so a
		// consent revoked before the device polls revokes it too. It is
		// written first: a failed write leaves the device pending, never
		// approved without its grant; a grant whose approval then loses
		// to another decision is never used.
		now := s.now()
		ttl := s.GrantTTL
		if ttl <= 0 {
			ttl = DefaultGrantTTL
		}
		err := s.Store.Grants.Put(ctx, &store.Grant{
			ID: store.DeviceGrantID(hash), ClientID: rec.ClientID, Subject: a.Subject, Scopes: rec.Scopes,
			AuthTime: a.AuthTime, CreatedAt: now, ExpiresAt: now.Add(ttl),
		})
		if err != nil && !errors.Is(err, store.ErrConflict) {
			return storeError(err)
		}
	}
	err = s.Store.DeviceCodes.Decide(ctx, hash, status, a.Subject, a.AuthTime)
	switch {
	case errors.Is(err, store.ErrReplayed), errors.Is(err, store.ErrNotFound):
		return errDeviceGone
	case err != nil:
		return storeError(err)
	}
	return nil
}
