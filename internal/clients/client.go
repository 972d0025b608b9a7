package clients

import (
	"encoding/json"
	"fmt"
	"net"
	"net/url"
	"slices"
	"strings"

	"github.com/bulwarkauth/bulwark/internal/dpop"
	"github.com/bulwarkauth/bulwark/internal/jose"
	"github.com/bulwarkauth/bulwark/internal/mtls"
	"github.com/bulwarkauth/bulwark/internal/oauth"
)

// Client is a registered client's metadata (RFC 7591 §2 names).
// It is immutable once loaded and safe to share between goroutines.
type Client struct {
	ID                       string          `json:"client_id"`
	Name                     string          `json:"client_name,omitempty"`
	ProfileName              string          `json:"profile"`
	AuthMethod               string          `json:"token_endpoint_auth_method"`
	RedirectURIs             []string        `json:"redirect_uris,omitempty"`
	GrantTypes               []string        `json:"grant_types,omitempty"`
	Scopes                   oauth.Scopes    `json:"scopes,omitempty"`
	JWKS                     json.RawMessage `json:"jwks,omitempty"`
	JWKSURI                  string          `json:"jwks_uri,omitempty"`
	IDTokenSignedResponseAlg string          `json:"id_token_signed_response_alg,omitempty"`
	// Audience is the default aud of the client's access tokens; empty
	// means the issuer.
	Audience []string `json:"access_token_audience,omitempty"`

	// The tls_client_auth registration (RFC 8705 §2.1.2): exactly one is
	// set for that method, none otherwise.
	TLSClientAuthSubjectDN string `json:"tls_client_auth_subject_dn,omitempty"`
	TLSClientAuthSANDNS    string `json:"tls_client_auth_san_dns,omitempty"`
	TLSClientAuthSANURI    string `json:"tls_client_auth_san_uri,omitempty"`
	TLSClientAuthSANIP     string `json:"tls_client_auth_san_ip,omitempty"`
	TLSClientAuthSANEmail  string `json:"tls_client_auth_san_email,omitempty"`
	// TLSClientCertificateBoundAccessTokens binds the client's access
	// tokens to its TLS client certificate (RFC 8705 §3.4) when it sends
	// no DPoP proof.
	TLSClientCertificateBoundAccessTokens bool `json:"tls_client_certificate_bound_access_tokens,omitempty"`
	// DPoPBoundAccessTokens means the client always uses DPoP: token
	// requests without a proof are refused (RFC 9449 §5.2).
	DPoPBoundAccessTokens bool `json:"dpop_bound_access_tokens,omitempty"`
	// DPoPNonce overrides the profile's server-nonce policy for this
	// client: "off", "optional" or "required"; empty keeps the profile's.
	DPoPNonce string `json:"dpop_nonce,omitempty"`

	profile    *Profile
	keys       *jose.KeySet
	secretHash string
}

// Profile returns the client's policy. It is never nil for a client that
// passed Validate.
func (c *Client) Profile() *Profile { return c.profile }

// Public reports whether the client has no credentials of its own.
func (c *Client) Public() bool { return c.AuthMethod == oauth.AuthNone }

// AllowsGrant reports whether the client registered grantType.
func (c *Client) AllowsGrant(grantType string) bool { return slices.Contains(c.GrantTypes, grantType) }

// Keys returns the client's inline JWKS, nil when it uses jwks_uri.
func (c *Client) Keys() *jose.KeySet { return c.keys }

// UsesMTLS reports whether the client authenticates with its TLS client
// certificate (RFC 8705 §2).
func (c *Client) UsesMTLS() bool {
	return c.AuthMethod == oauth.AuthTLSClientAuth || c.AuthMethod == oauth.AuthSelfSignedTLSClientAuth
}

// tlsSubject is the client's tls_client_auth registration.
func (c *Client) tlsSubject() mtls.Subject {
	return mtls.Subject{
		DN: c.TLSClientAuthSubjectDN, DNS: c.TLSClientAuthSANDNS, URI: c.TLSClientAuthSANURI,
		IP: c.TLSClientAuthSANIP, Email: c.TLSClientAuthSANEmail,
	}
}

// DPoPNoncePolicy is the server-nonce policy for the client's DPoP proofs
// (RFC 9449 §8): the client's own setting, else its profile's.
func (c *Client) DPoPNoncePolicy() dpop.NoncePolicy {
	if p, ok := noncePolicies[c.DPoPNonce]; ok && c.DPoPNonce != "" {
		return p
	}
	return c.profile.DPoPNonce
}

// noncePolicies maps the dpop_nonce metadata values to policies.
var noncePolicies = map[string]dpop.NoncePolicy{
	"off": dpop.NonceOff, "optional": dpop.NonceOptional, "required": dpop.NonceRequired,
}

// IDTokenAlg is the algorithm the client's ID tokens are signed with.
func (c *Client) IDTokenAlg() string {
	if c.IDTokenSignedResponseAlg != "" {
		return c.IDTokenSignedResponseAlg
	}
	return jose.ES256
}

// FieldError is one configuration or registration problem, naming the field.
type FieldError struct {
	Field   string
	Message string
}

func (e FieldError) Error() string { return e.Field + ": " + e.Message }

// Validate checks the metadata against the client's profile and fills in
// the derived fields (profile, parsed keys). It reports every problem, each
// naming its field, and does not stop at the first.
func (c *Client) Validate() []FieldError {
	var errs []FieldError
	add := func(f, format string, a ...any) { errs = append(errs, FieldError{f, fmt.Sprintf(format, a...)}) }
	if c.ID == "" {
		add("client_id", "is required")
	} else if len(c.ID) > 255 || strings.ContainsFunc(c.ID, func(r rune) bool { return r < 0x21 || r > 0x7e }) {
		add("client_id", "must be 1-255 printable ASCII characters")
	}
	if c.ProfileName == "" {
		c.ProfileName = ProfileStandard
	}
	p, ok := Profiles[c.ProfileName]
	if !ok {
		add("profile", "must be %q or %q", ProfileStandard, ProfileFAPI2)
		p = Profiles[ProfileStandard]
	}
	c.profile = p
	if c.AuthMethod == "" {
		add("token_endpoint_auth_method", "is required")
	} else if !p.AllowsAuthMethod(c.AuthMethod) {
		add("token_endpoint_auth_method", "%q is not allowed for profile %s (allowed: %s)", c.AuthMethod, p.Name, strings.Join(p.AuthMethods, ", "))
	}
	if len(c.GrantTypes) == 0 {
		c.GrantTypes = []string{oauth.GrantAuthorizationCode}
	}
	for _, g := range c.GrantTypes {
		switch g {
		case oauth.GrantAuthorizationCode, oauth.GrantRefreshToken:
		case oauth.GrantDeviceCode:
			// RFC 8628 for public and confidential clients alike; FAPI 2.0
			// does not cover it, so a fapi2 client gets it only by
			// registering it, and keeps its profile's authentication and
			// sender-constraint rules.
		case oauth.GrantClientCredentials:
			if c.Public() {
				add("grant_types", "client_credentials needs a confidential client")
			}
		default:
			add("grant_types", "%q is not supported", g)
		}
	}
	if c.AllowsGrant(oauth.GrantAuthorizationCode) && len(c.RedirectURIs) == 0 {
		add("redirect_uris", "at least one is required for authorization_code")
	}
	for i, u := range c.RedirectURIs {
		if msg := checkRedirectURI(u); msg != "" {
			add(fmt.Sprintf("redirect_uris[%d]", i), "%s", msg)
		}
	}
	if c.AuthMethod == oauth.AuthPrivateKeyJWT || c.AuthMethod == oauth.AuthSelfSignedTLSClientAuth {
		switch {
		case len(c.JWKS) > 0 && c.JWKSURI != "":
			add("jwks", "set either jwks or jwks_uri, not both")
		case len(c.JWKS) > 0:
			ks, err := jose.ParseKeySet(c.JWKS)
			if err != nil {
				add("jwks", "%v", err)
			} else if ks.Len() == 0 {
				add("jwks", "has no keys")
			}
			c.keys = ks
		case c.JWKSURI != "":
			if u, err := url.Parse(c.JWKSURI); err != nil || (u.Scheme != "https" && !(u.Scheme == "http" && isLoopback(u.Hostname()))) {
				add("jwks_uri", "must be an https URL")
			}
		default:
			add("jwks", "%s needs jwks or jwks_uri", c.AuthMethod)
		}
	}
	if c.AuthMethod == oauth.AuthSelfSignedTLSClientAuth && c.keys != nil && !hasCertificate(c.keys) {
		add("jwks", "self_signed_tls_client_auth needs a key with an x5c certificate")
	}
	sub := c.tlsSubject()
	if c.AuthMethod == oauth.AuthTLSClientAuth {
		if err := sub.Validate(); err != nil {
			add("tls_client_auth_subject_dn", "%v", err)
		}
	} else if sub != (mtls.Subject{}) {
		add("tls_client_auth_subject_dn", "the tls_client_auth_* keys apply only to tls_client_auth")
	}
	if _, ok := noncePolicies[c.DPoPNonce]; c.DPoPNonce != "" && !ok {
		add("dpop_nonce", "must be off, optional or required")
	}
	if c.IDTokenSignedResponseAlg != "" && !slices.Contains(p.SigningAlgs, c.IDTokenSignedResponseAlg) {
		add("id_token_signed_response_alg", "must be one of %s", strings.Join(p.SigningAlgs, ", "))
	}
	return errs
}

func hasCertificate(ks *jose.KeySet) bool {
	for _, k := range ks.Keys() {
		if len(k.CertificateThumbprints()) > 0 {
			return true
		}
	}
	return false
}

// checkRedirectURI applies RFC 9700 §2.1 and FAPI 2.0 SP §5.3.2.2-8: an
// absolute URI without fragment; http only for loopback (RFC 8252 §7.3);
// custom schemes allowed for native apps (RFC 8252 §7.1).
func checkRedirectURI(s string) string {
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() {
		return "must be an absolute URI"
	}
	if u.Fragment != "" || strings.Contains(s, "#") {
		return "must not contain a fragment"
	}
	switch u.Scheme {
	case "https":
		if u.Host == "" {
			return "https URI needs a host"
		}
	case "http":
		if !isLoopback(u.Hostname()) {
			return "http is allowed only for loopback addresses"
		}
	default:
		// Private-use schemes of native apps must contain a period
		// (RFC 8252 §7.1), which keeps javascript: and data: out.
		if !strings.Contains(u.Scheme, ".") {
			return "scheme must be https, loopback http, or a reverse-DNS private-use scheme"
		}
	}
	return ""
}

// isLoopback reports whether host is a loopback IP literal or "localhost".
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// IsLoopbackHost reports whether host names the loopback interface.
func IsLoopbackHost(host string) bool { return isLoopback(host) }
