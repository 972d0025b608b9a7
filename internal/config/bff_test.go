package config

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

const testPEMKey = `-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgzRYW947aFnEc1KRd
esIZTs+crJLIdTg4sUptxpmc2nShRANCAARE9Hue3eXEkkfzXDbBhmdfg4TxlBiO
SOJjfrfCWdvyHx/AykXFoFkZrB4hVOrWltltQOwgrzIkwxzjOds96NGj
-----END PRIVATE KEY-----
`

// validBFF returns a valid configuration with a bff section.
func validBFF(t *testing.T) *File {
	f := validFile()
	key := filepath.Join(t.TempDir(), "bff.pem")
	if err := os.WriteFile(key, []byte(testPEMKey), 0o600); err != nil {
		t.Fatal(err)
	}
	f.BFF.BaseURL = "https://app.example.com"
	f.BFF.ClientID = "bff"
	f.BFF.PrivateKeyFile = key
	f.BFF.Routes = []BFFRoute{{PathPrefix: "/api/", Upstream: "http://127.0.0.1:9000"}}
	return f
}

// TestBFFValidate names the key of every bff problem.
func TestBFFValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*File)
		keys   []string
	}{
		{"ok/valid", func(*File) {}, nil},
		{"fail/no base_url", func(f *File) { f.BFF.BaseURL = "" }, []string{"bff.base_url"}},
		{"fail/base_url with path", func(f *File) { f.BFF.BaseURL = "https://app.example.com/app" }, []string{"bff.base_url"}},
		{"fail/plain http base_url", func(f *File) { f.BFF.BaseURL = "http://app.example.com" }, []string{"bff.base_url"}},
		{"fail/__Host- on http", func(f *File) {
			f.BFF.BaseURL = "http://127.0.0.1:8070"
			f.origin = map[string]string{"bff.cookie.name": "test"}
		}, []string{"bff.cookie.name"}},
		{"ok/default cookie on loopback http", func(f *File) { f.BFF.BaseURL = "http://127.0.0.1:8070" }, nil},
		{"fail/no credentials", func(f *File) { f.BFF.PrivateKeyFile = "" }, []string{"bff.private_key_file"}},
		{"fail/both credentials", func(f *File) { f.BFF.ClientSecret = "s" }, []string{"bff.client_secret"}},
		{"fail/dpop", func(f *File) { f.BFF.DPoP = "sometimes" }, []string{"bff.dpop"}},
		{"fail/redis without cache and secret", func(f *File) { f.BFF.SessionStore, f.Cache.URL = SessionStoreRedis, "" }, []string{"bff.session_store", "bff.session_secret"}},
		{"fail/short secret", func(f *File) { f.BFF.SessionSecret = "short" }, []string{"bff.session_secret"}},
		{"fail/idle over lifetime", func(f *File) { f.BFF.IdleTimeout = 2 * time.Hour }, []string{"bff.idle_timeout"}},
		{"fail/refresh interval", func(f *File) { f.BFF.RefreshInterval = time.Second }, []string{"bff.refresh_interval"}},
		{"fail/same_site", func(f *File) { f.BFF.Cookie.SameSite = "none" }, []string{"bff.cookie.same_site"}},
		{"fail/csrf header", func(f *File) { f.BFF.CSRFHeader = "X CSRF" }, []string{"bff.csrf_header"}},
		{"fail/origin with path", func(f *File) { f.BFF.AllowedOrigins = []string{"https://a.example/x"} }, []string{"bff.allowed_origins[0]"}},
		{"fail/route over oauth2", func(f *File) { f.BFF.Routes[0].PathPrefix = "/oauth2/x" }, []string{"bff.routes[0].path_prefix"}},
		{"fail/route upstream", func(f *File) { f.BFF.Routes[0].Upstream = "ftp://x" }, []string{"bff.routes[0].upstream"}},
		{"fail/both static", func(f *File) { f.BFF.StaticDir, f.BFF.StaticUpstream = "/srv", "http://127.0.0.1:1" }, []string{"bff.static_upstream"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := validBFF(t)
			tc.mutate(f)
			err := f.Validate()
			var got []string
			if err != nil {
				got = problemKeys(t, err)
			}
			for _, k := range tc.keys {
				if !slices.Contains(got, k) {
					t.Errorf("problems %v lack %s", got, k)
				}
			}
			if tc.keys == nil && err != nil {
				t.Errorf("valid file: %v", err)
			}
		})
	}
}

// TestBFFConfig builds the role's configuration and reads the key.
func TestBFFConfig(t *testing.T) {
	f := validBFF(t)
	f.BFF.Cookie.SameSite = "strict"
	cfg, err := f.BFFConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Key == nil || cfg.Issuer != f.Issuer || cfg.SameSite != http.SameSiteStrictMode || len(cfg.Routes) != 1 || cfg.InsecureCookies {
		t.Errorf("BFFConfig = %+v", cfg)
	}
	var ps Problems
	if _, err := validFile().BFFConfig(); !errors.As(err, &ps) {
		t.Errorf("without a bff section: %v, want Problems", err)
	}
}

// TestBFFEnv overrides a bff key from the environment.
func TestBFFEnv(t *testing.T) {
	f, err := Load("", Env{"BULWARK_BFF_SESSION_LIFETIME": "2h", "BULWARK_BFF_CSRF_HEADER": "X-Requested-By"})
	if err != nil {
		t.Fatal(err)
	}
	if f.BFF.SessionLifetime != 2*time.Hour || f.BFF.CSRFHeader != "X-Requested-By" {
		t.Errorf("env not applied: %+v", f.BFF)
	}
}
