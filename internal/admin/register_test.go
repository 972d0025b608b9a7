package admin

import (
	"testing"

	"github.com/bulwarkauth/bulwark/internal/clients"
	"github.com/bulwarkauth/bulwark/internal/oauth"
)

var metadataSeeds = []string{
	`{"redirect_uris":["https://app.example/cb"],"token_endpoint_auth_method":"none"}`,
	`{"grant_types":["client_credentials"],"scope":"api"}`,
	`{"grant_types":["client_credentials"],"token_endpoint_auth_method":"private_key_jwt","jwks":{"keys":[]}}`,
	`{"redirect_uris":"x"}`,
	`{"jwks":[1]}`,
	`[]`,
	``,
	`{"a":1}{"b":2}`,
	`{"response_types":["code","token"],"software_statement":"x"}`,
}

func TestParseMetadata(t *testing.T) {
	r := Registration{Scopes: oauth.NewScopes("openid", "api", "offline_access")}
	for _, tc := range []struct {
		name, body string
		code       string // "" means the policy accepts it
	}{
		{"ok/public", metadataSeeds[0], ""},
		{"ok/confidential", metadataSeeds[1], ""},
		{"fail/pkjwt_empty_keys", metadataSeeds[2], "invalid_client_metadata"},
		{"fail/type", metadataSeeds[3], "invalid_client_metadata"},
		{"fail/jwks_array", metadataSeeds[4], "invalid_client_metadata"},
		{"fail/array", metadataSeeds[5], "invalid_client_metadata"},
		{"fail/empty", metadataSeeds[6], "invalid_client_metadata"},
		{"fail/two_objects", metadataSeeds[7], "invalid_client_metadata"},
		{"fail/software_statement", metadataSeeds[8], "invalid_software_statement"},
		{"ok/loopback_public", `{"redirect_uris":["http://127.0.0.1/cb"],"token_endpoint_auth_method":"none"}`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code := check(r, tc.body)
			if code != tc.code {
				t.Errorf("code = %q, want %q", code, tc.code)
			}
		})
	}
	fapi := Registration{Profile: clients.ProfileFAPI2, Scopes: oauth.NewScopes("openid")}
	if code := check(fapi, `{"redirect_uris":["http://127.0.0.1/cb"],"token_endpoint_auth_method":"private_key_jwt"}`); code != "invalid_redirect_uri" {
		t.Errorf("fapi2 http redirect: %q", code)
	}
	if code := check(fapi, `{"redirect_uris":["https://a.example/cb"],"token_endpoint_auth_method":"client_secret_basic"}`); code != "invalid_client_metadata" {
		t.Errorf("fapi2 secret: %q", code)
	}
}

// check runs the whole registration validation (parse, policy, Check) and
// returns the error code, "" when the metadata is accepted.
func check(r Registration, body string) string {
	m, err := ParseMetadata([]byte(body))
	if err == nil {
		var c *clients.Client
		if c, err = r.toClient(m, "id-1"); err == nil {
			secret := ""
			if c.UsesSecret() {
				secret = newSecret()
			}
			if errs := clients.Check(c, secret); len(errs) > 0 {
				err = metadataError(errs)
			}
		}
	}
	if err == nil {
		return ""
	}
	oe, ok := oauth.As(err)
	if !ok {
		return "not-an-oauth-error"
	}
	return oe.Code
}

// FuzzParseMetadata feeds untrusted registration bodies through parsing,
// the policy and clients.Check: it must never panic, and every refusal
// is one of RFC 7591 §3.2.2's codes.
func FuzzParseMetadata(f *testing.F) {
	for _, s := range metadataSeeds {
		f.Add(s)
	}
	regs := []Registration{
		{Scopes: oauth.NewScopes("openid", "api")},
		{Profile: clients.ProfileFAPI2, Scopes: oauth.NewScopes("openid")},
	}
	f.Fuzz(func(t *testing.T, body string) {
		for _, r := range regs {
			switch code := check(r, body); code {
			case "", "invalid_client_metadata", "invalid_redirect_uri", "invalid_software_statement":
			default:
				t.Fatalf("body %q: error code %q", body, code)
			}
		}
	})
}
