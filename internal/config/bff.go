package config

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/bulwarkauth/bulwark/internal/bff"
	"github.com/bulwarkauth/bulwark/internal/httpx"
	"github.com/bulwarkauth/bulwark/internal/jose"
)

// BFF session stores (bff.session_store).
const (
	// SessionStoreMemory keeps sessions in the process: one BFF node.
	SessionStoreMemory = "memory"
	// SessionStoreRedis keeps them in cache.url's Redis, shared by every
	// BFF node.
	SessionStoreRedis = "redis"
)

// minSessionSecret is the shortest bff.session_secret.
const minSessionSecret = 32

// BFF is the Backend-for-Frontend role's section (`bulwark bff`).
// Validate checks it only when one of its keys is set.
type BFF struct {
	// Listen is the TCP address (host:port) the BFF accepts browser requests on.
	Listen string `yaml:"listen"`
	// AdminListen is a separate address for /healthz, /readyz and /metrics; empty serves them on listen.
	AdminListen string `yaml:"admin_listen"`
	// BaseURL is the BFF's external origin as browsers reach it (https; plain http only on a loopback host), without a path. The redirect URI to register is base_url + /oauth2/callback.
	BaseURL string `yaml:"base_url"`
	// TLS enables HTTPS on listen.
	TLS GatewayTLS `yaml:"tls"`
	// Issuer is the OpenID provider, discovered at start (its metadata must name exactly this issuer). Empty means the top-level issuer.
	Issuer string `yaml:"issuer"`
	// IssuerCAFile is a PEM bundle of CAs the provider's certificate must chain to; empty uses the system roots.
	IssuerCAFile string `yaml:"issuer_ca_file"`
	// ClientID is the BFF's client_id at the provider.
	ClientID string `yaml:"client_id"`
	// ClientSecret authenticates with client_secret_basic (not FAPI 2.0); use private_key_file instead where the provider allows it.
	ClientSecret string `yaml:"client_secret"`
	// PrivateKeyFile is a PEM private key (P-256, Ed25519 or RSA of 2048 bits or more) that authenticates the BFF with private_key_jwt.
	PrivateKeyFile string `yaml:"private_key_file"`
	// KeyID is the kid of private_key_file's key, sent in the assertion header; empty sends none.
	KeyID string `yaml:"key_id"`
	// Scopes are requested at login; openid is always added.
	Scopes []string `yaml:"scopes"`
	// RequirePAR refuses providers without pushed authorization requests; PAR is used whenever offered either way.
	RequirePAR bool `yaml:"require_par"`
	// DPoP is the sender constraint: "auto" (DPoP when the provider supports it, else Bearer), "required" or "off".
	DPoP string `yaml:"dpop"`
	// DPoPKeyFile keeps the DPoP key (a private JWK, created 0600 when missing); every BFF node needs the same file. Empty makes a key per process.
	DPoPKeyFile string `yaml:"dpop_key_file"`
	// PostLogoutRedirectURI is sent to the provider's end_session_endpoint at sign-out; register it there. Empty means base_url + "/".
	PostLogoutRedirectURI string `yaml:"post_logout_redirect_uri"`
	// SessionStore keeps sessions: "memory" (one BFF process) or "redis" (cache.url, shared by every node).
	SessionStore string `yaml:"session_store"`
	// SessionSecret keys the encryption of tokens in the session store (at least 32 characters; the same on every node). Required with session_store redis.
	SessionSecret string `yaml:"session_secret"`
	// SessionLifetime is the absolute session limit.
	SessionLifetime time.Duration `yaml:"session_lifetime"`
	// IdleTimeout ends a session without requests for this long; at most session_lifetime.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// RefreshInterval refreshes the tokens at least this often, and earlier when the access token is about to expire.
	RefreshInterval time.Duration `yaml:"refresh_interval"`
	// Cookie configures the session cookie.
	Cookie BFFCookie `yaml:"cookie"`
	// CSRFHeader must be present on state-changing API requests (a cross-site form cannot set it).
	CSRFHeader string `yaml:"csrf_header"`
	// AllowedOrigins are further origins (scheme://host[:port]) allowed to make state-changing API calls besides base_url's.
	AllowedOrigins []string `yaml:"allowed_origins"`
	// PassAccessToken adds X-Auth-Request-Access-Token to /oauth2/auth answers (the token then reaches what is behind the proxy).
	PassAccessToken bool `yaml:"pass_access_token"`
	// GroupsClaim names the claim sent as X-Auth-Request-Groups.
	GroupsClaim string `yaml:"groups_claim"`
	// StaticDir serves the single-page app from this directory.
	StaticDir string `yaml:"static_dir"`
	// StaticUpstream serves the single-page app from this URL instead (no tokens are added).
	StaticUpstream string `yaml:"static_upstream"`
	// Routes map API paths to upstreams that receive the session's access token.
	Routes []BFFRoute `yaml:"routes"`
}

// BFFCookie is the session cookie's shape.
type BFFCookie struct {
	// Name is the cookie name; a __Host- name is Secure, Path=/ and host-only.
	Name string `yaml:"name"`
	// SameSite is the session cookie's SameSite, "lax" or "strict"; the short-lived login cookie is always lax, since the provider's redirect back is a cross-site navigation. With strict, the first page after login (still reached through that cross-site redirect chain) arrives without the cookie, so rd should point at a page that does not need the session, or the app reloads.
	SameSite string `yaml:"same_site"`
}

// BFFRoute is one API route of the BFF.
type BFFRoute struct {
	// PathPrefix is the clean absolute path the route takes, such as /api/.
	PathPrefix string `yaml:"path_prefix"`
	// Upstream is the API's base URL.
	Upstream string `yaml:"upstream"`
	// StripPrefix removes path_prefix before forwarding.
	StripPrefix bool `yaml:"strip_prefix"`
}

var _ entryDecoder = (*BFFRoute)(nil)

// decodeEntry decodes one bff.routes[] entry like any section.
func (r *BFFRoute) decodeEntry(d *decoder, n *yaml.Node, path string) {
	d.section(n, reflect.ValueOf(r).Elem(), path)
}

// bffSet reports whether the configuration uses the bff section.
func (f *File) bffSet() bool {
	if f.BFF.BaseURL != "" || f.BFF.ClientID != "" || len(f.BFF.Routes) > 0 {
		return true
	}
	for k := range f.origin {
		if k == "bff" || strings.HasPrefix(k, "bff.") {
			return true
		}
	}
	return false
}

// bffIssuer is bff.issuer, or the top-level issuer when unset.
func (f *File) bffIssuer() string {
	if f.BFF.Issuer != "" {
		return f.BFF.Issuer
	}
	return f.Issuer
}

// BFFConfig validates f and returns the BFF role's configuration, with
// the private key read from private_key_file. HTTPClient trusts
// issuer_ca_file when set.
func (f *File) BFFConfig() (bff.Config, error) {
	var ps Problems
	if err := f.Validate(); err != nil && !errors.As(err, &ps) {
		return bff.Config{}, err
	}
	if !f.bffSet() {
		ps = append(ps, Problem{Key: "bff.base_url", Message: "required to run the BFF"}, Problem{Key: "bff.client_id", Message: "required to run the BFF"})
	}
	if err := ps.err(); err != nil {
		return bff.Config{}, err
	}
	b := f.BFF
	cfg := bff.Config{
		Listen: b.Listen, AdminListen: b.AdminListen, BaseURL: b.BaseURL, TLSCertFile: b.TLS.CertFile, TLSKeyFile: b.TLS.KeyFile,
		Issuer: f.bffIssuer(), ClientID: b.ClientID, ClientSecret: b.ClientSecret, KeyID: b.KeyID,
		Scopes: slices.Clone(b.Scopes), RequirePAR: b.RequirePAR, DPoP: b.DPoP, DPoPKeyFile: b.DPoPKeyFile,
		PostLogoutRedirectURI: b.PostLogoutRedirectURI, CookieName: b.Cookie.Name,
		SessionLifetime: b.SessionLifetime, IdleTimeout: b.IdleTimeout, RefreshInterval: b.RefreshInterval,
		CSRFHeader: b.CSRFHeader, AllowedOrigins: slices.Clone(b.AllowedOrigins), PassAccessToken: b.PassAccessToken,
		GroupsClaim: b.GroupsClaim, StaticDir: b.StaticDir, StaticUpstream: b.StaticUpstream,
	}
	if b.Cookie.SameSite == "strict" {
		cfg.SameSite = http.SameSiteStrictMode
	}
	if b.SessionSecret != "" {
		cfg.SessionSecret = []byte(b.SessionSecret)
	}
	if u, err := url.Parse(cfg.Issuer); err == nil && u.Scheme == "http" {
		// Validate allowed it: loopback only.
		cfg.InsecureAllowHTTP = true
	}
	if u, err := url.Parse(cfg.BaseURL); err == nil && u.Scheme == "http" {
		// Plain http on loopback: browsers drop Secure cookies there
		// except on localhost, so the dev setup drops the prefix.
		cfg.InsecureCookies = true
		if strings.HasPrefix(cfg.CookieName, "__Host-") {
			cfg.CookieName = strings.TrimPrefix(cfg.CookieName, "__Host-")
		}
		cfg.LoginCookieName = "bulwark-login"
	}
	tr, err := httpx.CATransport(b.IssuerCAFile)
	if err != nil {
		return bff.Config{}, Problems{{Key: "bff.issuer_ca_file", Message: err.Error()}}
	}
	cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second, Transport: tr}
	if b.PrivateKeyFile != "" {
		pem, err := os.ReadFile(b.PrivateKeyFile)
		if err != nil {
			return bff.Config{}, Problems{{Key: "bff.private_key_file", Message: err.Error()}}
		}
		if cfg.Key, err = jose.ParsePEMSigner(pem); err != nil {
			return bff.Config{}, Problems{{Key: "bff.private_key_file", Message: err.Error()}}
		}
	}
	for _, r := range b.Routes {
		cfg.Routes = append(cfg.Routes, bff.Route{PathPrefix: r.PathPrefix, Upstream: r.Upstream, StripPrefix: r.StripPrefix})
	}
	return cfg, nil
}

// bff checks the bff section, when it is in use.
func (v *validator) bff() {
	if !v.f.bffSet() {
		return
	}
	b := v.f.BFF
	const p = "bff."
	v.hostPort(p+"listen", b.Listen, true)
	v.hostPort(p+"admin_listen", b.AdminListen, false)
	if b.AdminListen != "" && b.AdminListen == b.Listen {
		v.add(p+"admin_listen", "must differ from bff.listen (leave it empty to serve the admin endpoints there)")
	}
	base, baseOK := v.publicURL(p+"base_url", b.BaseURL, true)
	if baseOK && base.Path != "" {
		v.add(p+"base_url", "must be an origin without a path, such as https://app.example.com")
	}
	if (b.TLS.CertFile == "") != (b.TLS.KeyFile == "") {
		v.add(p+"tls", "cert_file and key_file must be set together")
	}
	if v.f.bffIssuer() == "" {
		v.add(p+"issuer", "required (or the top-level issuer)")
	} else if b.Issuer != "" {
		v.publicURL(p+"issuer", b.Issuer, false)
	}
	if b.ClientID == "" {
		v.add(p+"client_id", "required")
	}
	switch {
	case b.ClientSecret == "" && b.PrivateKeyFile == "":
		v.add(p+"private_key_file", "required (or client_secret): the BFF is a confidential client")
	case b.ClientSecret != "" && b.PrivateKeyFile != "":
		v.add(p+"client_secret", "set client_secret or private_key_file, not both")
	}
	if b.KeyID != "" && b.PrivateKeyFile == "" {
		v.add(p+"key_id", "needs private_key_file")
	}
	for i, s := range b.Scopes {
		v.scopeToken(fmt.Sprintf("%sscopes[%d]", p, i), s)
	}
	if !slices.Contains([]string{bff.DPoPAuto, bff.DPoPRequired, bff.DPoPOff}, b.DPoP) {
		v.add(p+"dpop", "must be auto, required or off")
	}
	if b.PostLogoutRedirectURI != "" {
		v.publicURL(p+"post_logout_redirect_uri", b.PostLogoutRedirectURI, false)
	}
	switch b.SessionStore {
	case SessionStoreMemory:
	case SessionStoreRedis:
		if v.f.Cache.URL == "" {
			v.add(p+"session_store", "redis needs cache.url")
		}
		if b.SessionSecret == "" {
			v.add(p+"session_secret", "required with session_store redis: every node must decrypt every session")
		}
	default:
		v.add(p+"session_store", "must be %s or %s", SessionStoreMemory, SessionStoreRedis)
	}
	if b.SessionSecret != "" && len(b.SessionSecret) < minSessionSecret {
		v.add(p+"session_secret", "must be at least %d characters", minSessionSecret)
	}
	if b.SessionLifetime <= 0 {
		v.add(p+"session_lifetime", "must be positive")
	}
	if b.IdleTimeout <= 0 || b.IdleTimeout > b.SessionLifetime {
		v.add(p+"idle_timeout", "must be positive and at most bff.session_lifetime")
	}
	if b.RefreshInterval < time.Minute {
		v.add(p+"refresh_interval", "must be at least 1m")
	}
	if n := b.Cookie.Name; n != "" && !isToken(n) {
		v.add(p+"cookie.name", "must be a cookie name (an RFC 9110 token)")
	}
	// With plain http (loopback development) the default __Host- name is
	// swapped for an unprefixed one; a __Host- name set on purpose is
	// refused, since browsers would drop it.
	if _, set := v.f.origin[p+"cookie.name"]; set && strings.HasPrefix(b.Cookie.Name, "__Host-") && base != nil && base.Scheme != "https" {
		v.add(p+"cookie.name", "a __Host- cookie needs an https bff.base_url")
	}
	if s := b.Cookie.SameSite; s != "lax" && s != "strict" {
		v.add(p+"cookie.same_site", "must be lax or strict")
	}
	if !isHeaderName(b.CSRFHeader) {
		v.add(p+"csrf_header", "must be a header name such as X-CSRF")
	}
	for i, o := range b.AllowedOrigins {
		if u, ok := v.publicURL(fmt.Sprintf("%sallowed_origins[%d]", p, i), o, true); ok && u.Path != "" {
			v.add(fmt.Sprintf("%sallowed_origins[%d]", p, i), "must be an origin: scheme://host[:port]")
		}
	}
	if b.StaticDir != "" && b.StaticUpstream != "" {
		v.add(p+"static_upstream", "set static_dir or static_upstream, not both")
	}
	if b.StaticUpstream != "" {
		if u, err := url.Parse(b.StaticUpstream); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			v.add(p+"static_upstream", "must be an absolute http or https URL")
		}
	}
	for i, r := range b.Routes {
		rp := fmt.Sprintf("%sroutes[%d].", p, i)
		v.pathPrefix(rp+"path_prefix", r.PathPrefix)
		if strings.HasPrefix(r.PathPrefix, "/oauth2") {
			v.add(rp+"path_prefix", "must not cover /oauth2/, where the BFF serves its endpoints")
		}
		up, err := url.Parse(r.Upstream)
		switch {
		case r.Upstream == "":
			v.add(rp+"upstream", "required")
		case err != nil || (up.Scheme != "http" && up.Scheme != "https") || up.Host == "":
			v.add(rp+"upstream", "must be an absolute http or https URL")
		}
		for j := range i {
			if b.Routes[j].PathPrefix == r.PathPrefix {
				v.add(rp+"path_prefix", "duplicates bff.routes[%d]", j)
			}
		}
	}
}
