package main

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkauth/bulwark/internal/authserver"
	"github.com/bulwarkauth/bulwark/internal/clients"
	"github.com/bulwarkauth/bulwark/internal/jose"
	"github.com/bulwarkauth/bulwark/internal/oauth"
	"github.com/bulwarkauth/bulwark/internal/testenv"
)

// TestBFFCommand runs "bulwark bff" against a real authorization server:
// it discovers the issuer, answers /healthz and /readyz, starts a login
// with a redirect to the AS, and shuts down cleanly when cancelled.
func TestBFFCommand(t *testing.T) {
	addr := freeAddr(t)
	base := "http://" + addr
	key, err := jose.GenerateKey(jose.ES256)
	if err != nil {
		t.Fatal(err)
	}
	jwks, _ := json.Marshal(map[string]any{"keys": []any{key.Public()}})
	env := testenv.Start(t, testenv.Options{Config: func(c *authserver.Config) {
		c.Clients = append(c.Clients, authserver.StaticClient{Client: clients.Client{
			ID: "cmd-bff", ProfileName: clients.ProfileStandard, AuthMethod: oauth.AuthPrivateKeyJWT, JWKS: jwks,
			RedirectURIs: []string{base + "/oauth2/callback"}, GrantTypes: []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken},
			Scopes: oauth.NewScopes("openid"),
		}})
	}})
	der, err := x509.MarshalPKCS8PrivateKey(key.Signer())
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(t.TempDir(), "bff.pem")
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := writeConfig(t, "issuer: "+env.Issuer+"\nlog: {level: warn}\nbff:\n  listen: "+addr+"\n  base_url: "+base+
		"\n  client_id: cmd-bff\n  private_key_file: "+keyFile+"\n  routes: [{path_prefix: /api/, upstream: 'http://127.0.0.1:1'}]\n")

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr bytes.Buffer
	done := make(chan int, 1)
	go func() { done <- run(ctx, []string{"bff", "--config", cfg}, nil, &bytes.Buffer{}, &stderr) }()
	var resp *http.Response
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if resp, err = http.Get(base + "/healthz"); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("bff did not listen: %v\n%s", err, &stderr)
		}
	}
	resp.Body.Close()
	if resp, err = http.Get(base + "/readyz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("readyz: %v %v", resp, err)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = noFollow.Get(base + "/oauth2/start?rd=/app")
	if err != nil || resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), env.Issuer+"/authorize?") {
		t.Fatalf("start: %v %v", resp, err)
	}
	if resp, err = noFollow.Get(base + "/api/x"); err != nil || resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("API without a session: %v %v", resp, err)
	}
	cancel()
	select {
	case status := <-done:
		if status != 0 {
			t.Errorf("exit status %d:\n%s", status, &stderr)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("bff did not shut down")
	}
}
