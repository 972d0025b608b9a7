package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/cobra"

	"github.com/bulwarkauth/bulwark/internal/config"
	"github.com/bulwarkauth/bulwark/internal/jose"
	"github.com/bulwarkauth/bulwark/internal/testenv"
)

// TestResolve checks how the profile file and the flags combine: a flag
// that is set wins, one that is not leaves the file's value.
func TestResolve(t *testing.T) {
	dir := t.TempDir()
	writeProfile := func(name, body string) {
		t.Helper()
		p := filepath.Join(dir, "profiles", name+".json")
		os.MkdirAll(filepath.Dir(p), 0o700)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	writeProfile("default", `{"issuer":"https://as.example","client_id":"cli","scopes":["openid"],"auth_mode":"bearer"}`)
	writeProfile("typo", `{"issuer":"https://as.example","clientid":"cli"}`)
	tests := []struct {
		name    string
		args    []string
		want    profile
		wantErr string // a word the error names
	}{
		{name: "ok/file", want: profile{Issuer: "https://as.example", ClientID: "cli", Scopes: []string{"openid"}, AuthMode: "bearer"}},
		{name: "ok/flags-win", args: []string{"--client-id", "other", "--scopes", "openid, email", "--auth-mode", "dpop"},
			want: profile{Issuer: "https://as.example", ClientID: "other", Scopes: []string{"openid", "email"}, AuthMode: "dpop"}},
		{name: "ok/flags-only", args: []string{"--profile", "new", "--issuer", "https://x.example", "--client-id", "c", "--auth-method", "private_key_jwt", "--key-file", "k.jwk"},
			want: profile{Issuer: "https://x.example", ClientID: "c", AuthMethod: "private_key_jwt", KeyFile: "k.jwk"}},
		{name: "fail/missing-profile", args: []string{"--profile", "absent"}, wantErr: "bulwark login --profile absent"},
		{name: "fail/unknown-member", args: []string{"--profile", "typo"}, wantErr: "clientid"},
		{name: "fail/bad-name", args: []string{"--profile", "../etc"}, wantErr: "must match"},
		{name: "fail/secret-without-file", args: []string{"--auth-method", "client_secret_basic"}, wantErr: "--client-secret-file"},
		{name: "fail/mtls-without-cert", args: []string{"--auth-mode", "mtls"}, wantErr: "--cert-file"},
		{name: "fail/unknown-mode", args: []string{"--auth-mode", "dpopp"}, wantErr: "dpop, mtls or bearer"},
		{name: "fail/unknown-method", args: []string{"--auth-method", "client_secret_post"}, wantErr: "unknown auth method"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cmd := &cobra.Command{Use: "x"}
			pf := addProfileFlags(cmd)
			if err := cmd.ParseFlags(tc.args); err != nil {
				t.Fatal(err)
			}
			s, err := pf.resolve(clientDeps{env: config.Env{envConfigDir: dir, envCacheDir: t.TempDir()}})
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one naming %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tc.want, s.profile); diff != "" {
				t.Errorf("profile (-want +got):\n%s", diff)
			}
		})
	}
}

// TestCacheKey checks that a profile's cache entry changes with its
// issuer or client, so a token never follows a profile to another server.
func TestCacheKey(t *testing.T) {
	base := settings{name: "default", profile: profile{Issuer: "https://a.example", ClientID: "c"}}
	other := base
	other.Issuer = "https://b.example"
	client := base
	client.ClientID = "d"
	if base.cacheKey() == other.cacheKey() || base.cacheKey() == client.cacheKey() || !strings.HasPrefix(base.cacheKey(), "default.") {
		t.Errorf("cache keys %q %q %q", base.cacheKey(), other.cacheKey(), client.cacheKey())
	}
}

// TestReadSigningKey reads JWK and PEM keys of each algorithm and checks
// the key signs for the same public key.
func TestReadSigningKey(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, b []byte, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	jwkOf := func(alg string) []byte {
		k, err := jose.GenerateKey(alg)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := k.MarshalJSON()
		return b
	}
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	der, _ := x509.MarshalPKCS8PrivateKey(ec)
	sec1, _ := x509.MarshalECPrivateKey(ec)
	tampered := map[string]any{}
	json.Unmarshal(jwkOf(jose.ES256), &tampered)
	var other map[string]any
	json.Unmarshal(jwkOf(jose.ES256), &other)
	tampered["x"] = other["x"]
	tamperedJSON, _ := json.Marshal(tampered)
	tests := []struct {
		name    string
		path    string
		wantErr bool
	}{
		{name: "ok/jwk-es256", path: write("es.jwk", jwkOf(jose.ES256), 0o600)},
		{name: "ok/jwk-ps256", path: write("ps.jwk", jwkOf(jose.PS256), 0o600)},
		{name: "ok/jwk-eddsa", path: write("ed.jwk", jwkOf(jose.EdDSA), 0o600)},
		{name: "ok/pem-pkcs8", path: write("k8.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600)},
		{name: "ok/pem-sec1", path: write("k1.pem", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1}), 0o600)},
		{name: "fail/readable-by-others", path: write("open.jwk", jwkOf(jose.ES256), 0o644), wantErr: true},
		{name: "fail/public-jwk", path: write("pub.jwk", []byte(`{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}`), 0o600), wantErr: true},
		{name: "fail/mismatched-public", path: write("bad.jwk", tamperedJSON, 0o600), wantErr: true},
		{name: "fail/garbage", path: write("junk", []byte("hello"), 0o600), wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, _, err := readSigningKey(tc.path)
			if tc.wantErr {
				if err == nil {
					t.Fatal("no error")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			// It must be usable as a private_key_jwt key.
			alg := map[bool]string{true: jose.EdDSA}[isEd25519(k)]
			if alg == "" {
				alg = jose.ES256
				if _, ok := k.Public().(*ecdsa.PublicKey); !ok {
					alg = jose.PS256
				}
			}
			if _, err := jose.NewExternalKey(k, alg, ""); err != nil {
				t.Errorf("NewExternalKey: %v", err)
			}
		})
	}
}

func isEd25519(k crypto.Signer) bool { _, ok := k.Public().(ed25519.PublicKey); return ok }

// TestClientErrors runs the commands into the mistakes users make and
// checks the exit status and that the message names the fix.
func TestClientErrors(t *testing.T) {
	srv := testenv.Start(t, testenv.Options{})
	c := newCLI(t, srv, nil)
	tests := []struct {
		name       string
		args       []string
		wantStatus int
		wantStderr []string
	}{
		{name: "fail/token-no-profile", args: []string{"token"}, wantStatus: 1,
			wantStderr: []string{`profile "default" does not exist`, "bulwark login --profile default --issuer URL --client-id ID --save"}},
		{name: "fail/token-not-logged-in", args: []string{"token", "--profile", "work", "--issuer", srv.URL, "--client-id", testenv.PublicClient, "--insecure-allow-http"}, wantStatus: 1,
			wantStderr: []string{`no token cached for profile "work"`, "run `bulwark login --profile work`"}},
		{name: "fail/login-unknown-client", args: loopbackArgs(srv, "no-such-client"), wantStatus: 1,
			wantStderr: []string{"invalid_client", "--client-id"}},
		{name: "fail/login-bad-scope", args: loopbackArgs(srv, testenv.PublicClient, "--scopes", "openid admin"), wantStatus: 1,
			wantStderr: []string{"invalid_scope", "--scopes"}},
		{name: "fail/login-timeout", args: loopbackArgs(srv, testenv.PublicClient, "--no-browser", "--timeout", "300ms"), wantStatus: 1,
			wantStderr: []string{"/authorize?", "no answer within 300ms", "--timeout"}},
		{name: "fail/login-http-issuer", args: []string{"login", "--issuer", srv.URL, "--client-id", testenv.PublicClient}, wantStatus: 1,
			wantStderr: []string{"plain http", "--insecure-allow-http"}},
		{name: "fail/login-missing-key-file", args: loopbackArgs(srv, testenv.FAPIClient, "--key-file", filepath.Join(t.TempDir(), "absent.jwk")), wantStatus: 1,
			wantStderr: []string{"signing key", "absent.jwk"}},
		{name: "fail/curl-http-url", args: []string{"curl", "--issuer", "https://as.example", "--client-id", "x", srv.URL + "/userinfo"}, wantStatus: 1,
			wantStderr: []string{"refusing to send a token over plain http", "--insecure-allow-http"}},
		{name: "fail/curl-authorization-header", args: []string{"curl", "--issuer", srv.URL, "--client-id", "x", "--insecure-allow-http", "-H", "Authorization: Bearer x", srv.URL + "/userinfo"}, wantStatus: 1,
			wantStderr: []string{"Authorization"}},
		{name: "fail/curl-two-urls", args: []string{"curl", "https://a.example", "https://b.example"}, wantStatus: 2},
		{name: "fail/login-stray-argument", args: []string{"login", "now"}, wantStatus: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, stderr, status := c.run(tc.args...)
			if status != tc.wantStatus {
				t.Fatalf("status %d, want %d:\n%s", status, tc.wantStatus, stderr)
			}
			for _, w := range tc.wantStderr {
				if !strings.Contains(stderr, w) {
					t.Errorf("stderr lacks %q:\n%s", w, stderr)
				}
			}
		})
	}
}
