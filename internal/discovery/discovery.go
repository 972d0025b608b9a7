package discovery

import (
	"encoding/json"
	"net/http"
	"slices"

	"github.com/bulwarkauth/bulwark/internal/jose"
	"github.com/bulwarkauth/bulwark/internal/oauth"
)

// Paths of the endpoints below the issuer.
const (
	PathPAR        = "/par"
	PathAuthorize  = "/authorize"
	PathToken      = "/token"
	PathUserinfo   = "/userinfo"
	PathIntrospect = "/introspect"
	PathRevoke     = "/revoke"
	PathJWKS       = "/jwks"
	PathLogin      = "/login"
	PathConsent    = "/consent"
	// PathDeviceAuthorization is the device authorization endpoint and
	// PathDevice the user-code page, its verification_uri (RFC 8628 §3).
	PathDeviceAuthorization = "/device_authorization"
	PathDevice              = "/device"
)

// Options are what the metadata depends on besides the fixed endpoint
// paths.
type Options struct {
	// Issuer is the issuer identifier; every endpoint lies below it.
	Issuer string
	// Scopes are advertised as scopes_supported.
	Scopes []string
	// SigningAlgs are the algorithms ID tokens can be signed with.
	SigningAlgs []string
	// DPoPAlgs are the accepted DPoP proof algorithms; empty means DPoP is
	// not offered.
	DPoPAlgs []string
	// Certificates reports whether client certificates can reach the
	// server (TLS, or a trusted proxy's header); only then are the mTLS
	// methods and certificate-bound tokens advertised.
	Certificates bool
	// MTLSBaseURL is the base URL of the dedicated mTLS listener; when set,
	// mtls_endpoint_aliases point the token, PAR, userinfo, introspection
	// and revocation endpoints there (RFC 8705 §5).
	MTLSBaseURL string
}

// Metadata returns the server metadata for o.
func Metadata(o Options) *oauth.ServerMetadata {
	issuer, scopes, signingAlgs := o.Issuer, o.Scopes, o.SigningAlgs
	authMethods := []string{oauth.AuthPrivateKeyJWT, oauth.AuthClientSecretBasic, oauth.AuthClientSecretPost}
	if o.Certificates {
		authMethods = append(authMethods, oauth.AuthTLSClientAuth, oauth.AuthSelfSignedTLSClientAuth)
	}
	confidential := slices.Clone(authMethods)
	authMethods = append(authMethods, oauth.AuthNone)
	var aliases *oauth.MTLSEndpointAliases
	if b := o.MTLSBaseURL; b != "" {
		aliases = &oauth.MTLSEndpointAliases{
			TokenEndpoint: b + PathToken, PushedAuthorizationRequestEndpoint: b + PathPAR,
			UserinfoEndpoint: b + PathUserinfo, IntrospectionEndpoint: b + PathIntrospect, RevocationEndpoint: b + PathRevoke,
		}
	}
	return &oauth.ServerMetadata{
		DPoPSigningAlgValuesSupported:         o.DPoPAlgs,
		TLSClientCertificateBoundAccessTokens: o.Certificates,
		MTLSEndpointAliases:                   aliases,
		Issuer:                                issuer,
		AuthorizationEndpoint:                 issuer + PathAuthorize,
		TokenEndpoint:                         issuer + PathToken,
		JWKSURI:                               issuer + PathJWKS,
		UserinfoEndpoint:                      issuer + PathUserinfo,
		PushedAuthorizationRequestEndpoint:    issuer + PathPAR,
		// PAR is required per client (fapi2 profile), not server-wide;
		// RFC 9126 §5 lets the client metadata carry it.
		RequirePushedAuthorizationRequests:         false,
		IntrospectionEndpoint:                      issuer + PathIntrospect,
		RevocationEndpoint:                         issuer + PathRevoke,
		DeviceAuthorizationEndpoint:                issuer + PathDeviceAuthorization,
		ScopesSupported:                            scopes,
		ResponseTypesSupported:                     []string{"code"},
		ResponseModesSupported:                     []string{"query"},
		GrantTypesSupported:                        []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken, oauth.GrantClientCredentials, oauth.GrantDeviceCode},
		SubjectTypesSupported:                      []string{"public"},
		IDTokenSigningAlgValuesSupported:           signingAlgs,
		TokenEndpointAuthMethodsSupported:          authMethods,
		TokenEndpointAuthSigningAlgValuesSupported: jose.FAPIAlgorithms,
		IntrospectionEndpointAuthMethodsSupported:  confidential,
		RevocationEndpointAuthMethodsSupported:     authMethods,
		CodeChallengeMethodsSupported:              []string{"S256"},
		ClaimsSupported:                            []string{"sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "name", "email", "email_verified", "preferred_username"},
		AuthorizationResponseISSParameterSupported: true,
	}
}

// Handler serves a precomputed JSON document.
func Handler(doc any) (http.Handler, error) {
	b, err := json.MarshalIndent(doc, "", "  ")
	if err != nil {
		return nil, err
	}
	b = append(b, '\n')
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Cache-Control", "public, max-age=300")
		w.Write(b)
	}), nil
}

// JWKSHandler serves the public key set. JWKS responses are cacheable for a
// short time only, so a new key is picked up soon after it is published.
func JWKSHandler(keys *jose.KeySet) (http.Handler, error) {
	b, err := keys.MarshalJSON()
	if err != nil {
		return nil, err
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Type", "application/jwk-set+json")
		h.Set("Cache-Control", "public, max-age=300")
		w.Write(b)
	}), nil
}
