package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/bulwarkauth/bulwark/client"
	"github.com/bulwarkauth/bulwark/internal/testenv"
)

// startGateway runs Bulwark's gateway, configured through package config
// as `bulwark gateway` is, in front of an upstream that echoes the
// identity headers it receives: /api takes sender-constrained tokens
// only, /open Bearer tokens too.
func startGateway(t *testing.T, srv *testenv.Env) string {
	t.Helper()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		json.NewEncoder(w).Encode(map[string]string{
			"path": r.URL.Path, "jkt": r.Header.Get("X-Bulwark-Jkt"), "client": r.Header.Get("X-Bulwark-Client-Id"),
			"authorization": r.Header.Get("Authorization"),
		})
	}))
	t.Cleanup(up.Close)
	gwSrv := httptest.NewUnstartedServer(nil)
	base := "http://" + gwSrv.Listener.Addr().String()
	yaml := fmt.Sprintf(`
gateway:
  listen: 127.0.0.1:0
  base_url: %s
  issuer: %s
  audiences: [%s]
  routes:
    - {name: api, path_prefix: /api, upstream: %s}
    - {name: open, path_prefix: /open, upstream: %s, allow_bearer: true}
`, base, srv.URL, srv.URL, up.URL, up.URL)
	gw := testenv.NewGateway(t, yaml, nil)
	gwSrv.Config.Handler = gw.Handler()
	gwSrv.Start()
	t.Cleanup(gwSrv.Close)
	return base
}

// TestCurlGateway: `bulwark curl` through Bulwark's gateway, with a DPoP
// login (the gateway checks the proof and forwards the key's thumbprint)
// and with a Bearer login, which only the allow_bearer route takes.
func TestCurlGateway(t *testing.T) {
	srv := testenv.Start(t, testenv.Options{})
	gw := startGateway(t, srv)
	c := newCLI(t, srv, nil)
	c.mustRun(loopbackArgs(srv, testenv.PublicClient, "--scopes", "openid offline_access", "--save")...)
	keyJSON, err := os.ReadFile(filepath.Join(c.configDir, "dpop-keys", "default.jwk"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := client.ParseDPoPKey(keyJSON)
	if err != nil {
		t.Fatal(err)
	}
	var echo map[string]string
	out := c.mustRun("curl", "-f", gw+"/api/items")
	if err := json.Unmarshal([]byte(out), &echo); err != nil || echo["path"] != "/api/items" || echo["jkt"] != key.Thumbprint() || echo["client"] != testenv.PublicClient {
		t.Errorf("curl through the gateway: %s (%v); want the key's thumbprint %s", out, err, key.Thumbprint())
	}
	if echo["authorization"] != "" {
		t.Error("the token reached the upstream")
	}
	if h := c.rec.header("GET /api/items"); !strings.HasPrefix(h.Get("Authorization"), "DPoP ") || h.Get("DPoP") == "" {
		t.Errorf("curl sent Authorization %.10q, DPoP %.10q", h.Get("Authorization"), h.Get("DPoP"))
	}

	// The same profile in bearer mode, with a standard client the
	// authorization server lets have Bearer tokens.
	c.mustRun(loopbackArgs(srv, testenv.PublicClient, "--profile", "plain", "--auth-mode", "bearer", "--scopes", "openid", "--save")...)
	if out := c.mustRun("curl", "--profile", "plain", "-f", gw+"/open/items"); !strings.Contains(out, `"path":"/open/items"`) {
		t.Errorf("Bearer curl on /open: %s", out)
	}
	out, stderr, status := c.run("curl", "--profile", "plain", "-f", gw+"/api/items")
	if status != 22 || strings.Contains(out, "/api/items") {
		t.Errorf("Bearer curl on /api: status %d, want 22 (HTTP 401); stdout %q stderr %q", status, out, stderr)
	}
}
