package client_test

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/bulwarkauth/bulwark/client"
	"github.com/bulwarkauth/bulwark/client/cachetest"
	"github.com/bulwarkauth/bulwark/internal/store/redis"
	"github.com/bulwarkauth/bulwark/internal/testenv"
	"github.com/bulwarkauth/bulwark/internal/testenv/services"
)

const profile = "default"

// expire rewrites the cached entry so its access token has expired.
func expire(t *testing.T, cache client.Cache) {
	t.Helper()
	ctx := context.Background()
	b, err := cache.Load(ctx, profile)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	m["expiry"] = time.Now().Add(-time.Hour).Format(time.RFC3339)
	b, _ = json.Marshal(m)
	if err := cache.Store(ctx, profile, b); err != nil {
		t.Fatal(err)
	}
}

// cached reads the cache entry's access and refresh tokens.
func cached(t *testing.T, cache client.Cache) (at, rt string) {
	t.Helper()
	b, err := cache.Load(context.Background(), profile)
	if err != nil {
		t.Fatal(err)
	}
	var e struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatalf("cache entry is corrupt: %v: %s", err, b)
	}
	return e.AccessToken, e.RefreshToken
}

// runConfig returns a function that makes the public client's Config as
// a new run of a program would: the DPoP key loaded from keyFile (created
// by the first call).
func runConfig(t *testing.T, env *testenv.Env, keyFile string) func() *client.Config {
	return func() *client.Config {
		key, err := client.LoadOrCreateDPoPKey(keyFile)
		if err != nil {
			t.Fatal(err)
		}
		hc, _ := httpClient(env)
		return publicConfig(env, hc, key)
	}
}

func noLogin(t *testing.T) func(context.Context) (*oauth2.Token, error) {
	return func(context.Context) (*oauth2.Token, error) {
		t.Error("unexpected login")
		return nil, errors.New("no login")
	}
}

// TestFileCache logs in once through a file cache and then, from fresh
// Configs as later runs of a CLI would have: resumes without a login,
// refreshes with rotation, refreshes once for ten goroutines and once for
// ten processes, and refreshes when the resource server says
// invalid_token.
func TestFileCache(t *testing.T) {
	env := start(t, testenv.Options{})
	dir := t.TempDir()
	keyFile := filepath.Join(dir, "dpop.jwk")
	cache := &client.FileCache{Dir: dir}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	newConfig := runConfig(t, env, keyFile)

	cfg := newConfig()
	first, err := cfg.CachedTokenSource(ctx, cache, profile, cfg.Login).Token()
	if err != nil {
		t.Fatal(err)
	}
	at0, rt0 := cached(t, cache)
	if at0 != first.AccessToken || rt0 == "" {
		t.Fatalf("cache holds %q/%q after login", at0, rt0)
	}
	for _, f := range []string{profile + ".json", "dpop.jwk"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("%s: mode %v, %v; want 0600", f, st.Mode().Perm(), err)
		}
	}

	t.Run("ok/resume without login", func(t *testing.T) {
		before := tokenRequests(t, env)
		cfg := newConfig()
		tok, err := cfg.CachedTokenSource(ctx, cache, profile, noLogin(t)).Token()
		if err != nil {
			t.Fatal(err)
		}
		if tok.AccessToken != first.AccessToken || tok.TokenType != "DPoP" || tok.Extra("id_token") == nil {
			t.Errorf("resumed token = %+v", tok)
		}
		if n := tokenRequests(t, env) - before; n != 0 {
			t.Errorf("%d token requests to resume", n)
		}
	})

	t.Run("ok/refresh rotates and persists", func(t *testing.T) {
		expire(t, cache)
		cfg := newConfig()
		tok, err := cfg.CachedTokenSource(ctx, cache, profile, noLogin(t)).Token()
		if err != nil {
			t.Fatal(err)
		}
		at, rt := cached(t, cache)
		if at != tok.AccessToken || at == at0 {
			t.Errorf("cached access token not the refreshed one")
		}
		if rt == rt0 || rt == "" || rt != tok.RefreshToken {
			t.Errorf("refresh token not rotated in the cache: old %q new %q", rt0, rt)
		}
	})

	t.Run("ok/ten goroutines refresh once", func(t *testing.T) {
		expire(t, cache)
		before := tokenRequests(t, env)
		var wg sync.WaitGroup
		got := make([]string, 10)
		for i := range got {
			wg.Add(1)
			go func() {
				defer wg.Done()
				cfg := newConfig()
				tok, err := cfg.CachedTokenSource(ctx, cache, profile, noLogin(t)).Token()
				if err != nil {
					t.Error(err)
					return
				}
				got[i] = tok.AccessToken
			}()
		}
		wg.Wait()
		for _, g := range got {
			if g != got[0] {
				t.Fatalf("goroutines got different tokens")
			}
		}
		if n := tokenRequests(t, env) - before; n != 1 {
			t.Errorf("%d token requests, want exactly one refresh", n)
		}
		if at, _ := cached(t, cache); at != got[0] {
			t.Error("cache does not hold the shared token")
		}
	})

	t.Run("ok/ten processes refresh once", func(t *testing.T) {
		refreshRace(t, env, cache, keyFile, "file\n"+dir)
	})

	t.Run("ok/transport refreshes on invalid_token", func(t *testing.T) {
		key, err := client.LoadOrCreateDPoPKey(keyFile)
		if err != nil {
			t.Fatal(err)
		}
		hc, rec := httpClient(env)
		cfg := publicConfig(env, hc, key)
		ts := cfg.CachedTokenSource(ctx, cache, profile, noLogin(t))
		tok, err := ts.Token()
		if err != nil {
			t.Fatal(err)
		}
		md, _ := cfg.Discover(ctx)
		// Revoke the access token so the resource server rejects it.
		resp, err := env.Client(nil).PostForm(md.RevocationEndpoint, url.Values{
			"token": {tok.AccessToken}, "token_type_hint": {"access_token"}, "client_id": {testenv.PublicClient},
		})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		resp, err = cfg.Client(ctx, ts).Get(md.UserinfoEndpoint)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("userinfo = %d after the refresh", resp.StatusCode)
		}
		if at, _ := cached(t, cache); at == tok.AccessToken {
			t.Error("the rejected token is still cached")
		}
		ui := rec.to("/userinfo")
		if len(ui) != 2 || ui[0].Status != http.StatusUnauthorized || ui[0].Header.Get("Authorization") == ui[1].Header.Get("Authorization") {
			t.Errorf("userinfo requests = %d, want a 401 and a retry with the new token", len(ui))
		}
	})
}

const childEnv = "BULWARK_CLIENT_CACHE_CHILD"

// refreshRace is "ten processes refresh once": the entry in cache (shared
// with the children through spec, see openSpec) has expired, and ten
// copies of the test binary, started together, each resume from it. Exactly
// one refresh-token grant may reach the server, every child must get the
// same access token, and the cache must end up holding it, parseable,
// with the rotated refresh token.
func refreshRace(t *testing.T, env *testenv.Env, cache client.Cache, keyFile, spec string) {
	t.Helper()
	if testing.Short() {
		t.Skip("re-executes the test binary")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	expire(t, cache)
	_, rt0 := cached(t, cache)
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, env.CA.PEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	barrier := t.TempDir()
	before, refreshes := tokenRequests(t, env), refreshGrants(t, env)
	var wg sync.WaitGroup
	got := make([]string, 10)
	for i := range got {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestCacheChildProcess$", "-test.count=1")
			cmd.Env = append(os.Environ(), childEnv+"="+strings.Join([]string{env.URL, keyFile, caFile, barrier, fmt.Sprint(i), spec}, "\n"))
			var out, stderr bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &stderr
			if err := cmd.Run(); err != nil {
				t.Errorf("child %d: %v\n%s%s", i, err, out.Bytes(), stderr.Bytes())
				return
			}
			for _, line := range strings.Split(out.String(), "\n") {
				if v, ok := strings.CutPrefix(line, "TOKEN="); ok {
					got[i] = v
				}
			}
		}()
	}
	// Start every child's Token at once, so they really race for the
	// lock rather than find the token a faster child stored.
	deadline := time.Now().Add(30 * time.Second)
	for {
		ready, _ := filepath.Glob(filepath.Join(barrier, "ready-*"))
		if len(ready) == len(got) || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := os.WriteFile(filepath.Join(barrier, "go"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for i, g := range got {
		if g == "" || g != got[0] {
			t.Fatalf("child %d got a different token than child 0 (or none)", i)
		}
	}
	if n := tokenRequests(t, env) - before; n != 1 {
		t.Errorf("%d token requests from ten processes, want exactly one refresh", n)
	}
	if n := refreshGrants(t, env) - refreshes; n != 1 {
		t.Errorf("%d refresh-token grants from ten processes, want exactly one", n)
	}
	at, rt := cached(t, cache)
	if at != got[0] {
		t.Error("cache does not hold the shared token")
	}
	if rt == "" || rt == rt0 {
		t.Error("cache does not hold the rotated refresh token")
	}
}

// openSpec opens the cache a refreshRace child shares with its parent:
// "file\n<dir>" or "redis\n<url>\n<prefix>".
func openSpec(t *testing.T, spec []string) client.Cache {
	switch spec[0] {
	case "file":
		return &client.FileCache{Dir: spec[1]}
	case "redis":
		c, err := redis.Open(context.Background(), spec[1], redis.Options{Prefix: spec[2]})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c.TokenCache()
	}
	t.Fatalf("cache spec %q", spec)
	return nil
}

// TestCacheChildProcess is a child of refreshRace: it resumes from the
// shared cache and prints the token it got.
func TestCacheChildProcess(t *testing.T) {
	v := os.Getenv(childEnv)
	if v == "" {
		t.Skip("only run as a child of refreshRace")
	}
	parts := strings.Split(v, "\n")
	issuer, keyFile, caFile, barrier, id := parts[0], parts[1], parts[2], parts[3], parts[4]
	pem, err := os.ReadFile(caFile)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(pem)
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig.RootCAs = pool
	key, err := client.LoadOrCreateDPoPKey(keyFile)
	if err != nil {
		t.Fatal(err)
	}
	cfg := &client.Config{Issuer: issuer, ClientID: testenv.PublicClient, DPoPKey: key, HTTPClient: &http.Client{Transport: tr}}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ts := cfg.CachedTokenSource(ctx, openSpec(t, parts[5:]), profile, nil)
	if _, err := cfg.Discover(ctx); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(barrier, "ready-"+id), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(barrier, "go")); err == nil {
			break
		}
		if ctx.Err() != nil {
			t.Fatal("no start signal")
		}
		time.Sleep(2 * time.Millisecond)
	}
	tok, err := ts.Token()
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("TOKEN=%s\n", tok.AccessToken)
}

// TestRedisCache is TestFileCache's life of a login on the Redis token
// cache: resume without a login in a fresh process's Config, and ten
// processes refreshing at once refresh once.
func TestRedisCache(t *testing.T) {
	env := start(t, testenv.Options{})
	prefix := services.RedisPrefix(t)
	rc, err := redis.Open(context.Background(), services.RedisURL, redis.Options{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	cache := rc.TokenCache()
	keyFile := filepath.Join(t.TempDir(), "dpop.jwk")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	newConfig := runConfig(t, env, keyFile)
	cfg := newConfig()
	first, err := cfg.CachedTokenSource(ctx, cache, profile, cfg.Login).Token()
	if err != nil {
		t.Fatal(err)
	}
	before := tokenRequests(t, env)
	tok, err := newConfig().CachedTokenSource(ctx, cache, profile, noLogin(t)).Token()
	if err != nil || tok.AccessToken != first.AccessToken || tok.TokenType != "DPoP" {
		t.Errorf("resumed token = %+v, %v; want the cached DPoP token", tok, err)
	}
	if n := tokenRequests(t, env) - before; n != 0 {
		t.Errorf("%d token requests to resume", n)
	}
	refreshRace(t, env, cache, keyFile, "redis\n"+services.RedisURL+"\n"+prefix)
}

// TestCaches runs the cache conformance suite on the memory and file
// caches.
func TestCaches(t *testing.T) {
	t.Run("memory", func(t *testing.T) {
		cachetest.Run(t, func(t *testing.T) func() client.Cache {
			c := &client.MemoryCache{}
			return func() client.Cache { return c }
		})
	})
	t.Run("file", func(t *testing.T) {
		cachetest.Run(t, func(t *testing.T) func() client.Cache {
			dir := t.TempDir()
			return func() client.Cache { return &client.FileCache{Dir: dir} }
		})
	})
	for _, key := range []string{"../x", "", ".hidden", "a/b"} {
		if err := (&client.FileCache{Dir: t.TempDir()}).Store(context.Background(), key, nil); err == nil {
			t.Errorf("FileCache accepted key %q", key)
		}
	}
}

func TestCachedTokenSourceLoginRequired(t *testing.T) {
	cfg := &client.Config{Issuer: "https://as.example", ClientID: "c"}
	_, err := cfg.CachedTokenSource(context.Background(), &client.MemoryCache{}, profile, nil).Token()
	if !errors.Is(err, client.ErrLoginRequired) {
		t.Errorf("Token = %v, want ErrLoginRequired", err)
	}
}

func TestLoadOrCreateDPoPKey(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "sub", "key.jwk")
	k1, err := client.LoadOrCreateDPoPKey(p)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := client.LoadOrCreateDPoPKey(p)
	if err != nil {
		t.Fatal(err)
	}
	if k1.Thumbprint() != k2.Thumbprint() || k1.Algorithm() != "ES256" {
		t.Errorf("reloaded key differs: %s vs %s (%s)", k1.Thumbprint(), k2.Thumbprint(), k1.Algorithm())
	}
	st, _ := os.Stat(p)
	if st.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v", st.Mode().Perm())
	}
	os.Chmod(p, 0o644)
	if _, err := client.LoadOrCreateDPoPKey(p); err == nil {
		t.Error("a world-readable key file was accepted")
	}
}
