package config

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"slices"
	"strconv"

	"github.com/bulwarkauth/bulwark/internal/admin"
	"github.com/bulwarkauth/bulwark/internal/clients"
	"github.com/bulwarkauth/bulwark/internal/oauth"
)

// Admin configures the admin API and Dynamic Client Registration.
type Admin struct {
	// Token is an admin token for the admin API (at least 32 random characters; set it with BULWARK_ADMIN_TOKEN rather than in the file). Only its SHA-256 is kept; empty accepts none.
	Token string `yaml:"token"`
	// TokenSHA256 are hex SHA-256 digests of further admin tokens, so the file need not hold any token itself.
	TokenSHA256 []string `yaml:"token_sha256"`
	// Scope is the scope an access token issued by this server needs to call the admin API.
	Scope string `yaml:"scope"`
	// Listen is a separate address for the admin API; when set, /admin/ is served only there and no longer on listen.
	Listen string `yaml:"listen"`
	// BaseURL is the external URL of the admin.listen listener as admin clients reach it (https; plain http only on a loopback host), without a trailing '/'. The admin API is served under its path, and a DPoP proof on an admin call must name it plus /admin/... as htu. Empty means the issuer's URL; it needs admin.listen.
	BaseURL string `yaml:"base_url"`
	// Registration configures Dynamic Client Registration (RFC 7591) and client management (RFC 7592) at /register.
	Registration AdminRegistration `yaml:"registration"`
}

// AdminRegistration configures the RFC 7591 registration endpoint.
type AdminRegistration struct {
	// Mode is "disabled" (no /register), "open" (anyone may register) or "initial_access_token" (a Bearer token from initial_access_token_sha256 is required).
	Mode string `yaml:"mode"`
	// InitialAccessTokenSHA256 are hex SHA-256 digests of the initial access tokens accepted in initial_access_token mode.
	InitialAccessTokenSHA256 []string `yaml:"initial_access_token_sha256"`
	// Profile is the profile every registered client gets: "standard" (public clients with PKCE, secrets or private_key_jwt) or "fapi2" (private_key_jwt or mTLS only, https redirect URIs).
	Profile string `yaml:"profile"`
	// Scopes are the scopes a registered client may ask for, and gets when it asks for none; the admin scope is never allowed.
	Scopes []string `yaml:"scopes"`
}

// minAdminTokenLen keeps admin tokens long enough that an unsalted
// SHA-256 protects them (they are random, not chosen by a person).
const minAdminTokenLen = 32

// parseDigests decodes hex SHA-256 digests, reporting each bad one.
func parseDigests(hexes []string, key string, add func(key, format string, args ...any)) [][sha256.Size]byte {
	var out [][sha256.Size]byte
	for i, h := range hexes {
		b, err := hex.DecodeString(h)
		if err != nil || len(b) != sha256.Size {
			add(fmt.Sprintf("%s[%d]", key, i), "must be 64 hex digits (sha256sum of the token)")
			continue
		}
		out = append(out, [sha256.Size]byte(b))
	}
	return out
}

func (v *validator) admin() {
	a := v.f.Admin
	if a.Token != "" && len(a.Token) < minAdminTokenLen {
		v.add("admin.token", "must be at least %d characters (openssl rand -base64 32)", minAdminTokenLen)
	}
	parseDigests(a.TokenSHA256, "admin.token_sha256", v.add)
	if s, ok := oauth.ParseScopes(a.Scope); !ok || len(s) != 1 {
		v.add("admin.scope", "must be one scope token")
	}
	if a.Listen != "" {
		if _, port, err := net.SplitHostPort(a.Listen); err != nil {
			v.add("admin.listen", "must be host:port, such as 127.0.0.1:8081")
		} else if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			v.add("admin.listen", "port must be a number from 1 to 65535")
		} else if a.Listen == v.f.Listen {
			v.add("admin.listen", "must differ from listen")
		}
	}
	if a.BaseURL != "" {
		if u, ok := v.publicURL("admin.base_url", a.BaseURL, true); ok && u.Scheme != "https" && v.f.tlsConfigured() {
			v.add("admin.base_url", "must use https when tls is configured (the admin listener serves TLS too)")
		}
		if a.Listen == "" {
			v.add("admin.base_url", "needs admin.listen: on the main listener the admin API is reached at the issuer's URL")
		}
	}
	r := a.Registration
	switch r.Mode {
	case admin.RegistrationDisabled, admin.RegistrationOpen:
	case admin.RegistrationInitialToken:
		if len(r.InitialAccessTokenSHA256) == 0 {
			v.add("admin.registration.initial_access_token_sha256", "at least one is required in initial_access_token mode")
		}
	default:
		v.add("admin.registration.mode", "must be disabled, open or initial_access_token")
	}
	parseDigests(r.InitialAccessTokenSHA256, "admin.registration.initial_access_token_sha256", v.add)
	if _, ok := clients.Profiles[r.Profile]; !ok {
		v.add("admin.registration.profile", "must be %q or %q", clients.ProfileStandard, clients.ProfileFAPI2)
	}
	for i, s := range r.Scopes {
		if sc, ok := oauth.ParseScopes(s); !ok || len(sc) != 1 {
			v.add(fmt.Sprintf("admin.registration.scopes[%d]", i), "must be one scope token")
		} else if s == a.Scope {
			v.add(fmt.Sprintf("admin.registration.scopes[%d]", i), "the admin scope cannot be given to registered clients")
		}
	}
}

// adminConfig is the authorization server's part of the admin section.
// Plain tokens become digests here and go no further.
func (f *File) adminConfig(issuer string) (tokens [][sha256.Size]byte, reg admin.Registration) {
	a := f.Admin
	noop := func(string, string, ...any) {}
	tokens = parseDigests(a.TokenSHA256, "", noop)
	if a.Token != "" {
		tokens = append(tokens, admin.HashToken(a.Token))
	}
	sc, _ := oauth.ParseScopes(joinScopes(a.Registration.Scopes))
	reg = admin.Registration{
		Mode:               a.Registration.Mode,
		InitialTokenHashes: parseDigests(a.Registration.InitialAccessTokenSHA256, "", noop),
		Profile:            a.Registration.Profile,
		Scopes:             slices.Clone(sc),
		ClientURI:          issuer + "/register",
	}
	return tokens, reg
}

func joinScopes(ss []string) string {
	out := ""
	for i, s := range ss {
		if i > 0 {
			out += " "
		}
		out += s
	}
	return out
}

// defaultAdmin: no admin token, registration off, and the OpenID scopes
// for registered clients once it is turned on.
func defaultAdmin() Admin {
	return Admin{
		Scope: admin.DefaultScope,
		Registration: AdminRegistration{
			Mode: admin.RegistrationDisabled, Profile: clients.ProfileStandard,
			Scopes: []string{"openid", "profile", "email", "offline_access"},
		},
	}
}
