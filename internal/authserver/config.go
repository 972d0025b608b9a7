package authserver

import (
	"net/netip"
	"time"

	"github.com/bulwarkauth/bulwark/internal/clients"
	"github.com/bulwarkauth/bulwark/internal/httpx"
)

// Config is everything the authorization server role needs, already typed
// and validated by package config. Zero values mean the documented safe
// default.
type Config struct {
	// Issuer is the issuer identifier (RFC 8414 §2): https, or http on a
	// loopback address only.
	Issuer string
	// Listen is the TCP address to serve on.
	Listen string
	// TLSCertFile and TLSKeyFile enable TLS; both or neither. The TLS
	// listener requests, but does not require, a client certificate.
	TLSCertFile, TLSKeyFile string
	// TLSClientCAFile is a PEM bundle of the CAs tls_client_auth
	// certificates must chain to; empty trusts none.
	TLSClientCAFile string
	// MTLSListen and MTLSBaseURL run a dedicated mutual-TLS listener,
	// advertised through mtls_endpoint_aliases (RFC 8705 §5); empty runs
	// none.
	MTLSListen, MTLSBaseURL string
	// CertHeader names the header a TLS-terminating proxy forwards the
	// client certificate in; it is believed only from TrustedProxies and
	// removed from every other request. Empty disables it.
	CertHeader     string
	TrustedProxies []netip.Prefix

	// DPoPMaxAge and DPoPMaxFuture bound a proof's iat; default 60 s and
	// 10 s.
	DPoPMaxAge, DPoPMaxFuture time.Duration
	// DPoPNonceLifetime is the nonce time step; defaults to 5 minutes.
	DPoPNonceLifetime time.Duration
	// DPoPNonceSecret keys the server nonces and must be the same on every
	// node; empty derives it from the shared ES256 signing key.
	DPoPNonceSecret []byte

	// AccessTokenTTL defaults to 5 minutes.
	AccessTokenTTL time.Duration
	// IDTokenTTL defaults to 5 minutes.
	IDTokenTTL time.Duration
	// RefreshTokenTTL is the lifetime of a grant's refresh tokens; defaults
	// to 30 days.
	RefreshTokenTTL time.Duration
	// PARTTL is the lifetime of a pushed request_uri; defaults to 60 s and
	// must stay below 600 s (FAPI 2.0 SP §5.3.2.2-12).
	PARTTL time.Duration
	// LoginTTL is how long a user has to finish login and consent once the
	// authorization request reached the server; defaults to 10 minutes.
	LoginTTL time.Duration
	// SessionTTL is the lifetime of the end-user's browser session at the
	// server; defaults to 8 hours.
	SessionTTL time.Duration
	// DeviceCodeTTL is the lifetime of RFC 8628 device and user codes;
	// defaults to 10 minutes.
	DeviceCodeTTL time.Duration
	// DevicePollInterval is the polling interval given to devices
	// (RFC 8628 §3.2 interval); defaults to 5 s.
	DevicePollInterval time.Duration
	// ClockSkew is how far a received JWT's iat/nbf may be in the future;
	// defaults to 10 s, at most 60 s (FAPI 2.0 SP §5.3.2.1-13).
	ClockSkew time.Duration

	// RateLimits bound requests per window; zero Limit disables a limit.
	RateLimits RateLimits
	// RateCounter, when set, keeps the rate-limit counts in a store shared
	// by every node (Redis), so the limits hold for the deployment as a
	// whole. Nil counts in process memory, per node. A shared counter
	// that cannot answer refuses limited requests with 503.
	RateCounter httpx.Counter

	// Clients and Users are declared statically and written to the store
	// at start (secrets and passwords hashed with argon2id).
	Clients []StaticClient
	Users   []StaticUser

	// Now is the clock; nil means time.Now. Tests move it to expire codes
	// and tokens without sleeping.
	Now func() time.Time

	// SecretCacheTTL is how long a successful client-secret verification is
	// remembered (in memory, under a keyed hash); defaults to 5 minutes.
	SecretCacheTTL time.Duration

	// Admin configures the admin API and Dynamic Client Registration.
	Admin AdminConfig

	// KeyRefresh is how often Serve reloads the signing keys from the
	// store, so keys rotated on any node are published everywhere well
	// before they sign; defaults to 30 s.
	KeyRefresh time.Duration
}

// now is the configured clock.
func (c Config) now() time.Time {
	if c.Now != nil {
		return c.Now()
	}
	return time.Now()
}

// RateLimits configures the per-IP and per-client limits.
type RateLimits struct {
	Window time.Duration
	// LoginPerIP limits failed login form posts per client IP, and
	// separately failed device user-code entries (RFC 8628 §5.1).
	LoginPerIP int
	// TokenPerClient and TokenPerIP limit the token endpoint.
	TokenPerClient int
	TokenPerIP     int
	// PARPerClient and PARPerIP limit the PAR endpoint and, separately,
	// the device authorization endpoint.
	PARPerClient int
	PARPerIP     int
}

// StaticClient is a client declared in configuration. Secret is the
// plaintext client_secret for secret methods; it is hashed before storage.
type StaticClient struct {
	Client clients.Client
	Secret string
}

// StaticUser is a user declared in configuration. Password is plaintext and
// hashed before storage; Claims are OpenID Connect standard claims.
type StaticUser struct {
	Username string
	Password string
	Subject  string
	Claims   map[string]any
}

// withDefaults returns a copy of c with zero values replaced by defaults.
func (c Config) withDefaults() Config {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.AccessTokenTTL, 5*time.Minute)
	def(&c.IDTokenTTL, 5*time.Minute)
	def(&c.RefreshTokenTTL, 30*24*time.Hour)
	def(&c.PARTTL, 60*time.Second)
	def(&c.LoginTTL, 10*time.Minute)
	def(&c.SessionTTL, 8*time.Hour)
	def(&c.DeviceCodeTTL, 10*time.Minute)
	def(&c.DevicePollInterval, 5*time.Second)
	def(&c.ClockSkew, 10*time.Second)
	def(&c.SecretCacheTTL, 5*time.Minute)
	def(&c.RateLimits.Window, time.Minute)
	def(&c.DPoPMaxAge, 60*time.Second)
	def(&c.DPoPMaxFuture, 10*time.Second)
	def(&c.DPoPNonceLifetime, 5*time.Minute)
	def(&c.KeyRefresh, 30*time.Second)
	return c
}
