package clients

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	"github.com/bulwarkauth/bulwark/internal/jose"
	"github.com/bulwarkauth/bulwark/internal/oauth"
	"github.com/google/go-cmp/cmp"
)

// TestValidate checks client metadata against each profile's policy. Every
// bad field must come back as a FieldError naming exactly that field.
func TestValidate(t *testing.T) {
	testKeys(t)
	keys := jwks(t, esKey)
	fapi := func() *Client {
		return &Client{
			ID: "c1", ProfileName: ProfileFAPI2, AuthMethod: oauth.AuthPrivateKeyJWT,
			JWKS: keys, RedirectURIs: []string{"https://app.example/cb"},
		}
	}
	public := func() *Client {
		return &Client{ID: "c2", ProfileName: ProfileStandard, AuthMethod: oauth.AuthNone, RedirectURIs: []string{"http://127.0.0.1/cb"}}
	}
	tests := []struct {
		name   string
		base   func() *Client
		mutate func(*Client)
		want   []string // fields in error, sorted
	}{
		{"ok/fapi2_private_key_jwt", fapi, nil, nil},
		{"ok/fapi2_jwks_uri", fapi, func(c *Client) { c.JWKS = nil; c.JWKSURI = "https://app.example/jwks" }, nil},
		{"ok/fapi2_loopback_http_redirect", fapi, func(c *Client) {
			c.RedirectURIs = []string{"http://127.0.0.1/cb", "http://[::1]:8080/cb", "http://localhost/cb"}
		}, nil},
		{"ok/fapi2_native_private_scheme", fapi, func(c *Client) { c.RedirectURIs = []string{"com.example.app:/oauth"} }, nil},
		{"ok/fapi2_id_token_PS256", fapi, func(c *Client) { c.IDTokenSignedResponseAlg = jose.PS256 }, nil},
		{"ok/fapi2_id_token_ES256", fapi, func(c *Client) { c.IDTokenSignedResponseAlg = jose.ES256 }, nil},
		{"ok/fapi2_id_token_EdDSA", fapi, func(c *Client) { c.IDTokenSignedResponseAlg = jose.EdDSA }, nil},
		{"ok/fapi2_client_credentials_only", fapi, func(c *Client) {
			c.GrantTypes = []string{oauth.GrantClientCredentials}
			c.RedirectURIs = nil
		}, nil},
		{"ok/standard_public_none", public, nil, nil},
		{"ok/standard_secret_basic", public, func(c *Client) { c.AuthMethod = oauth.AuthClientSecretBasic }, nil},
		{"ok/standard_secret_post", public, func(c *Client) { c.AuthMethod = oauth.AuthClientSecretPost }, nil},
		{"ok/default_profile_is_standard", public, func(c *Client) { c.ProfileName = "" }, nil},
		{"ok/standard_public_device_code_only", public, func(c *Client) {
			c.GrantTypes = []string{oauth.GrantDeviceCode, oauth.GrantRefreshToken}
			c.RedirectURIs = nil
		}, nil},
		{"ok/fapi2_device_code", fapi, func(c *Client) {
			c.GrantTypes = []string{oauth.GrantAuthorizationCode, oauth.GrantDeviceCode}
		}, nil},

		{"fail/fapi2_none", fapi, func(c *Client) { c.AuthMethod = oauth.AuthNone; c.JWKS = nil }, []string{"token_endpoint_auth_method"}},
		{"fail/fapi2_client_secret_basic", fapi, func(c *Client) { c.AuthMethod = oauth.AuthClientSecretBasic; c.JWKS = nil }, []string{"token_endpoint_auth_method"}},
		{"fail/fapi2_client_secret_post", fapi, func(c *Client) { c.AuthMethod = oauth.AuthClientSecretPost; c.JWKS = nil }, []string{"token_endpoint_auth_method"}},
		{"fail/fapi2_client_secret_jwt", fapi, func(c *Client) { c.AuthMethod = "client_secret_jwt" }, []string{"token_endpoint_auth_method"}},
		{"fail/auth_method_missing", fapi, func(c *Client) { c.AuthMethod = "" }, []string{"token_endpoint_auth_method"}},
		{"fail/http_redirect", fapi, func(c *Client) { c.RedirectURIs = []string{"http://app.example/cb"} }, []string{"redirect_uris[0]"}},
		{"fail/second_redirect_bad", fapi, func(c *Client) {
			c.RedirectURIs = []string{"https://app.example/cb", "https://app.example/cb#frag"}
		}, []string{"redirect_uris[1]"}},
		{"fail/redirect_empty_fragment", fapi, func(c *Client) { c.RedirectURIs = []string{"https://app.example/cb#"} }, []string{"redirect_uris[0]"}},
		{"fail/redirect_relative", fapi, func(c *Client) { c.RedirectURIs = []string{"/cb"} }, []string{"redirect_uris[0]"}},
		{"fail/redirect_javascript", fapi, func(c *Client) { c.RedirectURIs = []string{"javascript:alert(1)"} }, []string{"redirect_uris[0]"}},
		{"fail/redirect_data", fapi, func(c *Client) { c.RedirectURIs = []string{"data:text/html,hi"} }, []string{"redirect_uris[0]"}},
		{"fail/redirect_https_no_host", fapi, func(c *Client) { c.RedirectURIs = []string{"https:///cb"} }, []string{"redirect_uris[0]"}},
		{"fail/redirect_unparsable", fapi, func(c *Client) { c.RedirectURIs = []string{"https://app.example/%zz"} }, []string{"redirect_uris[0]"}},
		{"fail/redirect_missing_for_code", fapi, func(c *Client) { c.RedirectURIs = nil }, []string{"redirect_uris"}},
		{"fail/id_token_RS256", fapi, func(c *Client) { c.IDTokenSignedResponseAlg = "RS256" }, []string{"id_token_signed_response_alg"}},
		{"fail/id_token_none", fapi, func(c *Client) { c.IDTokenSignedResponseAlg = "none" }, []string{"id_token_signed_response_alg"}},
		{"fail/id_token_HS256", public, func(c *Client) { c.IDTokenSignedResponseAlg = "HS256" }, []string{"id_token_signed_response_alg"}},
		{"fail/jwks_and_jwks_uri", fapi, func(c *Client) { c.JWKSURI = "https://app.example/jwks" }, []string{"jwks"}},
		{"fail/no_keys", fapi, func(c *Client) { c.JWKS = nil }, []string{"jwks"}},
		{"fail/jwks_empty", fapi, func(c *Client) { c.JWKS = json.RawMessage(`{"keys":[]}`) }, []string{"jwks"}},
		{"fail/jwks_garbage", fapi, func(c *Client) { c.JWKS = json.RawMessage(`{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`) }, []string{"jwks"}},
		{"fail/jwks_rsa_1024", fapi, func(c *Client) { c.JWKS = json.RawMessage(rsaWeakJWKS) }, []string{"jwks"}},
		{"fail/jwks_uri_http", fapi, func(c *Client) { c.JWKS = nil; c.JWKSURI = "http://app.example/jwks" }, []string{"jwks_uri"}},
		{"fail/jwks_uri_file", fapi, func(c *Client) { c.JWKS = nil; c.JWKSURI = "file:///etc/jwks" }, []string{"jwks_uri"}},
		{"fail/client_id_missing", fapi, func(c *Client) { c.ID = "" }, []string{"client_id"}},
		{"fail/client_id_space", fapi, func(c *Client) { c.ID = "a b" }, []string{"client_id"}},
		{"fail/client_id_non_ascii", fapi, func(c *Client) { c.ID = "clïent" }, []string{"client_id"}},
		{"fail/profile_unknown", fapi, func(c *Client) { c.ProfileName = "fapi1" }, []string{"profile"}},
		{"fail/grant_password", fapi, func(c *Client) { c.GrantTypes = []string{oauth.GrantAuthorizationCode, oauth.GrantPassword} }, []string{"grant_types"}},
		{"fail/grant_implicit", public, func(c *Client) { c.GrantTypes = []string{"implicit"} }, []string{"grant_types"}},
		{"fail/standard_public_client_credentials", public, func(c *Client) {
			c.GrantTypes = []string{oauth.GrantAuthorizationCode, oauth.GrantClientCredentials}
		}, []string{"grant_types"}},
		{"fail/every_problem_reported", fapi, func(c *Client) {
			c.ID = ""
			c.AuthMethod = oauth.AuthNone
			c.JWKS = nil
			c.RedirectURIs = []string{"http://app.example/cb", "https://ok.example/cb", "ftp://x/y"}
			c.GrantTypes = []string{oauth.GrantAuthorizationCode, "implicit"}
			c.IDTokenSignedResponseAlg = "RS256"
		}, []string{"client_id", "grant_types", "id_token_signed_response_alg", "redirect_uris[0]", "redirect_uris[2]", "token_endpoint_auth_method"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.base()
			if tt.mutate != nil {
				tt.mutate(c)
			}
			errs := c.Validate()
			var got []string
			for _, e := range errs {
				if e.Field == "" || e.Message == "" {
					t.Errorf("FieldError without field or message: %+v", e)
				}
				got = append(got, e.Field)
			}
			slices.Sort(got)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("fields (-want +got):\n%s\nerrors: %v", diff, errs)
			}
			if len(errs) == 0 {
				if c.Profile() == nil || c.Profile().Name != c.ProfileName {
					t.Errorf("Profile() = %v, want %s", c.Profile(), c.ProfileName)
				}
				if c.AuthMethod == oauth.AuthPrivateKeyJWT && len(c.JWKS) > 0 && c.Keys().Len() == 0 {
					t.Error("inline JWKS not parsed")
				}
			}
		})
	}
}

// TestProfilesPolicy pins the policy table that the endpoints read.
func TestProfilesPolicy(t *testing.T) {
	f, s := Profiles[ProfileFAPI2], Profiles[ProfileStandard]
	if !cmp.Equal(f.AuthMethods, []string{oauth.AuthPrivateKeyJWT, oauth.AuthTLSClientAuth, oauth.AuthSelfSignedTLSClientAuth}) {
		t.Errorf("fapi2 auth methods = %v, want only private_key_jwt and the mTLS methods (FAPI 2.0 SP §5.3.2.1-3, -6)", f.AuthMethods)
	}
	if !f.RequireSenderConstrainedTokens || s.RequireSenderConstrainedTokens {
		t.Errorf("sender-constrained tokens required: fapi2 %v, standard %v; want true, false (FAPI 2.0 SP §5.3.2.1-4)", f.RequireSenderConstrainedTokens, s.RequireSenderConstrainedTokens)
	}
	for _, p := range []*Profile{f, s} {
		if !cmp.Equal(p.SigningAlgs, []string{jose.PS256, jose.ES256, jose.EdDSA}) {
			t.Errorf("%s signing algs = %v", p.Name, p.SigningAlgs)
		}
		if p.CodeTTL <= 0 || p.CodeTTL > 60*time.Second {
			t.Errorf("%s code TTL = %v, want (0, 60s] (FAPI 2.0 SP §5.3.2.1-11)", p.Name, p.CodeTTL)
		}
	}
	if !f.RequirePAR || !f.AssertionAudienceIssuerOnly || f.RotateRefreshTokens {
		t.Errorf("fapi2 policy = %+v", f)
	}
	if s.RequirePAR || s.AssertionAudienceIssuerOnly || !s.RotateRefreshTokens || s.RefreshReuseGrace <= 0 {
		t.Errorf("standard policy = %+v", s)
	}
	if !s.AllowsAuthMethod(oauth.AuthNone) || f.AllowsAuthMethod(oauth.AuthNone) {
		t.Error("none must be allowed for standard only")
	}
}

func TestIsLoopbackHost(t *testing.T) {
	for host, want := range map[string]bool{
		"127.0.0.1": true, "::1": true, "localhost": true, "127.1.2.3": true,
		"example.com": false, "10.0.0.1": false, "": false, "localhost.example": false, "[::1]": false,
	} {
		if got := IsLoopbackHost(host); got != want {
			t.Errorf("IsLoopbackHost(%q) = %v, want %v", host, got, want)
		}
	}
}
