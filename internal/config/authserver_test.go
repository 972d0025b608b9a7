package config

import (
	"errors"
	"log/slog"
	"net/netip"
	"reflect"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/bulwarkauth/bulwark/internal/admin"
	"github.com/bulwarkauth/bulwark/internal/authserver"
	"github.com/bulwarkauth/bulwark/internal/clients"
	"github.com/bulwarkauth/bulwark/internal/oauth"
)

func TestAuthServer(t *testing.T) {
	f, err := Load("testdata/full.yaml", nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := f.AuthServer()
	if err != nil {
		t.Fatal(err)
	}
	want := authserver.Config{
		Issuer: "https://auth.example.com/tenant", Listen: "0.0.0.0:8443",
		TLSCertFile: "/etc/bulwark/tls.crt", TLSKeyFile: "/etc/bulwark/tls.key", TLSClientCAFile: "/etc/bulwark/client-ca.pem",
		MTLSListen: "0.0.0.0:9443", MTLSBaseURL: "https://mtls.auth.example.com/tenant",
		CertHeader: "X-Client-Cert", TrustedProxies: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.10/32")},
		DPoPMaxAge: 45 * time.Second, DPoPMaxFuture: 15 * time.Second, DPoPNonceLifetime: 2 * time.Minute,
		DPoPNonceSecret: []byte("a-shared-nonce-secret-of-32-chars-or-more"),
		AccessTokenTTL:  2 * time.Minute, IDTokenTTL: 3 * time.Minute, RefreshTokenTTL: 24 * time.Hour,
		PARTTL: 90 * time.Second, LoginTTL: 15 * time.Minute, SessionTTL: time.Hour,
		ClockSkew: 20 * time.Second, SecretCacheTTL: time.Minute, DeviceCodeTTL: 15 * time.Minute, DevicePollInterval: 7 * time.Second,
		Admin: authserver.AdminConfig{Scope: "bulwark:admin", Registration: admin.Registration{
			Mode: "disabled", Profile: "standard", Scopes: oauth.Scopes{"email", "offline_access", "openid", "profile"},
			ClientURI: "https://auth.example.com/tenant/register",
		}},
		RateLimits: authserver.RateLimits{Window: 30 * time.Second, LoginPerIP: 5, TokenPerClient: 100, TokenPerIP: 200, PARPerClient: 50, PARPerIP: 60},
	}
	for _, c := range f.Clients {
		want.Clients = append(want.Clients, authserver.StaticClient{Client: c.Metadata, Secret: c.Secret})
	}
	want.Users = []authserver.StaticUser{
		{Username: "alice", Password: "wonderland-password", Subject: "248289761001", Claims: map[string]any{
			"email": "alice@example.com", "email_verified": true, "name": "Alice Liddell",
			"address": map[string]any{"country": "UK"},
		}},
		{Username: "bob", Password: "builder-password", Claims: map[string]any{"name": "Bob"}},
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreUnexported(clients.Client{}), cmpopts.IgnoreFields(authserver.Config{}, "Now"), cmpopts.EquateComparable(netip.Prefix{})); diff != "" {
		t.Errorf("AuthServer (-want +got):\n%s", diff)
	}
	if got.Now != nil {
		t.Error("Now is set; the role's clock must default to time.Now")
	}

	// The typed configuration shares nothing with the File.
	got.Clients[0].Client.RedirectURIs[0] = "https://changed.example/cb"
	got.Users[0].Claims["email"] = "changed@example.com"
	if f.Clients[0].Metadata.RedirectURIs[0] == "https://changed.example/cb" || f.Users[0].Claims["email"] == "changed@example.com" {
		t.Error("AuthServer's result aliases the File")
	}
}

func TestAuthServerRefusesInvalid(t *testing.T) {
	f := validFile()
	f.Tokens.PARTTL = time.Hour
	_, err := f.AuthServer()
	var ps Problems
	if !errors.As(err, &ps) || len(ps) != 1 {
		t.Errorf("AuthServer = %v, want the one Validate problem", err)
	}
}

// TestCloneClientSharesNothing sets every reference-typed field of
// clients.Client and checks that cloneClient copied it, so a field added
// to clients.Client cannot silently alias the File.
func TestCloneClientSharesNothing(t *testing.T) {
	var orig clients.Client
	v := reflect.ValueOf(&orig).Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		if !v.Type().Field(i).IsExported() {
			continue
		}
		switch f.Kind() {
		case reflect.String:
			f.SetString("x")
		case reflect.Bool:
			// A value: copied by any assignment.
			f.SetBool(true)
		case reflect.Slice:
			s := reflect.MakeSlice(f.Type(), 1, 1)
			if s.Index(0).Kind() == reflect.String {
				s.Index(0).SetString("x")
			} else {
				s.Index(0).SetUint('x')
			}
			f.Set(s)
		default:
			t.Fatalf("clients.Client.%s has kind %s: teach cloneClient and this test about it", v.Type().Field(i).Name, f.Kind())
		}
	}
	clone := cloneClient(orig)
	if diff := cmp.Diff(orig, clone, cmpopts.IgnoreUnexported(clients.Client{})); diff != "" {
		t.Fatalf("clone differs (-orig +clone):\n%s", diff)
	}
	cv := reflect.ValueOf(&clone).Elem()
	for i := range v.NumField() {
		if v.Field(i).Kind() == reflect.Slice && v.Type().Field(i).IsExported() && v.Field(i).Pointer() == cv.Field(i).Pointer() {
			t.Errorf("clone shares clients.Client.%s", v.Type().Field(i).Name)
		}
	}
}

func TestLogLevel(t *testing.T) {
	tests := []struct {
		level   string
		want    slog.Level
		wantErr bool
	}{
		{"debug", slog.LevelDebug, false},
		{"info", slog.LevelInfo, false},
		{"warn", slog.LevelWarn, false},
		{"error", slog.LevelError, false},
		{"INFO", 0, true},
		{"", 0, true},
	}
	for _, tc := range tests {
		name := "ok/" + tc.level
		if tc.wantErr {
			name = "fail/" + tc.level
		}
		t.Run(name, func(t *testing.T) {
			f := Default()
			f.Log.Level = tc.level
			got, err := f.LogLevel()
			if (err != nil) != tc.wantErr || got != tc.want {
				t.Errorf("LogLevel() = %v, %v; want %v, error %v", got, err, tc.want, tc.wantErr)
			}
		})
	}
}
