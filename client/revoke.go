package client

import (
	"context"
	"net/url"
)

// Revoke asks the server to revoke tok (RFC 7009 §2.1) with the client's
// own authentication, at the mTLS alias when the client uses its
// certificate. hint is "refresh_token", "access_token" or empty. Revoking
// a refresh token ends its grant, and with it the grant's access tokens.
// It returns ErrNotSupported when the server advertises no revocation
// endpoint, and a *RetrieveError when the server refuses. No DPoP proof is
// sent: RFC 7009 has none.
func (c *Config) Revoke(ctx context.Context, tok, hint string) error {
	form := url.Values{"token": {tok}}
	if hint != "" {
		form.Set("token_type_hint", hint)
	}
	_, _, err := c.post(ctx, "revocation_endpoint", form, false)
	return err
}
