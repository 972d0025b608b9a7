package gateway

import (
	"net/netip"
	"time"

	"github.com/bulwarkauth/bulwark/resource"
)

// Config is everything the gateway role needs, already typed and validated
// by package config. Zero values mean the documented safe default; only
// BaseURL, Issuer and Routes are required.
type Config struct {
	// Listen is the TCP address API requests arrive on.
	Listen string
	// AdminListen, when set, serves /healthz, /readyz and /metrics on a
	// separate address; empty serves them on Listen, ahead of the routes.
	AdminListen string
	// BaseURL is the external URL clients call, without a trailing '/'.
	// DPoP proofs are checked against BaseURL + the request path; the
	// request's Host and X-Forwarded-* headers are never consulted
	// (FAPI 2.0 checklist G-6).
	BaseURL string
	// TLSCertFile and TLSKeyFile enable TLS on Listen; both or neither.
	// The handshake requests, never requires, a client certificate.
	TLSCertFile, TLSKeyFile string

	// Issuer is the authorization server whose tokens are accepted.
	Issuer string
	// IssuerCAFile, when set, is the PEM bundle the issuer's TLS
	// certificate must chain to instead of the system roots.
	IssuerCAFile string
	// Audiences are accepted on routes without their own; empty means
	// Metadata.Resource.
	Audiences []string
	// RequireDPoP refuses certificate-bound tokens on every route.
	RequireDPoP bool
	// Leeway is the clock skew tolerated on exp, nbf and iat; zero means
	// resource.DefaultLeeway.
	Leeway time.Duration
	// DPoPNonce is the resource-server nonce policy; NonceSecret keys the
	// nonces and, empty while nonces are on, is random per process.
	DPoPNonce   resource.NoncePolicy
	NonceSecret []byte

	// Introspection, when non-nil, checks every token at the issuer's
	// introspection endpoint, so revoked tokens stop within its CacheTTL.
	Introspection *Introspection

	// CertHeader names the header a TLS-terminating proxy forwards the
	// client certificate in; it is believed only from TrustedProxies and
	// removed from every other request, and never forwarded upstream.
	// Empty reads certificates from the TLS connection only.
	CertHeader     string
	TrustedProxies []netip.Prefix

	// Metadata is the gateway's RFC 9728 protected resource metadata.
	Metadata Metadata
	// Routes are matched by the longest PathPrefix, then Methods.
	Routes []Route

	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Introspection is the gateway's client at the issuer's RFC 7662
// endpoint. Exactly one of ClientSecret and PrivateKeyFile is set.
type Introspection struct {
	ClientID string
	// ClientSecret authenticates with client_secret_basic.
	ClientSecret string
	// PrivateKeyFile holds a PEM private key (PKCS #8, SEC 1 or PKCS #1)
	// for private_key_jwt; KeyID is its kid, sent when set.
	PrivateKeyFile, KeyID string
	// SignedResponse requires RFC 9701 signed introspection responses.
	SignedResponse bool
	// CacheTTL bounds how long an answer is reused, and so how long a
	// revoked token may still pass. Zero asks on every request.
	CacheTTL time.Duration
}

// Metadata is the RFC 9728 §2 protected resource metadata of the gateway.
type Metadata struct {
	// Resource is the resource identifier; empty means BaseURL.
	Resource string
	// ScopesSupported, empty, lists every route's scopes.
	ScopesSupported []string
	// Documentation is resource_documentation; Name is resource_name.
	Documentation, Name string
}

// Route is one path prefix and the upstream it is proxied to.
type Route struct {
	// Name labels the route in metrics, logs and the policy input; empty
	// means PathPrefix.
	Name string
	// PathPrefix selects requests: "/a" takes /a and /a/…, not /ab.
	PathPrefix string
	// Methods are the upper-case methods taken; empty takes every method.
	Methods []string
	// Upstream is the http(s) URL requests go to; its path is prepended
	// to the request path (after StripPrefix).
	Upstream string
	// UpstreamCAFile, when set, is the PEM bundle the upstream's
	// certificate must chain to instead of the system roots.
	UpstreamCAFile string
	// StripPrefix removes PathPrefix from the forwarded path.
	StripPrefix bool
	// Resource, when set, makes the route a protected resource of its own
	// with its own metadata document; empty means Metadata.Resource.
	Resource string
	// Scopes must all be granted to the token (403 insufficient_scope).
	Scopes []string
	// Audiences: the token's aud must hold one (403); empty means
	// Resource when set, else Config.Audiences.
	Audiences []string
	// AllowBearer also accepts unbound tokens; FAPI 2.0 forbids it.
	AllowBearer bool
	// Policy is a Rego file whose allow rule must be true (403
	// access_denied otherwise); empty means none. PolicyHeaders are the
	// request headers the policy sees.
	Policy        string
	PolicyHeaders []string
	// Forward names the identity headers set for the upstream.
	Forward ForwardHeaders
	// ForwardAuthorization passes Authorization and DPoP upstream; false,
	// the default, removes them.
	ForwardAuthorization bool
	// ConnectTimeout bounds connecting to the upstream; zero means 5 s.
	ConnectTimeout time.Duration
	// Timeout bounds the whole upstream exchange, bodies included; zero
	// means 60 s.
	Timeout time.Duration
}

// ForwardHeaders names the upstream request headers that carry the
// verified identity. An empty name forwards nothing for that value.
type ForwardHeaders struct {
	Subject, ClientID, Scopes, JKT, X5T string
}

// DefaultForwardHeaders returns the identity headers package config uses
// for a route that names none. Every inbound header starting with
// X-Bulwark- is removed before a request is proxied, whatever the routes
// forward, so these names can never be spoofed.
func DefaultForwardHeaders() ForwardHeaders {
	return ForwardHeaders{
		Subject:  "X-Bulwark-Subject",
		ClientID: "X-Bulwark-Client-Id",
		Scopes:   "X-Bulwark-Scopes",
		JKT:      "X-Bulwark-Jkt",
		X5T:      "X-Bulwark-X5t",
	}
}

// Defaults of zero Route timeouts.
const (
	DefaultConnectTimeout = 5 * time.Second
	DefaultTimeout        = 60 * time.Second
)
