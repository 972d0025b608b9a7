package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"

	"github.com/bulwarkauth/bulwark/internal/clients"
	"github.com/bulwarkauth/bulwark/internal/oauth"
)

// Demo identities added by WithDemo. The secrets are public knowledge,
// which is why WithDemo refuses any issuer that is reachable from another
// machine.
const (
	// DemoUsername and DemoPassword log in the demo user.
	DemoUsername = "alice"
	DemoPassword = "wonderland-demo-pass"
	// DemoPublicClientID is a public client (token_endpoint_auth_method
	// none) of the standard profile, as a native or browser app would be.
	DemoPublicClientID = "demo-public"
	// DemoSecretClientID authenticates with client_secret_basic and
	// DemoClientSecret; it is the client of the curl walkthrough.
	DemoSecretClientID = "demo-secret"
	DemoClientSecret   = "demo-secret-change-me-0123456789"
	// DemoFAPIClientID is a FAPI 2.0 client authenticating with
	// private_key_jwt.
	DemoFAPIClientID = "demo-fapi"
	// DemoRedirectURI is where every demo client's authorization
	// responses go; nothing needs to listen there, the code can be read
	// from the browser's address bar.
	DemoRedirectURI = "http://127.0.0.1:9999/callback"
)

// demoSource is the Source of problems with a demo identity.
const demoSource = "demo identity"

// ErrDemoNotLoopback is returned by WithDemo for an issuer that is not on
// a loopback address.
var ErrDemoNotLoopback = errors.New("config: demo identities have published credentials and are allowed only with a loopback issuer")

// WithDemo returns a copy of f with the demo user and the demo clients
// demo-public (public, PKCE), demo-secret (client_secret_basic) and
// demo-fapi (FAPI 2.0, private_key_jwt with fapiKey, a public JWK) added
// after the configured ones. f is not modified. A configured client or
// user with a demo name makes the result fail Validate as a duplicate.
//
// The issuer must be a loopback address: the demo password and secret are
// printed in the documentation, so anywhere else they are an open door.
func (f *File) WithDemo(fapiKey json.RawMessage) (*File, error) {
	u, err := url.Parse(f.Issuer)
	if err != nil || !isLoopback(u.Hostname()) {
		return nil, ErrDemoNotLoopback
	}
	jwks, err := json.Marshal(map[string][]json.RawMessage{"keys": {fapiKey}})
	if err != nil {
		return nil, fmt.Errorf("config: demo key: %w", err)
	}
	out := *f
	out.origin = maps.Clone(f.origin)
	if out.origin == nil {
		out.origin = map[string]string{}
	}
	redirect := []string{DemoRedirectURI}
	demoClients := []Client{
		{Metadata: clients.Client{
			ID: DemoPublicClientID, Name: "Demo public client", ProfileName: clients.ProfileStandard,
			AuthMethod: oauth.AuthNone, RedirectURIs: redirect,
			GrantTypes: []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken},
			Scopes:     oauth.NewScopes("openid", "profile", "email", "offline_access"),
		}},
		{Secret: DemoClientSecret, Metadata: clients.Client{
			ID: DemoSecretClientID, Name: "Demo confidential client", ProfileName: clients.ProfileStandard,
			AuthMethod: oauth.AuthClientSecretBasic, RedirectURIs: redirect,
			GrantTypes: []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken, oauth.GrantClientCredentials},
			Scopes:     oauth.NewScopes("openid", "profile", "email", "api"),
		}},
		{Metadata: clients.Client{
			ID: DemoFAPIClientID, Name: "Demo FAPI 2.0 client", ProfileName: clients.ProfileFAPI2,
			AuthMethod: oauth.AuthPrivateKeyJWT, JWKS: jwks, RedirectURIs: redirect,
			GrantTypes: []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken, oauth.GrantClientCredentials},
			Scopes:     oauth.NewScopes("openid", "profile", "email", "accounts"),
		}},
	}
	out.Clients = slices.Clone(f.Clients)
	for _, c := range demoClients {
		out.origin[fmt.Sprintf("clients[%d]", len(out.Clients))] = demoSource
		out.Clients = append(out.Clients, c)
	}
	out.Users = slices.Clone(f.Users)
	out.origin[fmt.Sprintf("users[%d]", len(out.Users))] = demoSource
	out.Users = append(out.Users, User{
		Username: DemoUsername,
		Password: DemoPassword,
		Claims:   map[string]any{"email": "alice@example.com", "name": "Alice Liddell"},
	})
	return &out, nil
}
