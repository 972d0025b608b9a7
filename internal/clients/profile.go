package clients

import (
	"slices"
	"time"

	"github.com/bulwarkauth/bulwark/internal/dpop"
	"github.com/bulwarkauth/bulwark/internal/jose"
	"github.com/bulwarkauth/bulwark/internal/oauth"
)

// Profile names.
const (
	ProfileStandard = "standard"
	ProfileFAPI2    = "fapi2"
)

// Profile is the protocol policy one class of clients follows. Endpoints
// consult these fields instead of testing the profile's name.
type Profile struct {
	// Name is "standard" or "fapi2".
	Name string
	// AuthMethods are the token_endpoint_auth_method values a client of
	// this profile may register.
	AuthMethods []string
	// RequirePAR rejects authorization requests that were not pushed
	// (FAPI 2.0 SP §5.3.2.2-3).
	RequirePAR bool
	// SigningAlgs is the allow-list for client assertions and ID tokens.
	SigningAlgs []string
	// AssertionAudienceIssuerOnly accepts only the issuer, as a plain
	// string, as a client assertion's aud (FAPI 2.0 SP §5.3.2.1-8). When
	// false the token and PAR endpoint URLs are accepted too (RFC 7523 §3,
	// RFC 9126 §2).
	AssertionAudienceIssuerOnly bool
	// CodeTTL is the authorization code lifetime; FAPI 2.0 SP §5.3.2.1-11
	// caps it at 60 s.
	CodeTTL time.Duration
	// RotateRefreshTokens issues a new refresh token on every use (RFC 9700
	// §4.14.2). FAPI 2.0 SP §5.3.2.1-9 forbids rotation.
	RotateRefreshTokens bool
	// RefreshReuseGrace is how long a rotated refresh token stays usable, so
	// a client that lost the response can retry.
	RefreshReuseGrace time.Duration
	// RequireSenderConstrainedTokens refuses to issue bearer access tokens
	// (FAPI 2.0 SP §5.3.2.1-4): without a DPoP proof or client certificate
	// the token request fails.
	RequireSenderConstrainedTokens bool
	// DPoPNonce is the default server-nonce policy for DPoP proofs of the
	// profile's clients (RFC 9449 §8); a client may override it.
	DPoPNonce dpop.NoncePolicy
}

// Profiles is the built-in policy table.
var Profiles = map[string]*Profile{
	ProfileStandard: {
		Name:                        ProfileStandard,
		AuthMethods:                 []string{oauth.AuthNone, oauth.AuthClientSecretBasic, oauth.AuthClientSecretPost, oauth.AuthPrivateKeyJWT, oauth.AuthTLSClientAuth, oauth.AuthSelfSignedTLSClientAuth},
		RequirePAR:                  false,
		SigningAlgs:                 jose.FAPIAlgorithms,
		AssertionAudienceIssuerOnly: false,
		CodeTTL:                     60 * time.Second,
		RotateRefreshTokens:         true,
		RefreshReuseGrace:           10 * time.Second,
		DPoPNonce:                   dpop.NonceOptional,
	},
	ProfileFAPI2: {
		Name:                           ProfileFAPI2,
		AuthMethods:                    []string{oauth.AuthPrivateKeyJWT, oauth.AuthTLSClientAuth, oauth.AuthSelfSignedTLSClientAuth},
		RequirePAR:                     true,
		SigningAlgs:                    jose.FAPIAlgorithms,
		AssertionAudienceIssuerOnly:    true,
		CodeTTL:                        60 * time.Second,
		RotateRefreshTokens:            false,
		RequireSenderConstrainedTokens: true,
		DPoPNonce:                      dpop.NonceOptional,
	},
}

// AllowsAuthMethod reports whether the profile permits method.
func (p *Profile) AllowsAuthMethod(method string) bool {
	return slices.Contains(p.AuthMethods, method)
}
