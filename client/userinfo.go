package client

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	"golang.org/x/oauth2"
)

// UserInfo fetches the OpenID Connect userinfo of tok's user (OIDC Core
// §5.3) with the token in the Authorization header (DPoP with a proof for
// a DPoP token). When subject is set, the response's sub must equal it
// (§5.3.4: "the sub Claim in the UserInfo Response MUST be verified to
// exactly match the sub Claim in the ID Token"). Only JSON responses are
// accepted; a signed userinfo response is an error.
func (c *Config) UserInfo(ctx context.Context, tok *oauth2.Token, subject string) (map[string]any, error) {
	md, err := c.Discover(ctx)
	if err != nil {
		return nil, err
	}
	u, err := md.endpoint("userinfo_endpoint", c.useMTLS())
	if err != nil {
		return nil, err
	}
	hc, err := c.httpClient()
	if err != nil {
		return nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("client: userinfo: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := (&http.Client{Transport: c.TokenTransport(tok, hc.Transport), CheckRedirect: hc.CheckRedirect, Timeout: hc.Timeout}).Do(req)
	if err != nil {
		return nil, fmt.Errorf("client: userinfo: %w", err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseSize))
	if err != nil {
		return nil, fmt.Errorf("client: userinfo: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, newRetrieveError(resp, b)
	}
	var claims map[string]any
	if err := json.Unmarshal(b, &claims); err != nil {
		return nil, fmt.Errorf("client: userinfo is not a JSON object: %w", err)
	}
	if sub, _ := claims["sub"].(string); subject != "" && sub != subject {
		return nil, fmt.Errorf("%w: userinfo sub %q is not the ID token's", ErrIDToken, sub)
	}
	return claims, nil
}
