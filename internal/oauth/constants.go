package oauth

// Grant types (RFC 6749 §4, RFC 8628, RFC 8693).
const (
	GrantAuthorizationCode = "authorization_code"
	GrantRefreshToken      = "refresh_token"
	GrantClientCredentials = "client_credentials"
	GrantPassword          = "password"
	// GrantDeviceCode is the device authorization grant (RFC 8628 §3.4).
	GrantDeviceCode = "urn:ietf:params:oauth:grant-type:device_code"
)

// Client authentication methods (RFC 7591 §2, OIDC Core §9, RFC 8705 §2).
const (
	AuthNone              = "none"
	AuthClientSecretBasic = "client_secret_basic"
	AuthClientSecretPost  = "client_secret_post"
	AuthPrivateKeyJWT     = "private_key_jwt"
	// AuthTLSClientAuth is PKI mutual TLS (RFC 8705 §2.1).
	AuthTLSClientAuth = "tls_client_auth"
	// AuthSelfSignedTLSClientAuth is self-signed certificate mutual TLS
	// (RFC 8705 §2.2).
	AuthSelfSignedTLSClientAuth = "self_signed_tls_client_auth"
)

// ClientAssertionTypeJWT is the client_assertion_type of RFC 7523 §2.2.
const ClientAssertionTypeJWT = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

// RequestURIPrefix is the URN prefix of PAR request_uri values (RFC 9126 §2.2).
const RequestURIPrefix = "urn:ietf:params:oauth:request_uri:"

// Token types used in responses and introspection.
const (
	TokenTypeBearer = "Bearer"
	TokenTypeDPoP   = "DPoP"
)

// Token type hints of RFC 7009 §2.1.
const (
	HintAccessToken  = "access_token"
	HintRefreshToken = "refresh_token"
)

// ScopeOpenID turns an OAuth request into an OpenID Connect one.
const ScopeOpenID = "openid"
