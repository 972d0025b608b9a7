package config

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/bulwarkauth/bulwark/internal/clients"
	"github.com/bulwarkauth/bulwark/internal/gateway"
	"github.com/bulwarkauth/bulwark/resource"
)

var _ entryDecoder = (*Route)(nil)

// decodeEntry decodes one gateway.routes[] entry like any section: every
// key is a yaml-tagged field of Route, so a route field added there is
// loadable without code here.
func (r *Route) decodeEntry(d *decoder, n *yaml.Node, path string) {
	d.section(n, reflect.ValueOf(r).Elem(), path)
}

// forwardOff in a forward_headers value forwards nothing for that value.
const forwardOff = "-"

// Bounds of the gateway section.
const (
	maxIntrospectionCacheTTL = 5 * time.Minute
	// wellKnownResource is RFC 9728 §3's well-known URI suffix; routes
	// cannot take it over.
	wellKnownResource = "/.well-known/oauth-protected-resource"
)

// gatewaySet reports whether the configuration uses the gateway section:
// a key below gateway was set in the file or the environment, or the
// essential keys hold values. Only then does Validate check it, so a file
// for `bulwark serve` alone need not mention it.
func (f *File) gatewaySet() bool {
	if f.Gateway.BaseURL != "" || len(f.Gateway.Routes) > 0 {
		return true
	}
	for k := range f.origin {
		if k == "gateway" || strings.HasPrefix(k, "gateway.") {
			return true
		}
	}
	return false
}

// GatewayConfig validates f and returns the gateway role's typed
// configuration, like AuthServer: an invalid File is refused with
// Validate's Problems, and a File without a gateway section with the
// problems of its required keys. The result shares nothing with f.
func (f *File) GatewayConfig() (gateway.Config, error) {
	var ps Problems
	if err := f.Validate(); err != nil && !errors.As(err, &ps) {
		return gateway.Config{}, err
	}
	if !f.gatewaySet() {
		ps = append(ps,
			Problem{Key: "gateway.base_url", Message: "required to run the gateway"},
			Problem{Key: "gateway.routes", Message: "required to run the gateway: at least one route"})
	}
	if err := ps.err(); err != nil {
		return gateway.Config{}, err
	}
	g := f.Gateway
	cfg := gateway.Config{
		Listen:       g.Listen,
		AdminListen:  g.AdminListen,
		BaseURL:      g.BaseURL,
		TLSCertFile:  g.TLS.CertFile,
		TLSKeyFile:   g.TLS.KeyFile,
		Issuer:       f.gatewayIssuer(),
		IssuerCAFile: g.IssuerCAFile,
		Audiences:    slices.Clone(g.Audiences),
		RequireDPoP:  g.SenderConstraint == "dpop",
		Leeway:       g.Leeway,
		DPoPNonce:    noncePolicies[g.DPoP.Nonce],
		CertHeader:   g.MTLS.ProxyHeader,
		Metadata: gateway.Metadata{
			Resource:        g.ResourceMetadata.Resource,
			ScopesSupported: slices.Clone(g.ResourceMetadata.ScopesSupported),
			Documentation:   g.ResourceMetadata.Documentation,
			Name:            g.ResourceMetadata.Name,
		},
	}
	if g.DPoP.NonceSecret != "" {
		cfg.NonceSecret = []byte(g.DPoP.NonceSecret)
	}
	cfg.TrustedProxies, _ = parsePrefixes(g.MTLS.TrustedProxies)
	if in := g.Introspection; in.ClientID != "" {
		cfg.Introspection = &gateway.Introspection{
			ClientID: in.ClientID, ClientSecret: in.ClientSecret, PrivateKeyFile: in.PrivateKeyFile, KeyID: in.KeyID,
			SignedResponse: in.SignedResponse, CacheTTL: in.CacheTTL,
		}
	}
	def := gateway.DefaultForwardHeaders()
	for _, r := range g.Routes {
		cfg.Routes = append(cfg.Routes, gateway.Route{
			Name:           r.Name,
			PathPrefix:     r.PathPrefix,
			Methods:        slices.Clone(r.Methods),
			Upstream:       r.Upstream,
			UpstreamCAFile: r.UpstreamCAFile,
			StripPrefix:    r.StripPrefix,
			Resource:       r.Resource,
			Scopes:         slices.Clone(r.Scopes),
			Audiences:      slices.Clone(r.Audiences),
			AllowBearer:    r.AllowBearer,
			Policy:         r.Policy,
			PolicyHeaders:  slices.Clone(r.PolicyHeaders),
			Forward: gateway.ForwardHeaders{
				Subject:  forwardName(r.ForwardHeaders.Subject, def.Subject),
				ClientID: forwardName(r.ForwardHeaders.ClientID, def.ClientID),
				Scopes:   forwardName(r.ForwardHeaders.Scopes, def.Scopes),
				JKT:      forwardName(r.ForwardHeaders.JKT, def.JKT),
				X5T:      forwardName(r.ForwardHeaders.X5T, def.X5T),
			},
			ForwardAuthorization: r.ForwardAuthorization,
			ConnectTimeout:       r.ConnectTimeout,
			Timeout:              r.Timeout,
		})
	}
	return cfg, nil
}

var noncePolicies = map[string]resource.NoncePolicy{
	NonceOff:      resource.NonceOff,
	NonceOptional: resource.NonceOptional,
	NonceRequired: resource.NonceRequired,
}

func forwardName(configured, def string) string {
	switch configured {
	case "":
		return def
	case forwardOff:
		return ""
	}
	return http.CanonicalHeaderKey(configured)
}

// gatewayIssuer is gateway.issuer, or the top-level issuer when unset.
func (f *File) gatewayIssuer() string {
	if f.Gateway.Issuer != "" {
		return f.Gateway.Issuer
	}
	return f.Issuer
}

// gateway checks the gateway section, when it is in use.
func (v *validator) gateway() {
	if !v.f.gatewaySet() {
		return
	}
	g := v.f.Gateway
	v.hostPort("gateway.listen", g.Listen, true)
	v.hostPort("gateway.admin_listen", g.AdminListen, false)
	if g.AdminListen != "" && g.AdminListen == g.Listen {
		v.add("gateway.admin_listen", "must differ from gateway.listen (leave it empty to serve the admin endpoints there)")
	}
	base, baseOK := v.publicURL("gateway.base_url", g.BaseURL, true)
	if baseOK && g.TLS.CertFile != "" && base.Scheme != "https" {
		v.add("gateway.base_url", "must use https when gateway.tls is configured")
	}
	if (g.TLS.CertFile == "") != (g.TLS.KeyFile == "") {
		v.add("gateway.tls", "cert_file and key_file must be set together")
	}
	if g.Issuer != "" {
		if u, ok := v.publicURL("gateway.issuer", g.Issuer, false); ok && strings.HasSuffix(u.Path, "/") {
			v.add("gateway.issuer", "must not end with '/'")
		}
	}
	for i, a := range g.Audiences {
		if strings.TrimSpace(a) == "" {
			v.add(fmt.Sprintf("gateway.audiences[%d]", i), "must not be empty")
		}
	}
	if g.SenderConstraint != "any" && g.SenderConstraint != "dpop" {
		v.add("gateway.sender_constraint", "must be any or dpop")
	}
	// FAPI 2.0 SP §5.3.2.1-13, as for tokens.clock_skew: accept iat up
	// to 10 s in the future, reject beyond 60 s
	// (https://openid.net/specs/fapi-security-profile-2_0-final.html#section-5.3.2.1).
	if g.Leeway < 10*time.Second || g.Leeway > 60*time.Second {
		v.add("gateway.leeway", "must be between 10s and 60s")
	}
	if g.ReplayStore != ReplayMemory && g.ReplayStore != ReplayStorage {
		v.add("gateway.replay_store", "must be %s or %s", ReplayMemory, ReplayStorage)
	}
	if _, ok := noncePolicies[g.DPoP.Nonce]; !ok {
		v.add("gateway.dpop.nonce", "must be off, optional or required")
	}
	if s := g.DPoP.NonceSecret; s != "" {
		if len(s) < resource.MinNonceSecret {
			v.add("gateway.dpop.nonce_secret", "must be at least %d characters", resource.MinNonceSecret)
		}
		// RFC 9449 §9: a resource server's nonces are its own; with the
		// authorization server's secret, each would accept the other's.
		if s == v.f.DPoP.NonceSecret {
			v.add("gateway.dpop.nonce_secret", "must differ from dpop.nonce_secret")
		}
	}
	v.gatewayIntrospection()
	m := g.MTLS
	if m.ProxyHeader != "" {
		if !isHeaderName(m.ProxyHeader) {
			v.add("gateway.mtls.proxy_header", "must be a header name such as X-Client-Cert")
		}
		if len(m.TrustedProxies) == 0 {
			v.add("gateway.mtls.trusted_proxies", "required with gateway.mtls.proxy_header: the header is believed only from these addresses")
		}
	}
	if _, bad := parsePrefixes(m.TrustedProxies); bad >= 0 {
		v.add(fmt.Sprintf("gateway.mtls.trusted_proxies[%d]", bad), "is not an IP address or CIDR range")
	}
	md := g.ResourceMetadata
	if md.Resource != "" && baseOK {
		v.resourceID("gateway.resource_metadata.resource", md.Resource, base)
	}
	if md.Documentation != "" {
		if u, err := url.Parse(md.Documentation); err != nil || !u.IsAbs() || u.Host == "" {
			v.add("gateway.resource_metadata.documentation", "must be an absolute URL")
		}
	}
	for i, s := range md.ScopesSupported {
		v.scopeToken(fmt.Sprintf("gateway.resource_metadata.scopes_supported[%d]", i), s)
	}
	v.routes(base, baseOK)
}

func (v *validator) gatewayIntrospection() {
	in := v.f.Gateway.Introspection
	const p = "gateway.introspection."
	if in.KeyID != "" && in.PrivateKeyFile == "" {
		v.add(p+"key_id", "needs private_key_file")
	}
	if in.ClientID == "" {
		if in.ClientSecret != "" || in.PrivateKeyFile != "" {
			v.add(p+"client_id", "required with client_secret or private_key_file")
		}
	} else if (in.ClientSecret == "") == (in.PrivateKeyFile == "") {
		v.add(p+"client_secret", "set exactly one of client_secret and private_key_file")
	}
	if in.ClientSecret != "" && len(in.ClientSecret) < clients.MinSecretLen {
		v.add(p+"client_secret", "must be at least %d characters", clients.MinSecretLen)
	}
	if in.CacheTTL < 0 || in.CacheTTL > maxIntrospectionCacheTTL {
		v.add(p+"cache_ttl", "must be between 0s and %s: it bounds how long a revoked token still passes", "5m")
	}
}

// routes checks gateway.routes.
func (v *validator) routes(base *url.URL, baseOK bool) {
	routes := v.f.Gateway.Routes
	if len(routes) == 0 {
		v.add("gateway.routes", "required: at least one route")
	}
	for i, r := range routes {
		p := fmt.Sprintf("gateway.routes[%d].", i)
		v.pathPrefix(p+"path_prefix", r.PathPrefix)
		for j, m := range r.Methods {
			if !isToken(m) || strings.ToUpper(m) != m {
				v.add(fmt.Sprintf("%smethods[%d]", p, j), "must be an upper-case HTTP method such as GET")
			}
		}
		for j := range i {
			if routes[j].PathPrefix == r.PathPrefix && methodsOverlap(routes[j].Methods, r.Methods) {
				v.add(p+"path_prefix", "overlaps gateway.routes[%d]: same path_prefix with a common method", j)
				break
			}
		}
		up, err := url.Parse(r.Upstream)
		switch {
		case r.Upstream == "":
			v.add(p+"upstream", "required")
		case err != nil || (up.Scheme != "http" && up.Scheme != "https") || up.Host == "":
			v.add(p+"upstream", "must be an absolute http or https URL")
		case up.User != nil || up.RawQuery != "" || up.Fragment != "":
			v.add(p+"upstream", "must not contain user information, a query or a fragment")
		}
		if r.UpstreamCAFile != "" && err == nil && up.Scheme != "https" {
			v.add(p+"upstream_ca_file", "needs an https upstream")
		}
		if r.Resource != "" && baseOK {
			v.resourceID(p+"resource", r.Resource, base)
		}
		for j, s := range r.Scopes {
			v.scopeToken(fmt.Sprintf("%sscopes[%d]", p, j), s)
		}
		for j, a := range r.Audiences {
			if strings.TrimSpace(a) == "" {
				v.add(fmt.Sprintf("%saudiences[%d]", p, j), "must not be empty")
			}
		}
		if r.PolicyHeaders != nil && r.Policy == "" {
			v.add(p+"policy_headers", "needs policy")
		}
		for j, h := range r.PolicyHeaders {
			switch {
			case !isHeaderName(h):
				v.add(fmt.Sprintf("%spolicy_headers[%d]", p, j), "must be a header name")
			case credentialHeaders[http.CanonicalHeaderKey(h)]:
				v.add(fmt.Sprintf("%spolicy_headers[%d]", p, j), "must not expose credentials to the policy")
			}
		}
		v.forwardHeaders(p+"forward_headers.", r.ForwardHeaders)
		if r.ConnectTimeout < 0 {
			v.add(p+"connect_timeout", "must not be negative (0s means 5s)")
		}
		if r.Timeout < 0 {
			v.add(p+"timeout", "must not be negative (0s means 60s)")
		}
	}
}

// credentialHeaders carry the caller's credentials; a policy never sees
// them.
var credentialHeaders = map[string]bool{
	"Authorization": true, "Dpop": true, "Cookie": true, "Proxy-Authorization": true,
}

// reservedForward are headers an identity value cannot be written to:
// credentials, framing and routing headers, and the hop-by-hop set of
// RFC 9110 §7.6.1 that the proxy removes anyway.
var reservedForward = map[string]bool{
	"Authorization": true, "Dpop": true, "Cookie": true, "Host": true, "Content-Length": true,
	"Content-Type": true, "Transfer-Encoding": true, "Connection": true, "Keep-Alive": true, "Te": true,
	"Trailer": true, "Upgrade": true, "Proxy-Authorization": true, "Proxy-Authenticate": true,
	"Proxy-Connection": true, "Forwarded": true, "X-Forwarded-For": true, "X-Forwarded-Host": true,
	"X-Forwarded-Proto": true,
}

func (v *validator) forwardHeaders(prefix string, fh ForwardHeaders) {
	seen := map[string]string{}
	for _, e := range []struct{ key, name string }{
		{"subject", fh.Subject}, {"client_id", fh.ClientID}, {"scopes", fh.Scopes}, {"jkt", fh.JKT}, {"x5t", fh.X5T},
	} {
		if e.name == "" || e.name == forwardOff {
			continue
		}
		c := http.CanonicalHeaderKey(e.name)
		switch {
		case !isHeaderName(e.name):
			v.add(prefix+e.key, "must be a header name, or - to forward nothing")
		case reservedForward[c] || strings.EqualFold(c, v.f.Gateway.MTLS.ProxyHeader):
			v.add(prefix+e.key, "%s cannot carry an identity value", c)
		case seen[c] != "":
			v.add(prefix+e.key, "same header as %s", seen[c])
		default:
			seen[c] = e.key
		}
	}
}

func methodsOverlap(a, b []string) bool {
	if len(a) == 0 || len(b) == 0 {
		return true
	}
	for _, m := range a {
		if slices.Contains(b, m) {
			return true
		}
	}
	return false
}

// pathPrefix requires an absolute, clean path of plain characters, so the
// prefix means the same decoded and escaped and a request cannot reach
// another route's upstream through dot segments or encoded slashes.
func (v *validator) pathPrefix(key, p string) {
	switch {
	case p == "":
		v.add(key, "required")
	case !strings.HasPrefix(p, "/"):
		v.add(key, "must start with '/'")
	case strings.Contains(p, "//") || strings.Contains(p+"/", "/./") || strings.Contains(p+"/", "/../"):
		v.add(key, "must be a clean path: no empty, '.' or '..' segments")
	case strings.ContainsFunc(p, func(r rune) bool { return !isPathChar(r) }):
		v.add(key, "may hold only letters, digits and -._~!$&'()*+,;=:@/")
	case p == wellKnownResource || strings.HasPrefix(p, wellKnownResource+"/") || strings.HasPrefix(wellKnownResource, strings.TrimSuffix(p, "/")+"/") && p != "/":
		v.add(key, "must not cover %s, where the gateway serves its resource metadata", wellKnownResource)
	}
}

// isPathChar is RFC 3986 pchar without pct-encoded, plus '/'.
func isPathChar(r rune) bool {
	return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || strings.ContainsRune("-._~!$&'()*+,;=:@/", r)
}

// resourceID checks an RFC 9728 resource identifier the gateway serves
// metadata for: §1.2 "a URL that uses the https scheme and has no fragment
// component" (http on loopback for development, as everywhere), on the
// base URL's origin so the well-known document is the gateway's to serve.
func (v *validator) resourceID(key, id string, base *url.URL) {
	u, ok := v.publicURL(key, id, false)
	if !ok {
		return
	}
	if u.Scheme != base.Scheme || !strings.EqualFold(u.Host, base.Host) {
		v.add(key, "must be on the origin of gateway.base_url (%s://%s)", base.Scheme, base.Host)
	}
}

// publicURL checks an absolute https URL (plain http on loopback hosts)
// without user information, query or fragment. required reports a
// missing value; trailing '/' is refused for base URLs.
func (v *validator) publicURL(key, s string, base bool) (*url.URL, bool) {
	if s == "" {
		if base {
			v.add(key, "required")
		}
		return nil, false
	}
	u, err := url.Parse(s)
	if err != nil || !u.IsAbs() || u.Host == "" {
		v.add(key, "must be an absolute URL such as https://api.example.com")
		return nil, false
	}
	ok := true
	bad := func(msg string) { v.add(key, "%s", msg); ok = false }
	if !strings.HasPrefix(s, u.Scheme+"://") {
		bad("scheme must be lower case")
	}
	if u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(s, "#") {
		bad("must not contain user information, a query or a fragment")
	}
	if base && strings.HasSuffix(s, "/") {
		bad("must not end with '/'")
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopback(u.Hostname()):
	case u.Scheme == "http":
		bad("plain http is allowed only on loopback addresses")
	default:
		bad("must use https")
	}
	return u, ok
}

func (v *validator) hostPort(key, addr string, required bool) {
	if addr == "" {
		if required {
			v.add(key, "required")
		}
		return
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		v.add(key, "must be host:port, such as 127.0.0.1:8090 or :443")
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		v.add(key, "port must be a number from 0 to 65535")
	}
}

// scopeToken applies RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B /
// %x5D-7E ).
func (v *validator) scopeToken(key, s string) {
	if s == "" || strings.ContainsFunc(s, func(r rune) bool { return r < 0x21 || r == 0x22 || r == 0x5c || r > 0x7e }) {
		v.add(key, "must be a scope: printable ASCII without spaces, quotes or backslashes")
	}
}

func isHeaderName(s string) bool { return isToken(s) }

// isToken reports whether s is an RFC 9110 §5.6.2 token.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0 {
			continue
		}
		return false
	}
	return true
}
