package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkauth/bulwark/internal/dpop"
	"github.com/bulwarkauth/bulwark/internal/testenv"
	"github.com/bulwarkauth/bulwark/internal/testenv/services"
)

// TestGatewayCommandRedisReplay runs two "bulwark gateway" processes'
// worth of the command with replay_store: storage and cache.driver: redis
// under one prefix: a proof used at one is refused at the other, and no
// database is opened (the storage section's SQLite file never appears).
func TestGatewayCommandRedisReplay(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte(`{"ok":true}`)) }))
	t.Cleanup(up.Close)
	base := "http://" + freeAddr(t)
	dbFile := filepath.Join(t.TempDir(), "never.db")
	prefix := services.RedisPrefix(t)
	start := func(listen string) string {
		cfg := writeConfig(t, "log: {level: warn}\nstorage: {driver: sqlite, dsn: "+dbFile+"}\n"+
			"cache: {driver: redis, url: '"+services.RedisURL+"', prefix: '"+prefix+"'}\n"+
			"gateway:\n  listen: "+listen+"\n  base_url: "+base+"\n  issuer: "+env.Issuer+"\n  audiences: ['"+base+"']\n"+
			"  replay_store: storage\n  routes: [{path_prefix: /accounts, upstream: '"+up.URL+"', scopes: [accounts]}]\n")
		ctx, cancel := context.WithCancel(context.Background())
		var stderr bytes.Buffer
		done := make(chan int, 1)
		go func() { done <- run(ctx, []string{"gateway", "--config", cfg}, nil, &bytes.Buffer{}, &stderr) }()
		t.Cleanup(func() {
			cancel()
			select {
			case status := <-done:
				if status != 0 {
					t.Errorf("gateway exit status %d:\n%s", status, &stderr)
				}
			case <-time.After(20 * time.Second):
				t.Error("gateway did not shut down")
			}
		})
		u := "http://" + listen
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if resp, err := http.Get(u + "/readyz"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return u
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("gateway not ready:\n%s", &stderr)
			}
		}
	}
	a := start(strings.TrimPrefix(base, "http://"))
	b := start(freeAddr(t))

	form := env.AssertionForm(t, testenv.FAPIClient)
	form.Set("grant_type", "client_credentials")
	form.Set("scope", "accounts")
	form.Set("resource", base)
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if resp := env.PostForm(t, nil, "/token", form, env.DPoPHeader(t, testenv.FAPIClient, "/token"), &tok); resp.StatusCode != http.StatusOK {
		t.Fatalf("token: %d", resp.StatusCode)
	}
	proof, err := dpop.NewProof(env.DPoPKey(t, testenv.FAPIClient), dpop.ProofParams{Method: http.MethodGet, URL: base + "/accounts", AccessToken: tok.AccessToken})
	if err != nil {
		t.Fatal(err)
	}
	send := func(node string) int {
		req, _ := http.NewRequest(http.MethodGet, node+"/accounts", nil)
		req.Header.Set("Authorization", "DPoP "+tok.AccessToken)
		req.Header.Set(dpop.HeaderName, proof)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := send(a); s != http.StatusOK {
		t.Fatalf("first use at node a: %d", s)
	}
	if s := send(b); s != http.StatusUnauthorized {
		t.Fatalf("replay at node b: %d, want 401", s)
	}
	if _, err := os.Stat(dbFile); !os.IsNotExist(err) {
		t.Errorf("the gateway opened the storage database (%s): %v", dbFile, err)
	}
}
