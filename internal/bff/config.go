package bff

import (
	"crypto"
	"net/http"
	"time"
)

// Defaults of Config's zero fields.
const (
	DefaultCookieName      = "__Host-bulwark-session"
	DefaultLoginCookieName = "__Host-bulwark-login"
	DefaultCSRFHeader      = "X-CSRF"
	DefaultSessionLifetime = time.Hour
	DefaultIdleTimeout     = 30 * time.Minute
	DefaultRefreshInterval = 15 * time.Minute
	DefaultLoginTimeout    = 10 * time.Minute
	// DefaultRefreshAhead is how long before the access token's expiry
	// it is refreshed, so a proxied call never carries a token that
	// lapses in flight.
	DefaultRefreshAhead = 30 * time.Second
)

// DPoP modes (Config.DPoP).
const (
	// DPoPAuto binds tokens with DPoP when the provider advertises
	// dpop_signing_alg_values_supported, and uses Bearer tokens otherwise.
	DPoPAuto = "auto"
	// DPoPRequired refuses to start without DPoP support.
	DPoPRequired = "required"
	// DPoPOff never sends proofs.
	DPoPOff = "off"
)

// Config is the BFF role's configuration. Zero values mean the defaults
// named on each field, which are the safe ones.
type Config struct {
	// Listen is the address of the browser-facing listener.
	Listen string
	// AdminListen serves /healthz, /readyz and /metrics; empty serves
	// them on Listen.
	AdminListen string
	// BaseURL is the BFF's external origin (https, or http on loopback
	// for development), without a path: the redirect URI is
	// BaseURL + "/oauth2/callback", and it is the origin state-changing
	// API calls must come from.
	BaseURL string
	// TLSCertFile and TLSKeyFile enable HTTPS on Listen.
	TLSCertFile, TLSKeyFile string

	// Issuer is the OpenID provider; its metadata must name it exactly.
	Issuer string
	// ClientID is the BFF's client at the provider.
	ClientID string
	// ClientSecret authenticates with client_secret_basic when Key is nil.
	ClientSecret string
	// Key signs private_key_jwt assertions; it wins over ClientSecret.
	Key crypto.Signer
	// KeyID is the kid of Key's assertions.
	KeyID string
	// Scopes are requested at login; openid is always among them.
	Scopes []string
	// RequirePAR refuses to log in at a provider without PAR; PAR is used
	// whenever offered either way.
	RequirePAR bool
	// DPoP is DPoPAuto (empty), DPoPRequired or DPoPOff.
	DPoP string
	// DPoPKeyFile keeps the DPoP key as a private JWK (created if
	// missing). Every node of one deployment needs the same key, since
	// tokens and refresh tokens are bound to it; empty makes one per
	// process.
	DPoPKeyFile string
	// PostLogoutRedirectURI is sent with RP-initiated logout; it must be
	// registered at the provider. Empty sends BaseURL + "/".
	PostLogoutRedirectURI string
	// HTTPClient talks to the provider; nil means a 30 s timeout client.
	HTTPClient *http.Client
	// InsecureAllowHTTP allows an http issuer (development only).
	InsecureAllowHTTP bool

	// CookieName is the session cookie (DefaultCookieName). A name
	// starting with __Host- is always Secure, Path=/ and host-only.
	CookieName string
	// LoginCookieName holds the pending login's handle.
	LoginCookieName string
	// SameSite is the session cookie's SameSite; zero means Lax (the
	// provider's redirect back is a cross-site top-level GET).
	SameSite http.SameSite
	// InsecureCookies drops Secure from the cookies, for plain-http
	// development on loopback; a __Host- name cannot be used with it.
	InsecureCookies bool
	// SessionSecret keys the AES-256-GCM encryption of the tokens in the
	// session store (at least 32 bytes). Every node needs the same one.
	// Nil makes one per process, which only an in-memory store allows.
	SessionSecret []byte
	// SessionLifetime is the absolute session limit (DefaultSessionLifetime).
	SessionLifetime time.Duration
	// IdleTimeout ends a session without requests for this long.
	IdleTimeout time.Duration
	// RefreshInterval refreshes tokens at least this often.
	RefreshInterval time.Duration
	// RefreshAhead refreshes this long before the access token expires.
	RefreshAhead time.Duration
	// LoginTimeout bounds the time from /oauth2/start to the callback.
	LoginTimeout time.Duration

	// CSRFHeader must be present with a non-empty value on state-changing
	// API requests (DefaultCSRFHeader); a cross-site form cannot set it.
	CSRFHeader string
	// AllowedOrigins are further origins (scheme://host[:port]) allowed
	// to make state-changing API calls besides BaseURL's.
	AllowedOrigins []string
	// PassAccessToken adds X-Auth-Request-Access-Token to /oauth2/auth
	// answers. Off by default: the token then reaches whatever is behind
	// the proxy.
	PassAccessToken bool
	// GroupsClaim names the ID token claim for X-Auth-Request-Groups
	// ("groups" when empty).
	GroupsClaim string

	// Routes proxy API paths to upstreams with the session's token.
	Routes []Route
	// StaticDir serves the single-page app from a directory.
	StaticDir string
	// StaticUpstream serves it from an upstream instead (no tokens).
	StaticUpstream string

	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Route sends requests under PathPrefix to Upstream with the session's
// access token.
type Route struct {
	// PathPrefix is a clean absolute path, such as /api/.
	PathPrefix string
	// Upstream is the base URL of the API.
	Upstream string
	// StripPrefix removes PathPrefix before forwarding.
	StripPrefix bool
}

func (c *Config) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

func orDuration(v, def time.Duration) time.Duration {
	if v > 0 {
		return v
	}
	return def
}

func orString(v, def string) string {
	if v != "" {
		return v
	}
	return def
}
