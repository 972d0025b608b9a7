package oauth_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bulwarkauth/bulwark/internal/oauth"
)

// jsonEqual compares two JSON documents by value.
func jsonEqual(t *testing.T, got []byte, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal(got, &g); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad expectation: %v", err)
	}
	if diff := cmp.Diff(w, g); diff != "" {
		t.Errorf("JSON (-want +got):\n%s", diff)
	}
}

// TestMetadataJSON pins the member names of RFC 8414 §2, OIDC Discovery
// §3, RFC 9126 §5 and RFC 9207 §3, and which members are always present:
// the booleans a FAPI client checks (require_pushed_authorization_requests,
// authorization_response_iss_parameter_supported) must appear even when
// false, and empty optional members must not appear at all.
func TestMetadataJSON(t *testing.T) {
	tests := []struct {
		name string
		in   any
		want string
	}{
		{"server_metadata_full", oauth.ServerMetadata{
			Issuer:                                     "https://as.example",
			AuthorizationEndpoint:                      "https://as.example/authorize",
			TokenEndpoint:                              "https://as.example/token",
			JWKSURI:                                    "https://as.example/jwks",
			UserinfoEndpoint:                           "https://as.example/userinfo",
			RegistrationEndpoint:                       "https://as.example/register",
			PushedAuthorizationRequestEndpoint:         "https://as.example/par",
			RequirePushedAuthorizationRequests:         true,
			IntrospectionEndpoint:                      "https://as.example/introspect",
			RevocationEndpoint:                         "https://as.example/revoke",
			DeviceAuthorizationEndpoint:                "https://as.example/device_authorization",
			ScopesSupported:                            []string{"openid"},
			ResponseTypesSupported:                     []string{"code"},
			ResponseModesSupported:                     []string{"query"},
			GrantTypesSupported:                        []string{oauth.GrantAuthorizationCode},
			SubjectTypesSupported:                      []string{"public"},
			IDTokenSigningAlgValuesSupported:           []string{"PS256"},
			TokenEndpointAuthMethodsSupported:          []string{oauth.AuthPrivateKeyJWT},
			TokenEndpointAuthSigningAlgValuesSupported: []string{"ES256"},
			IntrospectionEndpointAuthMethodsSupported:  []string{oauth.AuthPrivateKeyJWT},
			RevocationEndpointAuthMethodsSupported:     []string{oauth.AuthPrivateKeyJWT},
			CodeChallengeMethodsSupported:              []string{"S256"},
			ClaimsSupported:                            []string{"sub"},
			AuthorizationResponseISSParameterSupported: true,
			DPoPSigningAlgValuesSupported:              []string{"EdDSA"},
			TLSClientCertificateBoundAccessTokens:      true,
		}, `{
			"issuer": "https://as.example",
			"authorization_endpoint": "https://as.example/authorize",
			"token_endpoint": "https://as.example/token",
			"jwks_uri": "https://as.example/jwks",
			"userinfo_endpoint": "https://as.example/userinfo",
			"registration_endpoint": "https://as.example/register",
			"pushed_authorization_request_endpoint": "https://as.example/par",
			"require_pushed_authorization_requests": true,
			"introspection_endpoint": "https://as.example/introspect",
			"revocation_endpoint": "https://as.example/revoke",
			"device_authorization_endpoint": "https://as.example/device_authorization",
			"scopes_supported": ["openid"],
			"response_types_supported": ["code"],
			"response_modes_supported": ["query"],
			"grant_types_supported": ["authorization_code"],
			"subject_types_supported": ["public"],
			"id_token_signing_alg_values_supported": ["PS256"],
			"token_endpoint_auth_methods_supported": ["private_key_jwt"],
			"token_endpoint_auth_signing_alg_values_supported": ["ES256"],
			"introspection_endpoint_auth_methods_supported": ["private_key_jwt"],
			"revocation_endpoint_auth_methods_supported": ["private_key_jwt"],
			"code_challenge_methods_supported": ["S256"],
			"claims_supported": ["sub"],
			"authorization_response_iss_parameter_supported": true,
			"dpop_signing_alg_values_supported": ["EdDSA"],
			"tls_client_certificate_bound_access_tokens": true
		}`},
		{"server_metadata_minimal", oauth.ServerMetadata{Issuer: "https://as.example", ResponseTypesSupported: []string{"code"}}, `{
			"issuer": "https://as.example",
			"require_pushed_authorization_requests": false,
			"response_types_supported": ["code"],
			"authorization_response_iss_parameter_supported": false
		}`},
		{"token_response_full", oauth.TokenResponse{AccessToken: "at", TokenType: oauth.TokenTypeDPoP, ExpiresIn: 300, RefreshToken: "rt", Scope: "openid", IDToken: "idt"}, `{
			"access_token": "at", "token_type": "DPoP", "expires_in": 300,
			"refresh_token": "rt", "scope": "openid", "id_token": "idt"
		}`},
		{"token_response_minimal", oauth.TokenResponse{AccessToken: "at", TokenType: oauth.TokenTypeBearer, ExpiresIn: 60}, `{
			"access_token": "at", "token_type": "Bearer", "expires_in": 60
		}`},
		// CodeData is stored as JSON: its member names are a storage
		// format that outlives a release.
		{"code_data", oauth.CodeData{
			RedirectURI: "https://app.example/cb", CodeChallenge: "c", Subject: "alice",
			AuthTime: time.Unix(1_700_000_000, 0).UTC(), Scopes: oauth.Scopes{"openid"},
			Nonce: "n", DPoPJKT: "j", Resource: []string{"https://api.example"},
		}, `{
			"redirect_uri": "https://app.example/cb", "code_challenge": "c", "sub": "alice",
			"auth_time": "2023-11-14T22:13:20Z", "scope": ["openid"], "nonce": "n",
			"dpop_jkt": "j", "resource": ["https://api.example"]
		}`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b, err := json.Marshal(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			jsonEqual(t, b, tc.want)
		})
	}
}

// TestCodeDataRoundTrip: what the authorization endpoint stores is what
// the token endpoint reads back.
func TestCodeDataRoundTrip(t *testing.T) {
	in := oauth.CodeData{
		RedirectURI: "https://app.example/cb", CodeChallenge: "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
		Subject: "alice", AuthTime: time.Unix(1_700_000_000, 0).UTC(), Scopes: oauth.NewScopes("openid", "email"),
	}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	var out oauth.CodeData
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(in, out); diff != "" {
		t.Errorf("(-in +out):\n%s", diff)
	}
}
