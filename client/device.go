package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"golang.org/x/oauth2"

	"github.com/bulwarkauth/bulwark/internal/oauth"
)

// grantDeviceCode is the grant type of RFC 8628 §3.4.
const grantDeviceCode = "urn:ietf:params:oauth:grant-type:device_code"

// RFC 8628 §3.5 error codes.
const (
	errAuthorizationPending = "authorization_pending"
	errExpiredToken         = "expired_token"
)

// defaultDeviceInterval is the polling interval when the server names
// none (RFC 8628 §3.2: "If no value is provided, clients MUST use 5 as
// the default").
const defaultDeviceInterval = 5 * time.Second

// slowDownStep is what each slow_down adds to the interval (RFC 8628
// §3.5, https://www.rfc-editor.org/rfc/rfc8628#section-3.5: "the interval
// MUST be increased by 5 seconds for this and all subsequent requests").
const slowDownStep = 5 * time.Second

// DeviceAuthResponse is the device authorization response of RFC 8628
// §3.2, like oauth2.DeviceAuthResponse.
type DeviceAuthResponse struct {
	// DeviceCode is the secret the client polls with.
	DeviceCode string `json:"device_code"`
	// UserCode is what the user enters at VerificationURI.
	UserCode string `json:"user_code"`
	// VerificationURI is where the user goes.
	VerificationURI string `json:"verification_uri"`
	// VerificationURIComplete, when set, already carries the user code.
	VerificationURIComplete string `json:"verification_uri_complete,omitempty"`
	// Expiry is when the device code expires; zero means the server
	// did not say.
	Expiry time.Time `json:"-"`
	// Interval is the minimum time between polls.
	Interval time.Duration `json:"-"`
}

// DeviceAuth starts the device authorization grant (RFC 8628 §3.1) at the
// discovered device_authorization_endpoint with client authentication;
// ErrNotSupported when the server has none. Show the user UserCode and
// VerificationURI, then call DeviceAccessToken.
func (c *Config) DeviceAuth(ctx context.Context) (*DeviceAuthResponse, error) {
	form := url.Values{}
	if len(c.Scopes) > 0 {
		form.Set("scope", strings.Join(c.Scopes, " "))
	}
	// No DPoP proof here: RFC 9449 binds at the token endpoint, and
	// RFC 8628 defines no proof for this endpoint.
	_, body, err := c.post(ctx, "device_authorization_endpoint", form, false)
	if err != nil {
		return nil, err
	}
	var raw struct {
		DeviceAuthResponse
		ExpiresIn any `json:"expires_in"`
		Interval  any `json:"interval"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return nil, fmt.Errorf("client: device authorization response: %w", err)
	}
	da := raw.DeviceAuthResponse
	if da.DeviceCode == "" || da.UserCode == "" || da.VerificationURI == "" {
		return nil, errors.New("client: device authorization response lacks device_code, user_code or verification_uri")
	}
	if secs, ok := number(raw.ExpiresIn); ok && secs > 0 {
		da.Expiry = c.now().Add(time.Duration(secs) * time.Second)
	}
	da.Interval = defaultDeviceInterval
	if secs, ok := number(raw.Interval); ok && secs > 0 {
		da.Interval = time.Duration(secs) * time.Second
	}
	return &da, nil
}

// DeviceAccessToken polls the token endpoint until the user approves or
// denies the request, the device code expires, or ctx is done (RFC 8628
// §3.4, §3.5): it waits Interval between polls, adds 5 s on every
// slow_down, keeps polling on authorization_pending, and returns an error
// wrapping ErrDeviceExpired on expired_token and ErrAccessDenied on
// access_denied. Every poll carries a fresh DPoP proof in ModeDPoP.
func (c *Config) DeviceAccessToken(ctx context.Context, da *DeviceAuthResponse) (*oauth2.Token, error) {
	interval := da.Interval
	if interval <= 0 {
		interval = defaultDeviceInterval
	}
	form := url.Values{"grant_type": {grantDeviceCode}, "device_code": {da.DeviceCode}}
	for {
		if !da.Expiry.IsZero() && !c.now().Before(da.Expiry) {
			return nil, ErrDeviceExpired
		}
		if err := c.sleep(ctx, interval); err != nil {
			return nil, err
		}
		t, err := c.tokenRequest(ctx, form)
		var re *RetrieveError
		if !errors.As(err, &re) {
			return t, err
		}
		switch re.ErrorCode {
		case errAuthorizationPending:
		case oauth.ErrSlowDown:
			interval += slowDownStep
		case errExpiredToken:
			return nil, fmt.Errorf("%w: %w", ErrDeviceExpired, err)
		case oauth.ErrAccessDenied:
			return nil, fmt.Errorf("%w: %w", ErrAccessDenied, err)
		default:
			return nil, err
		}
	}
}

// DeviceLogin runs the whole device flow: DeviceAuth, then show (which
// tells the user where to go and what to enter), then DeviceAccessToken.
// An error from show ends the flow.
func (c *Config) DeviceLogin(ctx context.Context, show func(*DeviceAuthResponse) error) (*oauth2.Token, error) {
	da, err := c.DeviceAuth(ctx)
	if err != nil {
		return nil, err
	}
	if err := show(da); err != nil {
		return nil, err
	}
	return c.DeviceAccessToken(ctx, da)
}

func (c *Config) sleep(ctx context.Context, d time.Duration) error {
	if c.Sleep != nil {
		return c.Sleep(ctx, d)
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
