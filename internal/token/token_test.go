package token

import (
	"context"
	"testing"

	"github.com/bulwarkauth/bulwark/internal/clients"
	"github.com/bulwarkauth/bulwark/internal/oauth"
)

var exchangeCases = []struct {
	name      string
	grantType string
	client    string
	badAuth   bool
	code      string
}{
	{"fail/grant_type_missing", "", stdID, false, oauth.ErrInvalidRequest},
	{"fail/password", oauth.GrantPassword, stdID, false, oauth.ErrUnsupportedGrantType},
	{"fail/implicit", "implicit", stdID, false, oauth.ErrUnsupportedGrantType},
	{"fail/device_code_not_registered", oauth.GrantDeviceCode, stdID, false, oauth.ErrUnauthorizedClient},
	{"fail/jwt_bearer", "urn:ietf:params:oauth:grant-type:jwt-bearer", stdID, false, oauth.ErrUnsupportedGrantType},
	{"fail/grant_type_case", "Client_Credentials", stdID, false, oauth.ErrUnsupportedGrantType},
	// Phase 1 runs before client authentication.
	{"fail/unsupported_before_auth", oauth.GrantPassword, stdID, true, oauth.ErrUnsupportedGrantType},
	{"fail/bad_client_auth", oauth.GrantClientCredentials, stdID, true, oauth.ErrInvalidClient},
	// Phase 3: the client must have registered the grant.
	{"fail/grant_not_registered", oauth.GrantClientCredentials, noRTID, false, oauth.ErrUnauthorizedClient},
	{"fail/public_client_credentials", oauth.GrantClientCredentials, publicID, false, oauth.ErrUnauthorizedClient},
	{"fail/refresh_not_registered", oauth.GrantRefreshToken, apiID, false, oauth.ErrUnauthorizedClient},
	{"ok/client_credentials", oauth.GrantClientCredentials, stdID, false, ""},
}

// TestExchangePhases checks the dispatcher's fixed order: grant type,
// client authentication, grant permission (FAPI 2.0 SP §5.3.2.1-2: no
// password grant).
func TestExchangePhases(t *testing.T) {
	e := newEnv(t)
	for _, tt := range exchangeCases {
		t.Run(tt.name, func(t *testing.T) {
			creds := e.creds(t, tt.client)
			if tt.badAuth {
				creds = clients.Credentials{ClientID: tt.client, PostSecret: "wrong-secret-0123456789", HasPostSecret: true}
			}
			res, err := e.svc.Exchange(context.Background(), &Request{GrantType: tt.grantType, Credentials: creds})
			if got := errCode(t, err); got != tt.code {
				t.Fatalf("code = %q, want %q (%v)", got, tt.code, err)
			}
			if err != nil && res != nil {
				t.Error("a failed exchange returned tokens")
			}
		})
	}
}
