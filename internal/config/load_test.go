package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/bulwarkauth/bulwark/internal/clients"
	"github.com/bulwarkauth/bulwark/internal/oauth"
)

// ignoreDerived compares Files and clients by their configured data only:
// not File.origin, and not the fields clients.Client.Validate derives.
var ignoreDerived = cmp.Options{
	cmpopts.IgnoreUnexported(File{}, clients.Client{}),
	cmpopts.EquateEmpty(),
}

// problemKeys returns the keys of err's Problems, failing the test for any
// other kind of error.
func problemKeys(t *testing.T, err error) []string {
	t.Helper()
	if err == nil {
		return nil
	}
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("error is %T, not Problems: %v", err, err)
	}
	return ps.Keys()
}

func TestLoadFull(t *testing.T) {
	got, err := Load("testdata/full.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	want := &File{
		Issuer:  "https://auth.example.com/tenant",
		Listen:  "0.0.0.0:8443",
		TLS:     TLS{CertFile: "/etc/bulwark/tls.crt", KeyFile: "/etc/bulwark/tls.key", ClientCAFile: "/etc/bulwark/client-ca.pem"},
		Storage: Storage{Driver: DriverPostgres, DSN: "postgres://bulwark@db.internal:5432/bulwark?pool_max_conns=20"},
		Cache:   Cache{Driver: CacheRedis, URL: "rediss://cache.internal:6380/2", Prefix: "tenant-a:"},
		Log:     Log{Level: "debug"},
		Tokens: Tokens{
			AccessTokenTTL: 2 * time.Minute, IDTokenTTL: 3 * time.Minute, RefreshTokenTTL: 24 * time.Hour,
			PARTTL: 90 * time.Second, LoginTTL: 15 * time.Minute, SessionTTL: time.Hour,
			ClockSkew: 20 * time.Second, SecretCacheTTL: time.Minute, DeviceCodeTTL: 15 * time.Minute, DevicePollInterval: 7 * time.Second,
		},
		RateLimits: RateLimits{Window: 30 * time.Second, LoginPerIP: 5, TokenPerClient: 100, TokenPerIP: 200, PARPerClient: 50, PARPerIP: 60},
		DPoP:       DPoP{MaxAge: 45 * time.Second, MaxFuture: 15 * time.Second, NonceLifetime: 2 * time.Minute, NonceSecret: "a-shared-nonce-secret-of-32-chars-or-more"},
		MTLS:       MTLS{Listen: "0.0.0.0:9443", BaseURL: "https://mtls.auth.example.com/tenant", ProxyHeader: "X-Client-Cert", TrustedProxies: []string{"10.0.0.0/8", "192.0.2.10"}},
		Clients: []Client{
			{Metadata: clients.Client{
				ID: "bank-app", Name: "Bank App", ProfileName: clients.ProfileFAPI2, AuthMethod: oauth.AuthPrivateKeyJWT,
				JWKS:                     []byte(`{"keys":[{"alg":"ES256","crv":"P-256","kid":"-wy54xJ1KAtN8ABxKdf6Jg","kty":"EC","use":"sig","x":"jl0CbL04kXImtT7WPepmMRxE-StPfslBw3hdD6YKYec","y":"UBzLDUaULJr_W1ogMyg47E02k5sdWlFrXjzxmtlQyGo"}]}`),
				RedirectURIs:             []string{"https://app.example/cb"},
				GrantTypes:               []string{"authorization_code", "refresh_token", "client_credentials"},
				Scopes:                   oauth.Scopes{"openid", "profile", "email", "accounts"},
				IDTokenSignedResponseAlg: "ES256",
				Audience:                 []string{"https://api.example"},
			}},
			{Secret: "portal-secret-0123456789", Metadata: clients.Client{
				ID: "portal", Name: "Portal", ProfileName: clients.ProfileStandard, AuthMethod: oauth.AuthClientSecretBasic,
				RedirectURIs: []string{"https://portal.example/cb", "http://127.0.0.1:7777/cb"},
				GrantTypes:   []string{"authorization_code", "client_credentials"},
				Scopes:       oauth.Scopes{"openid", "api"},
			}},
			{Metadata: clients.Client{
				ID: "partner", ProfileName: clients.ProfileFAPI2, AuthMethod: oauth.AuthPrivateKeyJWT,
				JWKSURI: "https://partner.example/jwks.json", RedirectURIs: []string{"https://partner.example/cb"},
			}},
		},
		Users: []User{
			{Username: "alice", Password: "wonderland-password", Subject: "248289761001", Claims: map[string]any{
				"email": "alice@example.com", "email_verified": true, "name": "Alice Liddell",
				"address": map[string]any{"country": "UK"},
			}},
			{Username: "bob", Password: "builder-password", Claims: map[string]any{"name": "Bob"}},
		},
		Admin: defaultAdmin(),
		Gateway: Gateway{
			Listen: "0.0.0.0:9090", AdminListen: "127.0.0.1:9091", BaseURL: "https://api.example.com",
			TLS:    GatewayTLS{CertFile: "/etc/bulwark/gateway.crt", KeyFile: "/etc/bulwark/gateway.key"},
			Issuer: "https://auth.example.com/tenant", IssuerCAFile: "/etc/bulwark/as-ca.pem",
			Audiences:        []string{"https://api.example.com", "resource-server"},
			SenderConstraint: "dpop", Leeway: 20 * time.Second, ReplayStore: ReplayStorage,
			DPoP: GatewayDPoP{Nonce: NonceRequired, NonceSecret: "the-gateway-nonce-secret-of-32-chars-or-more"},
			Introspection: GatewayIntrospection{
				ClientID: "resource-server", PrivateKeyFile: "/etc/bulwark/gateway-key.pem", KeyID: "gw-1",
				SignedResponse: true, CacheTTL: 10 * time.Second,
			},
			MTLS: GatewayMTLS{ProxyHeader: "X-Client-Cert", TrustedProxies: []string{"10.1.0.0/16"}},
			ResourceMetadata: GatewayMetadata{
				Resource: "https://api.example.com", ScopesSupported: []string{"accounts", "payments"},
				Documentation: "https://api.example.com/docs", Name: "Example API",
			},
			Routes: []Route{
				{
					Name: "accounts", PathPrefix: "/accounts", Methods: []string{"GET", "POST"},
					Upstream: "https://accounts.internal:8443/v1", UpstreamCAFile: "/etc/bulwark/internal-ca.pem", StripPrefix: true,
					Resource: "https://api.example.com/accounts", Scopes: []string{"accounts"},
					Audiences: []string{"https://api.example.com/accounts"}, AllowBearer: true,
					Policy: "/etc/bulwark/accounts.rego", PolicyHeaders: []string{"X-Tenant"},
					ForwardHeaders:       ForwardHeaders{Subject: "X-User", ClientID: "X-Client", Scopes: "-", JKT: "X-Key", X5T: "X-Cert"},
					ForwardAuthorization: true, ConnectTimeout: 2 * time.Second, Timeout: 15 * time.Second,
				},
				{PathPrefix: "/payments", Upstream: "http://127.0.0.1:7000", Scopes: []string{"payments"}},
			},
		},
		BFF: Default().BFF,
	}
	if diff := cmp.Diff(want, got, ignoreDerived); diff != "" {
		t.Errorf("Load(full.yaml) mismatch (-want +got):\n%s", diff)
	}
	if err := got.Validate(); err != nil {
		t.Errorf("full.yaml does not validate:\n%v", err)
	}
}

// loadCases feed TestLoad and seed FuzzLoad. A case with wantKeys expects
// Load to fail with problems at exactly those keys; otherwise check (or,
// when nil, equality with Default) judges the result.
var loadCases = []struct {
	name     string
	yaml     string
	env      Env
	wantKeys []string
	check    func(t *testing.T, f *File)
}{
	{name: "ok/empty-file", yaml: ""},
	{name: "ok/comments-only", yaml: "# nothing configured\n"},
	{name: "ok/null-values-keep-defaults", yaml: "issuer:\ntokens:\n  par_ttl: ~\nclients:\n"},
	{
		name: "ok/partial-section-keeps-other-defaults",
		yaml: "tokens: {par_ttl: 30s}\n",
		check: func(t *testing.T, f *File) {
			want := Default().Tokens
			want.PARTTL = 30 * time.Second
			if diff := cmp.Diff(want, f.Tokens); diff != "" {
				t.Errorf("tokens (-want +got):\n%s", diff)
			}
		},
	},
	{
		name: "ok/aliases",
		yaml: "tls: {cert_file: &pem /etc/tls.pem, key_file: *pem}\n",
		check: func(t *testing.T, f *File) {
			if f.TLS.KeyFile != "/etc/tls.pem" {
				t.Errorf("tls.key_file = %q", f.TLS.KeyFile)
			}
		},
	},
	{
		name: "ok/unquoted-scalars-are-strings",
		yaml: "users: [{username: 1234, password: true, subject: 42}]\n",
		check: func(t *testing.T, f *File) {
			u := f.Users[0]
			if u.Username != "1234" || u.Password != "true" || u.Subject != "42" {
				t.Errorf("user = %+v", u)
			}
		},
	},
	{
		name: "ok/env-overrides-file",
		yaml: "issuer: https://file.example\nlisten: 127.0.0.1:9000\n",
		env:  Env{"BULWARK_ISSUER": "https://env.example"},
		check: func(t *testing.T, f *File) {
			if f.Issuer != "https://env.example" || f.Listen != "127.0.0.1:9000" {
				t.Errorf("issuer, listen = %q, %q", f.Issuer, f.Listen)
			}
		},
	},
	{
		name: "ok/env-document-replaces-list",
		yaml: "clients: [{client_id: a}, {client_id: b}]\n",
		env:  Env{"BULWARK_CLIENTS": `[{"client_id": "c", "redirect_uris": ["https://c.example/cb"]}]`},
		check: func(t *testing.T, f *File) {
			if len(f.Clients) != 1 || f.Clients[0].Metadata.ID != "c" || len(f.Clients[0].Metadata.RedirectURIs) != 1 {
				t.Errorf("clients = %+v", f.Clients)
			}
		},
	},
	{
		name: "ok/env-empty-document-clears-list",
		yaml: "users: [{username: a, password: aaaaaaaa}]\n",
		env:  Env{"BULWARK_USERS": ""},
		check: func(t *testing.T, f *File) {
			if len(f.Users) != 0 {
				t.Errorf("users = %+v", f.Users)
			}
		},
	},
	{name: "ok/env-other-variables-ignored", env: Env{"HOME": "/root", "BULWARKX": "1", "BULWARK_TEST_LOG": "1"}},

	{name: "fail/unknown-key", yaml: "isuer: https://a.example\n", wantKeys: []string{"isuer"}},
	{name: "fail/unknown-nested-key", yaml: "tokens:\n  par_tll: 30s\n", wantKeys: []string{"tokens.par_tll"}},
	{name: "fail/unknown-client-key", yaml: "clients:\n  - client_id: a\n    redirect_uri: https://a.example/cb\n", wantKeys: []string{"clients[0].redirect_uri"}},
	{name: "fail/duplicate-key", yaml: "issuer: https://a.example\nissuer: https://b.example\n", wantKeys: []string{"issuer"}},
	{name: "fail/duplicate-client-key", yaml: "clients: [{client_id: a, client_id: b}]\n", wantKeys: []string{"clients[0].client_id"}},
	{name: "fail/duration-without-unit", yaml: "tokens: {par_ttl: 60}\n", wantKeys: []string{"tokens.par_ttl"}},
	{name: "fail/not-a-number", yaml: "rate_limits: {login_per_ip: many}\n", wantKeys: []string{"rate_limits.login_per_ip"}},
	{name: "fail/section-not-mapping", yaml: "tls: yes\n", wantKeys: []string{"tls"}},
	{name: "fail/scalar-given-list", yaml: "issuer: [https://a.example]\n", wantKeys: []string{"issuer"}},
	{name: "fail/list-given-mapping", yaml: "clients: {client_id: a}\n", wantKeys: []string{"clients"}},
	{name: "fail/entry-not-mapping", yaml: "users: [alice]\n", wantKeys: []string{"users[0]"}},
	{name: "fail/client-field-type", yaml: "clients: [{client_id: a, redirect_uris: https://a.example/cb}]\n", wantKeys: []string{"clients[0].redirect_uris"}},
	{name: "fail/client-secret-not-string", yaml: "clients: [{client_id: a, client_secret: [x]}]\n", wantKeys: []string{"clients[0].client_secret"}},
	{name: "fail/claim-not-json", yaml: "users: [{username: a, address: {1: x}}]\n", wantKeys: []string{"users[0].address"}},
	{name: "fail/invalid-yaml", yaml: "issuer: [\n", wantKeys: []string{"bulwark.yaml"}},
	{name: "fail/two-documents", yaml: "issuer: a\n---\nissuer: b\n", wantKeys: []string{"bulwark.yaml"}},
	{name: "fail/top-level-not-mapping", yaml: "- issuer\n", wantKeys: []string{"(top level)"}},
	{name: "fail/env-unknown-variable", env: Env{"BULWARK_ISUER": "https://a.example", "BULWARK_TOKENS_TTL": "1m"}, wantKeys: []string{"BULWARK_ISUER", "BULWARK_TOKENS_TTL"}},
	{name: "fail/env-bad-duration", env: Env{"BULWARK_TOKENS_PAR_TTL": "soon"}, wantKeys: []string{"tokens.par_ttl"}},
	{name: "fail/env-bad-number", env: Env{"BULWARK_RATE_LIMITS_WINDOW": "1m", "BULWARK_RATE_LIMITS_PAR_PER_IP": "1.5"}, wantKeys: []string{"rate_limits.par_per_ip"}},
	{name: "fail/env-bad-document", env: Env{"BULWARK_CLIENTS": "[{"}, wantKeys: []string{"clients"}},
	{name: "fail/env-document-unknown-key", env: Env{"BULWARK_USERS": `[{"username": "a"}]`, "BULWARK_CLIENTS": `[{"client_idd": "a"}]`}, wantKeys: []string{"clients[0].client_idd"}},
	{
		name:     "fail/every-problem-at-once",
		yaml:     "isuer: x\ntokens: {par_ttl: 1, clock_skew: 2}\nclients: [{client_id: a, redirect_uri: x}]\n",
		env:      Env{"BULWARK_LISTEN_PORT": "1"},
		wantKeys: []string{"isuer", "tokens.par_ttl", "tokens.clock_skew", "clients[0].redirect_uri", "BULWARK_LISTEN_PORT"},
	},
}

func TestLoad(t *testing.T) {
	for _, tc := range loadCases {
		t.Run(tc.name, func(t *testing.T) {
			f, err := load("bulwark.yaml", []byte(tc.yaml), tc.env)
			if diff := cmp.Diff(tc.wantKeys, problemKeys(t, err), cmpopts.EquateEmpty()); diff != "" {
				t.Fatalf("problem keys (-want +got):\n%s\nerror:\n%v", diff, err)
			}
			if err != nil {
				if f != nil {
					t.Error("Load returned a File along with an error")
				}
				return
			}
			if tc.check != nil {
				tc.check(t, f)
			} else if diff := cmp.Diff(Default(), f, ignoreDerived); diff != "" {
				t.Errorf("want Default (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	_, err := Load(filepath.Join(t.TempDir(), "absent.yaml"), nil)
	if !errors.Is(err, os.ErrNotExist) {
		t.Errorf("Load(absent) = %v, want an error wrapping os.ErrNotExist", err)
	}
}

func TestProblemSources(t *testing.T) {
	_, err := load("cfg.yaml", []byte("issuer: x\ntokens:\n  par_tll: 1s\n"), Env{"BULWARK_TOKENS_CLOCK_SKEW": "never"})
	var ps Problems
	if !errors.As(err, &ps) {
		t.Fatalf("err = %v", err)
	}
	got := map[string]string{}
	for _, p := range ps {
		got[p.Key] = p.Source
	}
	want := map[string]string{"tokens.par_tll": "cfg.yaml:3", "tokens.clock_skew": "BULWARK_TOKENS_CLOCK_SKEW"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("sources (-want +got):\n%s", diff)
	}
}

// leaf is a configuration key found by walking File in the test, apart
// from the package's own schema walk.
type leaf struct {
	path  string
	index []int
	typ   reflect.Type
}

func leaves(t reflect.Type, prefix string, index []int) []leaf {
	var out []leaf
	for i := range t.NumField() {
		sf := t.Field(i)
		if !sf.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(sf.Tag.Get("yaml"), ",")
		if name == "" {
			panic("exported field " + sf.Name + " of " + t.Name() + " has no yaml tag")
		}
		path := name
		if prefix != "" {
			path = prefix + "." + name
		}
		idx := append(append([]int(nil), index...), i)
		if sf.Type.Kind() == reflect.Struct {
			out = append(out, leaves(sf.Type, path, idx)...)
		} else {
			out = append(out, leaf{path, idx, sf.Type})
		}
	}
	return out
}

// TestEnvOverridesEveryKey sets each key of File, found by reflection,
// through its environment variable alone and checks that it arrived.
func TestEnvOverridesEveryKey(t *testing.T) {
	all := leaves(reflect.TypeFor[File](), "", nil)
	if len(all) != len(Keys()) {
		t.Errorf("File has %d keys, Keys() lists %d", len(all), len(Keys()))
	}
	for _, l := range all {
		env := "BULWARK_" + strings.ToUpper(strings.ReplaceAll(l.path, ".", "_"))
		t.Run(env, func(t *testing.T) {
			var value string
			var want any
			switch l.typ {
			case reflect.TypeFor[string]():
				value, want = "env:"+l.path, "env:"+l.path
			case reflect.TypeFor[int]():
				value, want = "7", 7
			case reflect.TypeFor[bool]():
				value, want = "true", true
			case reflect.TypeFor[time.Duration]():
				value, want = "7s", 7*time.Second
			case reflect.TypeFor[[]string]():
				value, want = `["192.0.2.1", "10.0.0.0/8"]`, []string{"192.0.2.1", "10.0.0.0/8"}
			case reflect.TypeFor[[]Client]():
				value = `[{"client_id": "from-env", "scopes": ["openid"]}]`
				want = []Client{{Metadata: clients.Client{ID: "from-env", Scopes: oauth.Scopes{"openid"}}}}
			case reflect.TypeFor[[]Route]():
				value = `[{"path_prefix": "/env", "upstream": "http://127.0.0.1:1", "allow_bearer": true, "forward_headers": {"jkt": "-"}}]`
				want = []Route{{PathPrefix: "/env", Upstream: "http://127.0.0.1:1", AllowBearer: true, ForwardHeaders: ForwardHeaders{JKT: "-"}}}
			case reflect.TypeFor[[]BFFRoute]():
				value = `[{"path_prefix": "/api/", "upstream": "http://127.0.0.1:1", "strip_prefix": true}]`
				want = []BFFRoute{{PathPrefix: "/api/", Upstream: "http://127.0.0.1:1", StripPrefix: true}}
			case reflect.TypeFor[[]User]():
				value = `[{"username": "from-env", "password": "p", "locale": "de"}]`
				want = []User{{Username: "from-env", Password: "p", Claims: map[string]any{"locale": "de"}}}
			default:
				t.Fatalf("no test value for type %s: extend this switch", l.typ)
			}
			f, err := Load("", Env{env: value})
			if err != nil {
				t.Fatal(err)
			}
			got := reflect.ValueOf(f).Elem().FieldByIndex(l.index).Interface()
			if diff := cmp.Diff(want, got, ignoreDerived); diff != "" {
				t.Errorf("%s=%s (-want +got):\n%s", env, value, diff)
			}
			if src := f.source(l.path); src != env {
				t.Errorf("source of %s = %q, want %q", l.path, src, env)
			}
		})
	}
}

func TestKeys(t *testing.T) {
	seen := map[string]string{}
	for _, k := range Keys() {
		if prev, dup := seen[k.Env]; dup {
			t.Errorf("%s and %s share the variable %s", prev, k.Path, k.Env)
		}
		seen[k.Env] = k.Path
		if !strings.HasPrefix(k.Env, EnvPrefix) || strings.HasPrefix(k.Env, testEnvPrefix) {
			t.Errorf("%s: variable %s is outside the configuration namespace", k.Path, k.Env)
		}
		if k.Document != (k.typ.Kind() == reflect.Slice) {
			t.Errorf("%s: Document = %v for type %s", k.Path, k.Document, k.typ)
		}
		// Every leaf type must parse from a string; setScalar's
		// default branch is for types this test would catch.
		if !k.Document {
			if msg := setScalar(reflect.New(k.typ).Elem(), "1s"); strings.HasPrefix(msg, "has unsupported type") {
				t.Errorf("%s: %s", k.Path, msg)
			}
		}
	}
}

func FuzzLoad(f *testing.F) {
	for _, tc := range loadCases {
		f.Add([]byte(tc.yaml))
	}
	if b, err := os.ReadFile("testdata/full.yaml"); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := load("fuzz.yaml", data, nil)
		if err != nil {
			var ps Problems
			if !errors.As(err, &ps) || len(ps) == 0 {
				t.Fatalf("load error is not a non-empty Problems: %v", err)
			}
			return
		}
		if err := file.Validate(); err != nil {
			problemKeys(t, err)
			return
		}
		if _, err := file.AuthServer(); err != nil {
			t.Fatalf("AuthServer failed after Validate passed: %v", err)
		}
	})
}
