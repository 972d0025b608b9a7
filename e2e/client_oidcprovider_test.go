package e2e_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/bulwarkauth/bulwark/client"
	"github.com/bulwarkauth/bulwark/internal/jose"
	"github.com/bulwarkauth/bulwark/internal/testenv/oidcprovider"
)

// TestClientInteropOIDCProvider drives the public client package against
// a third-party authorization server, panva's oidc-provider (npm), which
// requires a DPoP nonce on every proof: client credentials with
// private_key_jwt and DPoP, then the code flow (PAR, PKCE S256, loopback
// redirect, iss check) with a DPoP-bound token used at userinfo (the
// resource server's nonce challenge answered by the Transport) and a
// refresh onto the same key.
func TestClientInteropOIDCProvider(t *testing.T) {
	assertionKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	op := oidcprovider.Start(t, oidcprovider.Options{
		RequireDPoPNonce: true,
		RequirePAR:       true,
		Resource:         "urn:bulwark:test-api",
		ResourceScopes:   "api",
		Scopes:           []string{"api"},
		Clients: []map[string]any{{
			"client_id":                       "go-client",
			"application_type":                "native",
			"token_endpoint_auth_method":      "private_key_jwt",
			"token_endpoint_auth_signing_alg": "ES256",
			"jwks":                            map[string]any{"keys": []any{oidcprovider.PublicJWK(&assertionKey.PublicKey, "c1")}},
			"grant_types":                     []string{"client_credentials", "authorization_code", "refresh_token"},
			"response_types":                  []string{"code"},
			"redirect_uris":                   []string{"http://127.0.0.1/callback"},
			"scope":                           "openid email api",
			"dpop_bound_access_tokens":        true,
		}},
	})
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: op.RootCAs, MinVersion: tls.VersionTLS12}}}
	dpopKey, err := client.NewDPoPKey("ES256")
	if err != nil {
		t.Fatal(err)
	}
	newConfig := func(scopes ...string) *client.Config {
		return &client.Config{
			Issuer:     op.Issuer,
			ClientID:   "go-client",
			Key:        assertionKey,
			KeyID:      "c1",
			DPoPKey:    dpopKey,
			Scopes:     scopes,
			HTTPClient: hc,
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	t.Run("client_credentials", func(t *testing.T) {
		tok, err := newConfig("api").ClientCredentials(ctx).Token()
		if err != nil {
			t.Fatalf("client credentials: %v\n%s", err, op.Stderr())
		}
		if !strings.EqualFold(tok.TokenType, "DPoP") {
			t.Fatalf("token_type %q, want DPoP", tok.TokenType)
		}
		checkJKT(t, tok.AccessToken, dpopKey.Thumbprint())
	})

	t.Run("code_flow", func(t *testing.T) {
		cfg := newConfig("openid", "email", "api")
		browser := op.HTTPClient()
		cfg.OpenBrowser = func(ctx context.Context, authURL string) error {
			callback := op.Login(t, browser, authURL, "alice")
			q := callback.Query()
			if q.Get("iss") != op.Issuer || q.Get("code") == "" {
				t.Errorf("callback %s lacks code or iss", callback)
			}
			resp, err := http.Get(callback.String())
			if err != nil {
				return err
			}
			return resp.Body.Close()
		}
		tok, err := cfg.Login(ctx)
		if err != nil {
			t.Fatalf("login: %v\n%s", err, op.Stderr())
		}
		if !strings.EqualFold(tok.TokenType, "DPoP") || tok.RefreshToken == "" {
			t.Fatalf("token_type %q, refresh token %t: want a DPoP token with a refresh token", tok.TokenType, tok.RefreshToken != "")
		}
		if idt, _ := tok.Extra("id_token").(string); idt == "" {
			t.Error("no id_token from the code flow with openid")
		}

		md, err := cfg.Discover(ctx)
		if err != nil {
			t.Fatal(err)
		}
		userinfo := md.UserinfoEndpoint
		api := cfg.Client(ctx, oauth2.StaticTokenSource(tok))
		resp, err := api.Get(userinfo)
		if err != nil {
			t.Fatal(err)
		}
		var claims struct {
			Sub   string `json:"sub"`
			Email string `json:"email"`
		}
		err = json.NewDecoder(resp.Body).Decode(&claims)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || err != nil || claims.Sub != "alice" {
			t.Fatalf("userinfo: %d %+v %v\n%s", resp.StatusCode, claims, err, op.Stderr())
		}

		// An expired access token is refreshed onto the same key: the
		// fresh token works at userinfo only with that key's proofs.
		expired := *tok
		expired.Expiry = time.Now().Add(-time.Minute)
		fresh, err := cfg.TokenSource(ctx, &expired).Token()
		if err != nil {
			t.Fatalf("refresh: %v\n%s", err, op.Stderr())
		}
		if fresh.AccessToken == tok.AccessToken || !strings.EqualFold(fresh.TokenType, "DPoP") {
			t.Fatalf("refresh returned the old token or a %q token", fresh.TokenType)
		}
		resp, err = cfg.Client(ctx, oauth2.StaticTokenSource(fresh)).Get(userinfo)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("userinfo with the refreshed token: %d", resp.StatusCode)
		}
	})

	t.Run("bearer_refused_without_opt_in", func(t *testing.T) {
		// The provider binds every token of this client; a Config in
		// ModeBearer gets a DPoP token it never asked for only if the
		// server ignored it, so here the request without a proof is
		// refused by the server (dpop_bound_access_tokens).
		cfg := newConfig("api")
		cfg.Mode = client.ModeBearer
		if _, err := cfg.ClientCredentials(ctx).Token(); err == nil {
			t.Fatal("a token without a DPoP proof for a dpop_bound_access_tokens client")
		}
	})
}

// checkJKT decodes a JWT access token (unverified: only its binding is
// compared) and checks cnf.jkt.
func checkJKT(t *testing.T, accessToken, want string) {
	t.Helper()
	tok, err := jose.Parse(accessToken, []string{"ES256"})
	if err != nil {
		t.Fatalf("access token is not an ES256 JWT: %v", err)
	}
	var claims struct {
		Cnf struct {
			JKT string `json:"jkt"`
		} `json:"cnf"`
	}
	if err := tok.UnverifiedClaims(&claims); err != nil {
		t.Fatal(err)
	}
	if claims.Cnf.JKT != want {
		t.Fatalf("cnf.jkt %q, want the DPoP key's %q", claims.Cnf.JKT, want)
	}
}
