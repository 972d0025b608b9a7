package client

import (
	"context"
	"net/http"

	"golang.org/x/oauth2"
)

// Refresh redeems refreshToken (RFC 6749 §6) with client authentication
// and, in ModeDPoP, a proof. A response without a refresh_token keeps the
// old one (FAPI 2.0 SP §5.3.3.1-6). Servers that keep tokens per user
// session, like a BFF, call it directly instead of through a TokenSource.
func (c *Config) Refresh(ctx context.Context, refreshToken string) (*oauth2.Token, error) {
	return c.refresh(ctx, refreshToken)
}

// TokenTransport returns a Transport that sends tok through base (nil
// means http.DefaultTransport), with a fresh DPoP proof per request signed
// by the Config's key for DPoP tokens, sharing the Config's DPoP nonces,
// so a resource server's nonce is learnt once for all the Transports of
// one Config. It suits one request on behalf of one user session.
func (c *Config) TokenTransport(tok *oauth2.Token, base http.RoundTripper) *Transport {
	t := &Transport{Source: oauth2.StaticTokenSource(tok), Now: c.Now, nonces: &c.nonces, Base: base}
	t.DPoPKey, t.err = c.dpopKey()
	return t
}
