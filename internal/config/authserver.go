package config

import (
	"bytes"
	"log/slog"
	"maps"
	"slices"

	"github.com/bulwarkauth/bulwark/internal/authserver"
	"github.com/bulwarkauth/bulwark/internal/clients"
)

// logLevels are the values log.level accepts. slog's own parser also takes
// offsets such as "info+2", which nobody means in a configuration file.
var logLevels = map[string]slog.Level{
	"debug": slog.LevelDebug,
	"info":  slog.LevelInfo,
	"warn":  slog.LevelWarn,
	"error": slog.LevelError,
}

// AuthServer validates f and returns the authorization server's typed
// configuration. It refuses an invalid File, returning Validate's
// Problems, so no role ever starts from a configuration that was not
// checked. The result shares nothing with f.
func (f *File) AuthServer() (authserver.Config, error) {
	if err := f.Validate(); err != nil {
		return authserver.Config{}, err
	}
	t, r := f.Tokens, f.RateLimits
	cfg := authserver.Config{
		Issuer:            f.Issuer,
		Listen:            f.Listen,
		TLSCertFile:       f.TLS.CertFile,
		TLSKeyFile:        f.TLS.KeyFile,
		TLSClientCAFile:   f.TLS.ClientCAFile,
		MTLSListen:        f.MTLS.Listen,
		MTLSBaseURL:       f.MTLS.BaseURL,
		CertHeader:        f.MTLS.ProxyHeader,
		DPoPMaxAge:        f.DPoP.MaxAge,
		DPoPMaxFuture:     f.DPoP.MaxFuture,
		DPoPNonceLifetime: f.DPoP.NonceLifetime,
		AccessTokenTTL:    t.AccessTokenTTL,
		IDTokenTTL:        t.IDTokenTTL,
		RefreshTokenTTL:   t.RefreshTokenTTL,
		PARTTL:            t.PARTTL,
		LoginTTL:          t.LoginTTL,
		SessionTTL:        t.SessionTTL,
		ClockSkew:         t.ClockSkew,
		SecretCacheTTL:    t.SecretCacheTTL,
		RateLimits: authserver.RateLimits{
			Window:         r.Window,
			LoginPerIP:     r.LoginPerIP,
			TokenPerClient: r.TokenPerClient,
			TokenPerIP:     r.TokenPerIP,
			PARPerClient:   r.PARPerClient,
			PARPerIP:       r.PARPerIP,
		},
	}
	cfg.DeviceCodeTTL, cfg.DevicePollInterval = t.DeviceCodeTTL, t.DevicePollInterval
	cfg.Admin.TokenHashes, cfg.Admin.Registration = f.adminConfig(f.Issuer)
	cfg.Admin.Scope, cfg.Admin.Listen, cfg.Admin.BaseURL = f.Admin.Scope, f.Admin.Listen, f.Admin.BaseURL
	cfg.TrustedProxies, _ = parsePrefixes(f.MTLS.TrustedProxies)
	if f.DPoP.NonceSecret != "" {
		cfg.DPoPNonceSecret = []byte(f.DPoP.NonceSecret)
	}
	for _, c := range f.Clients {
		cfg.Clients = append(cfg.Clients, authserver.StaticClient{Client: cloneClient(c.Metadata), Secret: c.Secret})
	}
	for _, u := range f.Users {
		cfg.Users = append(cfg.Users, authserver.StaticUser{
			Username: u.Username,
			Password: u.Password,
			Subject:  u.Subject,
			Claims:   maps.Clone(u.Claims),
		})
	}
	return cfg, nil
}

// LogLevel returns log.level as a slog level. It fails only for a File
// that does not pass Validate.
func (f *File) LogLevel() (slog.Level, error) {
	l, ok := logLevels[f.Log.Level]
	if !ok {
		return 0, Problems{{Key: "log.level", Message: "must be debug, info, warn or error", Source: f.source("log.level")}}
	}
	return l, nil
}

// cloneClient copies c's metadata so that neither clients.Client.Validate
// (which fills in defaults) nor a caller of AuthServer can reach back into
// the File. TestCloneClientSharesNothing fails when clients.Client gains a
// reference-typed field this does not copy.
func cloneClient(c clients.Client) clients.Client {
	out := c
	out.RedirectURIs = slices.Clone(c.RedirectURIs)
	out.GrantTypes = slices.Clone(c.GrantTypes)
	out.Scopes = slices.Clone(c.Scopes)
	out.JWKS = bytes.Clone(c.JWKS)
	out.Audience = slices.Clone(c.Audience)
	return out
}
