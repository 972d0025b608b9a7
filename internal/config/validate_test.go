package config

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/bulwarkauth/bulwark/internal/clients"
	"github.com/bulwarkauth/bulwark/internal/oauth"
)

// testJWKS is a public P-256 key set, the same as in testdata/full.yaml.
const testJWKS = `{"keys":[{"kty":"EC","crv":"P-256","kid":"-wy54xJ1KAtN8ABxKdf6Jg","alg":"ES256","use":"sig","x":"jl0CbL04kXImtT7WPepmMRxE-StPfslBw3hdD6YKYec","y":"UBzLDUaULJr_W1ogMyg47E02k5sdWlFrXjzxmtlQyGo"}]}`

// validFile returns a fresh valid configuration with a FAPI 2.0 client
// (index 0), a secret client (1), a public client (2) and a user.
func validFile() *File {
	f := Default()
	f.Clients = []Client{
		{Metadata: clients.Client{
			ID: "bank-app", ProfileName: clients.ProfileFAPI2, AuthMethod: oauth.AuthPrivateKeyJWT,
			JWKS: []byte(testJWKS), RedirectURIs: []string{"https://app.example/cb", "http://127.0.0.1:7777/cb"},
			GrantTypes: []string{oauth.GrantAuthorizationCode, oauth.GrantClientCredentials},
			Scopes:     oauth.NewScopes("openid", "accounts"),
		}},
		{Secret: "portal-secret-0123456789", Metadata: clients.Client{
			ID: "portal", ProfileName: clients.ProfileStandard, AuthMethod: oauth.AuthClientSecretBasic,
			RedirectURIs: []string{"https://portal.example/cb"},
		}},
		{Metadata: clients.Client{
			ID: "cli", ProfileName: clients.ProfileStandard, AuthMethod: oauth.AuthNone,
			RedirectURIs: []string{"http://127.0.0.1/cb"},
		}},
	}
	f.Users = []User{{Username: "alice", Password: "wonderland-password", Claims: map[string]any{
		"email": "alice@example.com", "email_verified": true, "name": "Alice", "updated_at": 1700000000.0,
		"address": map[string]any{"country": "UK"}, "department": []any{"risk"},
	}}}
	return f
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name     string
		mutate   func(f *File)
		wantKeys []string
	}{
		{name: "ok/valid-file", mutate: func(f *File) {}},
		{name: "ok/defaults", mutate: func(f *File) { *f = *Default() }},
		{name: "ok/https-issuer-with-tls", mutate: func(f *File) {
			f.Issuer, f.Listen, f.TLS = "https://auth.example.com", ":443", TLS{CertFile: "c.pem", KeyFile: "k.pem"}
		}},
		{name: "ok/https-issuer-behind-tls-proxy", mutate: func(f *File) { f.Issuer, f.Listen = "https://auth.example.com", "0.0.0.0:8080" }},
		{name: "ok/issuer-with-path", mutate: func(f *File) { f.Issuer = "https://auth.example.com/tenants/a" }},
		{name: "ok/issuer-loopback-ipv6", mutate: func(f *File) { f.Issuer = "http://[::1]:8080" }},
		{name: "ok/issuer-localhost", mutate: func(f *File) { f.Issuer = "http://localhost:8080" }},
		{name: "ok/issuer-loopback-range", mutate: func(f *File) { f.Issuer = "http://127.10.0.1" }},
		{name: "ok/memory-without-dsn", mutate: func(f *File) { f.Storage = Storage{Driver: DriverMemory} }},
		{name: "ok/par-ttl-lower-bound", mutate: func(f *File) { f.Tokens.PARTTL = 10 * time.Second }},
		{name: "ok/par-ttl-upper-bound", mutate: func(f *File) { f.Tokens.PARTTL = 599 * time.Second }},
		{name: "ok/clock-skew-upper-bound", mutate: func(f *File) { f.Tokens.ClockSkew = 60 * time.Second }},
		{name: "ok/device-bounds", mutate: func(f *File) { f.Tokens.DeviceCodeTTL, f.Tokens.DevicePollInterval = time.Hour, time.Minute }},
		{name: "ok/rate-limits-off", mutate: func(f *File) { f.RateLimits = RateLimits{Window: time.Second} }},
		{name: "ok/user-subject", mutate: func(f *File) { f.Users[0].Subject = "248289761001" }},
		{name: "ok/client-secret-post", mutate: func(f *File) { f.Clients[1].Metadata.AuthMethod = oauth.AuthClientSecretPost }},

		{name: "fail/issuer-empty", mutate: func(f *File) { f.Issuer = "" }, wantKeys: []string{"issuer"}},
		{name: "fail/issuer-relative", mutate: func(f *File) { f.Issuer = "/auth" }, wantKeys: []string{"issuer"}},
		{name: "fail/issuer-http-public-host", mutate: func(f *File) { f.Issuer = "http://auth.example.com" }, wantKeys: []string{"issuer"}},
		{name: "fail/issuer-http-private-address", mutate: func(f *File) { f.Issuer = "http://10.0.0.1:8080" }, wantKeys: []string{"issuer"}},
		{name: "fail/issuer-http-with-tls", mutate: func(f *File) { f.TLS = TLS{CertFile: "c.pem", KeyFile: "k.pem"} }, wantKeys: []string{"issuer"}},
		{name: "fail/issuer-trailing-slash", mutate: func(f *File) { f.Issuer = "https://auth.example.com/" }, wantKeys: []string{"issuer"}},
		{name: "fail/issuer-query", mutate: func(f *File) { f.Issuer = "https://auth.example.com?tenant=a" }, wantKeys: []string{"issuer"}},
		{name: "fail/issuer-empty-query", mutate: func(f *File) { f.Issuer = "https://auth.example.com?" }, wantKeys: []string{"issuer"}},
		{name: "fail/issuer-fragment", mutate: func(f *File) { f.Issuer = "https://auth.example.com#a" }, wantKeys: []string{"issuer"}},
		{name: "fail/issuer-userinfo", mutate: func(f *File) { f.Issuer = "https://u:p@auth.example.com" }, wantKeys: []string{"issuer"}},
		{name: "fail/issuer-scheme", mutate: func(f *File) { f.Issuer = "ftp://auth.example.com" }, wantKeys: []string{"issuer"}},
		{name: "fail/issuer-upper-case-scheme", mutate: func(f *File) { f.Issuer = "HTTPS://auth.example.com" }, wantKeys: []string{"issuer"}},
		{name: "fail/listen-empty", mutate: func(f *File) { f.Listen = "" }, wantKeys: []string{"listen"}},
		{name: "fail/listen-no-port", mutate: func(f *File) { f.Listen = "127.0.0.1" }, wantKeys: []string{"listen"}},
		{name: "fail/listen-port-zero", mutate: func(f *File) { f.Listen = "127.0.0.1:0" }, wantKeys: []string{"listen"}},
		{name: "fail/listen-port-range", mutate: func(f *File) { f.Listen = "127.0.0.1:70000" }, wantKeys: []string{"listen"}},
		{name: "fail/tls-cert-without-key", mutate: func(f *File) { f.Issuer, f.TLS.CertFile = "https://a.example", "c.pem" }, wantKeys: []string{"tls"}},
		{name: "fail/tls-key-without-cert", mutate: func(f *File) { f.Issuer, f.TLS.KeyFile = "https://a.example", "k.pem" }, wantKeys: []string{"tls"}},
		{name: "fail/storage-driver", mutate: func(f *File) { f.Storage.Driver = "mysql" }, wantKeys: []string{"storage.driver"}},
		{name: "ok/storage-postgres", mutate: func(f *File) {
			f.Storage = Storage{Driver: DriverPostgres, DSN: "postgres://bulwark@db:5432/bulwark?sslmode=verify-full"}
		}},
		{name: "fail/storage-postgres-with-file-dsn", mutate: func(f *File) { f.Storage.Driver = DriverPostgres }, wantKeys: []string{"storage.dsn"}},
		{name: "ok/cache-redis", mutate: func(f *File) {
			f.Storage = Storage{Driver: DriverPostgres, DSN: "postgresql://db/bulwark"}
			f.Cache = Cache{Driver: CacheRedis, URL: "rediss://cache:6380/0", Prefix: "b:"}
		}},
		{name: "fail/cache-driver", mutate: func(f *File) { f.Cache.Driver = "memcached" }, wantKeys: []string{"cache.driver"}},
		{name: "fail/cache-redis-bad-url-and-prefix", mutate: func(f *File) {
			f.Cache = Cache{Driver: CacheRedis, URL: "http://cache:6379", Prefix: ""}
		}, wantKeys: []string{"cache.url", "cache.prefix"}},
		{name: "fail/cache-redis-over-memory", mutate: func(f *File) {
			f.Storage.Driver, f.Cache.Driver = DriverMemory, CacheRedis
		}, wantKeys: []string{"cache.driver"}},
		{name: "ok/cache-none-ignores-url", mutate: func(f *File) { f.Cache.URL, f.Cache.Prefix = "", "" }},
		{name: "fail/storage-sqlite-without-dsn", mutate: func(f *File) { f.Storage.DSN = "" }, wantKeys: []string{"storage.dsn"}},
		{name: "fail/dpop-max-age", mutate: func(f *File) { f.DPoP.MaxAge = 10 * time.Minute }, wantKeys: []string{"dpop.max_age"}},
		{name: "fail/dpop-max-future-short", mutate: func(f *File) { f.DPoP.MaxFuture = 5 * time.Second }, wantKeys: []string{"dpop.max_future"}},
		{name: "fail/dpop-max-future-long", mutate: func(f *File) { f.DPoP.MaxFuture = 61 * time.Second }, wantKeys: []string{"dpop.max_future"}},
		{name: "fail/dpop-nonce-lifetime", mutate: func(f *File) { f.DPoP.NonceLifetime = time.Second }, wantKeys: []string{"dpop.nonce_lifetime"}},
		{name: "fail/dpop-nonce-secret-short", mutate: func(f *File) { f.DPoP.NonceSecret = "short" }, wantKeys: []string{"dpop.nonce_secret"}},
		{name: "ok/dpop-nonce-secret", mutate: func(f *File) { f.DPoP.NonceSecret = strings.Repeat("s", 32) }},
		{name: "fail/mtls-listen-without-tls", mutate: func(f *File) { f.MTLS.Listen, f.MTLS.BaseURL = ":8443", "https://mtls.example" }, wantKeys: []string{"mtls.listen"}},
		{name: "fail/mtls-listen-without-base-url", mutate: func(f *File) {
			f.Issuer, f.TLS = "https://a.example", TLS{CertFile: "c.pem", KeyFile: "k.pem"}
			f.MTLS.Listen = ":8443"
		}, wantKeys: []string{"mtls.base_url"}},
		{name: "fail/mtls-base-url-http", mutate: func(f *File) {
			f.Issuer, f.TLS = "https://a.example", TLS{CertFile: "c.pem", KeyFile: "k.pem"}
			f.MTLS.Listen, f.MTLS.BaseURL = ":8443", "http://mtls.example"
		}, wantKeys: []string{"mtls.base_url"}},
		{name: "fail/mtls-base-url-without-listen", mutate: func(f *File) { f.MTLS.BaseURL = "https://mtls.example" }, wantKeys: []string{"mtls.listen"}},
		{name: "ok/mtls-listener", mutate: func(f *File) {
			f.Issuer, f.TLS = "https://a.example", TLS{CertFile: "c.pem", KeyFile: "k.pem"}
			f.MTLS.Listen, f.MTLS.BaseURL = ":8443", "https://mtls.a.example"
		}},
		{name: "fail/mtls-proxy-header-without-proxies", mutate: func(f *File) { f.MTLS.ProxyHeader = "X-Client-Cert" }, wantKeys: []string{"mtls.trusted_proxies"}},
		{name: "fail/mtls-proxy-header-name", mutate: func(f *File) {
			f.MTLS.ProxyHeader, f.MTLS.TrustedProxies = "X Client: Cert", []string{"10.0.0.1"}
		}, wantKeys: []string{"mtls.proxy_header"}},
		{name: "fail/mtls-trusted-proxy", mutate: func(f *File) { f.MTLS.TrustedProxies = []string{"10.0.0.0/8", "not-an-ip"} }, wantKeys: []string{"mtls.trusted_proxies"}},
		{name: "ok/mtls-proxy", mutate: func(f *File) {
			f.MTLS.ProxyHeader, f.MTLS.TrustedProxies = "X-Client-Cert", []string{"10.0.0.0/8", "::1"}
		}},
		{name: "fail/client-tls-auth-without-subject", mutate: func(f *File) {
			f.Clients[0].Metadata.AuthMethod, f.Clients[0].Metadata.JWKS = oauth.AuthTLSClientAuth, nil
		}, wantKeys: []string{"clients[0].tls_client_auth_subject_dn"}},
		{name: "ok/client-tls-auth", mutate: func(f *File) {
			f.Clients[0].Metadata.AuthMethod, f.Clients[0].Metadata.JWKS = oauth.AuthTLSClientAuth, nil
			f.Clients[0].Metadata.TLSClientAuthSANDNS = "app.bank.example"
		}},
		{name: "fail/client-self-signed-without-x5c", mutate: func(f *File) {
			f.Clients[0].Metadata.AuthMethod = oauth.AuthSelfSignedTLSClientAuth
		}, wantKeys: []string{"clients[0].jwks"}},
		{name: "fail/client-dpop-nonce", mutate: func(f *File) { f.Clients[0].Metadata.DPoPNonce = "sometimes" }, wantKeys: []string{"clients[0].dpop_nonce"}},
		{name: "fail/log-level", mutate: func(f *File) { f.Log.Level = "verbose" }, wantKeys: []string{"log.level"}},
		{name: "fail/log-level-offset", mutate: func(f *File) { f.Log.Level = "info+2" }, wantKeys: []string{"log.level"}},
		{name: "fail/ttl-zero", mutate: func(f *File) { f.Tokens.AccessTokenTTL = 0 }, wantKeys: []string{"tokens.access_token_ttl"}},
		{name: "fail/ttl-negative", mutate: func(f *File) { f.Tokens.SessionTTL = -time.Hour }, wantKeys: []string{"tokens.session_ttl"}},
		{name: "fail/every-ttl-zero", mutate: func(f *File) { f.Tokens = Tokens{} }, wantKeys: []string{
			"tokens.access_token_ttl", "tokens.id_token_ttl", "tokens.refresh_token_ttl", "tokens.login_ttl",
			"tokens.session_ttl", "tokens.par_ttl", "tokens.clock_skew", "tokens.secret_cache_ttl",
			"tokens.device_code_ttl", "tokens.device_poll_interval",
		}},
		{name: "fail/par-ttl-too-short", mutate: func(f *File) { f.Tokens.PARTTL = 9 * time.Second }, wantKeys: []string{"tokens.par_ttl"}},
		{name: "fail/par-ttl-600s", mutate: func(f *File) { f.Tokens.PARTTL = 600 * time.Second }, wantKeys: []string{"tokens.par_ttl"}},
		{name: "fail/clock-skew-below-fapi", mutate: func(f *File) { f.Tokens.ClockSkew = 5 * time.Second }, wantKeys: []string{"tokens.clock_skew"}},
		{name: "fail/clock-skew-above-fapi", mutate: func(f *File) { f.Tokens.ClockSkew = 61 * time.Second }, wantKeys: []string{"tokens.clock_skew"}},
		{name: "fail/secret-cache-too-long", mutate: func(f *File) { f.Tokens.SecretCacheTTL = 2 * time.Hour }, wantKeys: []string{"tokens.secret_cache_ttl"}},
		{name: "fail/device-code-ttl-too-short", mutate: func(f *File) { f.Tokens.DeviceCodeTTL = 30 * time.Second }, wantKeys: []string{"tokens.device_code_ttl"}},
		{name: "fail/device-code-ttl-too-long", mutate: func(f *File) { f.Tokens.DeviceCodeTTL = 2 * time.Hour }, wantKeys: []string{"tokens.device_code_ttl"}},
		{name: "fail/device-poll-interval-zero", mutate: func(f *File) { f.Tokens.DevicePollInterval = 0 }, wantKeys: []string{"tokens.device_poll_interval"}},
		{name: "fail/device-poll-interval-fraction", mutate: func(f *File) { f.Tokens.DevicePollInterval = 1500 * time.Millisecond }, wantKeys: []string{"tokens.device_poll_interval"}},
		{name: "fail/device-poll-interval-too-long", mutate: func(f *File) { f.Tokens.DevicePollInterval = 2 * time.Minute }, wantKeys: []string{"tokens.device_poll_interval"}},
		{name: "fail/rate-window", mutate: func(f *File) { f.RateLimits.Window = 0 }, wantKeys: []string{"rate_limits.window"}},
		{name: "fail/rate-limit-negative", mutate: func(f *File) { f.RateLimits.TokenPerIP = -1 }, wantKeys: []string{"rate_limits.token_per_ip"}},
		{name: "fail/client-redirect-http-public", mutate: func(f *File) {
			f.Clients[0].Metadata.RedirectURIs[1] = "http://app.example/cb"
		}, wantKeys: []string{"clients[0].redirect_uris[1]"}},
		{name: "fail/client-fapi2-secret-method", mutate: func(f *File) {
			f.Clients[1].Metadata.ProfileName = clients.ProfileFAPI2
		}, wantKeys: []string{"clients[1].token_endpoint_auth_method"}},
		{name: "fail/client-without-id", mutate: func(f *File) { f.Clients[2].Metadata.ID = "" }, wantKeys: []string{"clients[2].client_id"}},
		{name: "fail/client-duplicate-id", mutate: func(f *File) { f.Clients[2].Metadata.ID = "bank-app" }, wantKeys: []string{"clients[2].client_id"}},
		{name: "fail/client-bad-jwks", mutate: func(f *File) { f.Clients[0].Metadata.JWKS = []byte(`{"keys":[{"kty":"oct","k":"c2VjcmV0"}]}`) }, wantKeys: []string{"clients[0].jwks"}},
		{name: "fail/client-secret-missing", mutate: func(f *File) { f.Clients[1].Secret = "" }, wantKeys: []string{"clients[1].client_secret"}},
		{name: "fail/client-secret-short", mutate: func(f *File) { f.Clients[1].Secret = "too-short" }, wantKeys: []string{"clients[1].client_secret"}},
		{name: "fail/client-secret-for-private-key-jwt", mutate: func(f *File) { f.Clients[0].Secret = "portal-secret-0123456789" }, wantKeys: []string{"clients[0].client_secret"}},
		{name: "fail/client-secret-for-public-client", mutate: func(f *File) { f.Clients[2].Secret = "portal-secret-0123456789" }, wantKeys: []string{"clients[2].client_secret"}},
		{name: "fail/client-credentials-public", mutate: func(f *File) {
			f.Clients[2].Metadata.GrantTypes = []string{oauth.GrantClientCredentials}
		}, wantKeys: []string{"clients[2].grant_types"}},
		{name: "fail/user-without-username", mutate: func(f *File) { f.Users[0].Username = "" }, wantKeys: []string{"users[0].username"}},
		{name: "fail/user-username-control-character", mutate: func(f *File) { f.Users[0].Username = "al\nice" }, wantKeys: []string{"users[0].username"}},
		{name: "fail/user-without-password", mutate: func(f *File) { f.Users[0].Password = "" }, wantKeys: []string{"users[0].password"}},
		{name: "fail/user-short-password", mutate: func(f *File) { f.Users[0].Password = "1234567" }, wantKeys: []string{"users[0].password"}},
		{name: "fail/user-duplicate-username", mutate: func(f *File) {
			f.Users = append(f.Users, User{Username: "alice", Password: "another-password"})
		}, wantKeys: []string{"users[1].username"}},
		{name: "fail/user-duplicate-subject", mutate: func(f *File) {
			f.Users[0].Subject = "s-1"
			f.Users = append(f.Users, User{Username: "bob", Password: "builder-password", Subject: "s-1"})
		}, wantKeys: []string{"users[1].subject"}},
		{name: "fail/user-subject-too-long", mutate: func(f *File) { f.Users[0].Subject = strings.Repeat("s", 256) }, wantKeys: []string{"users[0].subject"}},
		{name: "fail/user-subject-space", mutate: func(f *File) { f.Users[0].Subject = "a b" }, wantKeys: []string{"users[0].subject"}},
		{name: "fail/user-reserved-claims", mutate: func(f *File) {
			f.Users[0].Claims["sub"] = "x"
			f.Users[0].Claims["acr"] = "x"
		}, wantKeys: []string{"users[0].acr", "users[0].sub"}},
		{name: "fail/user-claim-types", mutate: func(f *File) {
			f.Users[0].Claims["email_verified"] = "yes"
			f.Users[0].Claims["email"] = []any{"a@example.com"}
			f.Users[0].Claims["address"] = "Wonderland"
		}, wantKeys: []string{"users[0].address", "users[0].email", "users[0].email_verified"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := validFile()
			tc.mutate(f)
			err := f.Validate()
			if diff := cmp.Diff(tc.wantKeys, problemKeys(t, err), cmpopts.EquateEmpty()); diff != "" {
				t.Errorf("problem keys (-want +got):\n%s\nerror:\n%v", diff, err)
			}
		})
	}
}

// TestValidateReportsEveryProblem checks that one bad file yields one
// problem per mistake rather than stopping at the first.
func TestValidateReportsEveryProblem(t *testing.T) {
	f := validFile()
	// Two issuer problems: the trailing '/', and plain http although
	// tls is configured.
	f.Issuer = "http://auth.example.com/"
	f.TLS.CertFile = "c.pem" // key_file missing
	f.Storage.Driver = "mysql"
	f.Tokens.PARTTL = time.Hour
	f.Tokens.ClockSkew = 2 * time.Minute
	f.Clients[0].Metadata.RedirectURIs[1] = "http://app.example/cb"
	f.Clients[2].Metadata.ID = "portal" // duplicate
	// Four user problems: a duplicate username without password, and a
	// user without username whose password is too short.
	f.Users = append(f.Users, User{Username: "alice"}, User{Password: "x"})
	err := f.Validate()
	keys := problemKeys(t, err)
	if len(keys) != 12 {
		t.Errorf("Validate reported %d problems, want 12:\n%v", len(keys), err)
	}
}

func TestValidateDoesNotModify(t *testing.T) {
	f, err := Load("testdata/full.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	f.Clients = append(f.Clients, Client{Metadata: clients.Client{ID: "defaults-filled-in-by-validate", AuthMethod: oauth.AuthNone, RedirectURIs: []string{"http://127.0.0.1/cb"}}})
	before, err := Load("testdata/full.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	before.Clients = append(before.Clients, Client{Metadata: clients.Client{ID: "defaults-filled-in-by-validate", AuthMethod: oauth.AuthNone, RedirectURIs: []string{"http://127.0.0.1/cb"}}})
	_ = f.Validate()
	if diff := cmp.Diff(before, f, cmp.Exporter(func(reflect.Type) bool { return true })); diff != "" {
		t.Errorf("Validate modified the File (-before +after):\n%s", diff)
	}
}

func TestProblemSourceOfNestedKey(t *testing.T) {
	data := "clients:\n  - client_id: a\n    token_endpoint_auth_method: none\n    redirect_uris:\n      - https://a.example/cb\n      - http://a.example/cb\n"
	f, err := load("c.yaml", []byte(data), nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []Problem
	if err := f.Validate(); err != nil {
		got = err.(Problems)
	}
	want := []Problem{{Key: "clients[0].redirect_uris[1]", Source: "c.yaml:6"}}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(Problem{}, "Message")); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}
