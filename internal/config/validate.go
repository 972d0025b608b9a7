package config

import (
	"encoding/json"
	"fmt"
	"maps"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/bulwarkauth/bulwark/internal/authserver"
	"github.com/bulwarkauth/bulwark/internal/clients"
	"github.com/bulwarkauth/bulwark/internal/secret"
)

// Bounds checked by Validate.
const (
	// minPasswordLen is the floor the admin API applies too.
	minPasswordLen = secret.MinPasswordLen
	// maxSubjectLen: OIDC Core §2 "It MUST NOT exceed 255 ASCII
	// characters in length" (https://openid.net/specs/openid-connect-core-1_0.html#IDToken).
	maxSubjectLen = 255
)

// Validate reports every problem with f as Problems, each naming its key
// and where the value was set. It does not modify f, so it can be called
// on a File that is also being printed or compared.
func (f *File) Validate() error {
	v := &validator{f: f}
	v.issuer()
	v.listen()
	v.tls()
	v.storage()
	v.cache()
	v.log()
	v.tokens()
	v.rateLimits()
	v.dpop()
	v.mtls()
	v.clients()
	v.users()
	v.admin()
	v.gateway()
	v.bff()
	return v.problems.err()
}

type validator struct {
	f        *File
	problems Problems
}

func (v *validator) add(key, format string, args ...any) {
	v.problems = append(v.problems, Problem{Key: key, Message: fmt.Sprintf(format, args...), Source: v.f.source(key)})
}

func (f *File) tlsConfigured() bool { return f.TLS.CertFile != "" || f.TLS.KeyFile != "" }

// isLoopback reports whether an issuer host is 127.0.0.0/8, ::1 or
// localhost: the only hosts where plain http cannot be read off the wire.
func isLoopback(host string) bool { return clients.IsLoopbackHost(host) }

// issuer applies RFC 8414 §2: "a URL that uses the "https" scheme and has
// no query or fragment components"
// (https://www.rfc-editor.org/rfc/rfc8414#section-2). Plain http is
// allowed on loopback hosts for development, as RFC 8252 §7.3 allows for
// redirect URIs.
func (v *validator) issuer() {
	const key = "issuer"
	iss := v.f.Issuer
	if iss == "" {
		v.add(key, "required")
		return
	}
	u, err := url.Parse(iss)
	if err != nil || !u.IsAbs() || u.Host == "" {
		v.add(key, "must be an absolute URL such as https://auth.example.com")
		return
	}
	if !strings.HasPrefix(iss, u.Scheme+"://") {
		// Clients compare the issuer as a string (RFC 8414 §3.3), so
		// its spelling must be canonical.
		v.add(key, "scheme must be lower case")
	}
	if u.User != nil {
		v.add(key, "must not contain user information")
	}
	if u.RawQuery != "" || u.ForceQuery {
		v.add(key, "must not contain a query")
	}
	if u.Fragment != "" || strings.Contains(iss, "#") {
		v.add(key, "must not contain a fragment")
	}
	if strings.HasSuffix(iss, "/") {
		// Endpoint URLs are the issuer followed by their path.
		v.add(key, "must not end with '/'")
	}
	switch {
	case u.Scheme == "https":
	case u.Scheme == "http" && v.f.tlsConfigured():
		v.add(key, "must use https when tls is configured")
	case u.Scheme == "http" && !isLoopback(u.Hostname()):
		v.add(key, "plain http is allowed only on loopback addresses; configure tls.cert_file and tls.key_file")
	case u.Scheme != "http":
		v.add(key, "must use https")
	}
}

func (v *validator) listen() {
	const key = "listen"
	if v.f.Listen == "" {
		v.add(key, "required")
		return
	}
	_, port, err := net.SplitHostPort(v.f.Listen)
	if err != nil {
		v.add(key, "must be host:port, such as 127.0.0.1:8080 or :443")
		return
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		v.add(key, "port must be a number from 1 to 65535")
	}
}

func (v *validator) tls() {
	if (v.f.TLS.CertFile == "") != (v.f.TLS.KeyFile == "") {
		v.add("tls", "cert_file and key_file must be set together")
	}
}

func (v *validator) storage() {
	switch v.f.Storage.Driver {
	case DriverSQLite:
		if v.f.Storage.DSN == "" {
			v.add("storage.dsn", "required for the sqlite driver")
		}
	case DriverPostgres:
		if !hasScheme(v.f.Storage.DSN, "postgres", "postgresql") {
			v.add("storage.dsn", "must be a postgres:// URL for the postgres driver")
		}
	case DriverMemory:
	default:
		v.add("storage.driver", "must be %s, %s or %s", DriverSQLite, DriverPostgres, DriverMemory)
	}
}

// cache checks the cache section; its settings matter only for redis.
func (v *validator) cache() {
	c := v.f.Cache
	switch c.Driver {
	case CacheNone:
	case CacheRedis:
		if !hasScheme(c.URL, "redis", "rediss") {
			v.add("cache.url", "must be a redis:// or rediss:// URL for the redis driver")
		}
		if c.Prefix == "" {
			v.add("cache.prefix", "required for the redis driver, so deployments sharing a Redis cannot collide")
		}
		if v.f.Storage.Driver == DriverMemory {
			v.add("cache.driver", "redis shares state between nodes, but storage.driver memory keeps the rest in one process; use postgres")
		}
	default:
		v.add("cache.driver", "must be %s or %s", CacheNone, CacheRedis)
	}
}

// hasScheme reports whether raw is an absolute URL with a host and one of
// the schemes.
func hasScheme(raw string, schemes ...string) bool {
	u, err := url.Parse(raw)
	return err == nil && u.Host != "" && slices.Contains(schemes, u.Scheme)
}

func (v *validator) log() {
	if _, ok := logLevels[v.f.Log.Level]; !ok {
		v.add("log.level", "must be debug, info, warn or error")
	}
}

// tokens checks lifetimes. Zero is rejected everywhere: authserver reads a
// zero duration as "use the default", which would silently ignore an
// operator who meant "off".
func (v *validator) tokens() {
	t := v.f.Tokens
	positive := func(key string, d time.Duration) {
		if d <= 0 {
			v.add(key, "must be positive")
		}
	}
	positive("tokens.access_token_ttl", t.AccessTokenTTL)
	positive("tokens.id_token_ttl", t.IDTokenTTL)
	positive("tokens.refresh_token_ttl", t.RefreshTokenTTL)
	positive("tokens.login_ttl", t.LoginTTL)
	positive("tokens.session_ttl", t.SessionTTL)
	// FAPI 2.0 SP §5.3.2.2-12: the request_uri "shall" have an
	// expires_in "of less than 600 seconds"
	// (https://openid.net/specs/fapi-security-profile-2_0-final.html#section-5.3.2.2).
	// Below 10 s a user barely reaches /authorize.
	if t.PARTTL < 10*time.Second || t.PARTTL >= 600*time.Second {
		v.add("tokens.par_ttl", "must be between 10s and 599s")
	}
	// FAPI 2.0 SP §5.3.2.1-13: the server "shall accept JWTs with an
	// iat or nbf timestamp between 0 and 10 seconds in the future but
	// shall reject JWTs with an iat or nbf timestamp greater than 60
	// seconds in the future"
	// (https://openid.net/specs/fapi-security-profile-2_0-final.html#section-5.3.2.1).
	switch {
	case t.ClockSkew < 10*time.Second:
		v.add("tokens.clock_skew", "must be at least 10s")
	case t.ClockSkew > 60*time.Second:
		v.add("tokens.clock_skew", "must be at most 60s")
	}
	// A replaced or revoked client secret keeps working for as long as a
	// successful check is cached; an hour bounds that window.
	if t.SecretCacheTTL <= 0 || t.SecretCacheTTL > time.Hour {
		v.add("tokens.secret_cache_ttl", "must be between 1s and 1h")
	}
	// RFC 8628 §5.1: the user code's ~34.6 bits resist guessing only for
	// a short life; an hour is the most that stays comfortable with the
	// per-IP limit on code entry.
	if t.DeviceCodeTTL < time.Minute || t.DeviceCodeTTL > time.Hour {
		v.add("tokens.device_code_ttl", "must be between 1m and 1h")
	}
	// RFC 8628 §3.2 interval is in whole seconds.
	if t.DevicePollInterval < time.Second || t.DevicePollInterval > time.Minute || t.DevicePollInterval%time.Second != 0 {
		v.add("tokens.device_poll_interval", "must be whole seconds between 1s and 60s")
	}
}

func (v *validator) rateLimits() {
	r := v.f.RateLimits
	if r.Window <= 0 {
		v.add("rate_limits.window", "must be positive")
	}
	for _, l := range []struct {
		key string
		n   int
	}{
		{"rate_limits.login_per_ip", r.LoginPerIP},
		{"rate_limits.token_per_client", r.TokenPerClient},
		{"rate_limits.token_per_ip", r.TokenPerIP},
		{"rate_limits.par_per_client", r.PARPerClient},
		{"rate_limits.par_per_ip", r.PARPerIP},
	} {
		if l.n < 0 {
			v.add(l.key, "must not be negative (0 turns the limit off)")
		}
	}
}

// clients checks each client with the same rules package clients applies
// to a stored or registered client, on a copy, plus the secret and
// uniqueness rules that only configuration can break.
func (v *validator) clients() {
	first := map[string]int{}
	for i, c := range v.f.Clients {
		prefix := fmt.Sprintf("clients[%d]", i)
		md := cloneClient(c.Metadata)
		for _, fe := range clients.Check(&md, c.Secret) {
			v.add(prefix+"."+fe.Field, "%s", fe.Message)
		}
		if md.ID != "" {
			if j, dup := first[md.ID]; dup {
				v.add(prefix+".client_id", "duplicate of clients[%d]", j)
			} else {
				first[md.ID] = i
			}
		}
	}
}

// reservedClaims are set by the server from the protocol or the account,
// never from configuration: a configured value would be ignored, or
// worse, be mistaken for the real one.
var reservedClaims = map[string]string{
	"sub":                "set it with subject",
	"preferred_username": "it is the username",
	"iss":                "", "aud": "", "exp": "", "iat": "", "nbf": "", "jti": "",
	"auth_time": "", "nonce": "", "acr": "", "amr": "", "azp": "",
	"at_hash": "", "c_hash": "", "sid": "", "cnf": "", "scope": "", "client_id": "",
}

// claimKinds are the JSON types of the OIDC Core §5.1 standard claims
// (https://openid.net/specs/openid-connect-core-1_0.html#StandardClaims)
// that are not strings.
var claimKinds = map[string]string{
	"email_verified":        "boolean",
	"phone_number_verified": "boolean",
	"updated_at":            "number",
	"address":               "object",
}

func (v *validator) users() {
	firstName := map[string]int{}
	firstSub := map[string]int{}
	for i, u := range v.f.Users {
		prefix := fmt.Sprintf("users[%d]", i)
		switch {
		case u.Username == "":
			v.add(prefix+".username", "required")
		case strings.ContainsFunc(u.Username, func(r rune) bool { return r < 0x20 || r == 0x7f }):
			v.add(prefix+".username", "must not contain control characters")
		default:
			if j, dup := firstName[u.Username]; dup {
				v.add(prefix+".username", "duplicate of users[%d]", j)
			} else {
				firstName[u.Username] = i
			}
		}
		switch {
		case u.Password == "":
			v.add(prefix+".password", "required")
		case len(u.Password) < minPasswordLen:
			v.add(prefix+".password", "must be at least %d characters", minPasswordLen)
		}
		if u.Subject != "" && (len(u.Subject) > maxSubjectLen || strings.ContainsFunc(u.Subject, func(r rune) bool { return r < 0x21 || r > 0x7e })) {
			v.add(prefix+".subject", "must be 1-%d printable ASCII characters", maxSubjectLen)
		}
		if sub := effectiveSubject(u); sub != "" {
			if j, dup := firstSub[sub]; dup && u.Username != v.f.Users[j].Username {
				v.add(prefix+".subject", "same subject as users[%d]", j)
			} else if !dup {
				firstSub[sub] = i
			}
		}
		for _, name := range slices.Sorted(maps.Keys(u.Claims)) {
			v.claim(prefix+"."+name, name, u.Claims[name])
		}
	}
}

func effectiveSubject(u User) string {
	if u.Subject != "" {
		return u.Subject
	}
	if u.Username == "" {
		return ""
	}
	return authserver.SubjectFor(u.Username)
}

func (v *validator) claim(key, name string, value any) {
	if why, ok := reservedClaims[name]; ok {
		if why == "" {
			why = "the server sets it"
		}
		v.add(key, "cannot be configured: %s", why)
		return
	}
	want, ok := claimKinds[name]
	if !ok {
		want = "string"
		if !isStandardStringClaim(name) {
			if _, err := json.Marshal(value); err != nil {
				v.add(key, "cannot be represented as JSON")
			}
			return
		}
	}
	if got := jsonKind(value); got != want {
		v.add(key, "must be a %s", want)
	}
}

// isStandardStringClaim lists the OIDC Core §5.1 claims whose value is a
// JSON string.
func isStandardStringClaim(name string) bool {
	switch name {
	case "name", "given_name", "family_name", "middle_name", "nickname", "profile",
		"picture", "website", "email", "gender", "birthdate", "zoneinfo", "locale", "phone_number":
		return true
	}
	return false
}

// jsonKind names the JSON type of a value decoded from YAML or JSON.
func jsonKind(v any) string {
	switch v.(type) {
	case string:
		return "string"
	case bool:
		return "boolean"
	case float64, int, int64, uint64, json.Number:
		return "number"
	case map[string]any:
		return "object"
	case []any:
		return "array"
	case nil:
		return "null"
	}
	return fmt.Sprintf("%T", v)
}
