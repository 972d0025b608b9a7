package client_test

import (
	"context"
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/oauth2"

	"github.com/bulwarkauth/bulwark/client"
	"github.com/bulwarkauth/bulwark/internal/testenv"
)

func TestClientCredentials(t *testing.T) {
	env := start(t, testenv.Options{})
	tests := []struct {
		name     string
		cfg      func(*client.Config)
		wantType string
		// wantTokenRequests is how many token requests one Token makes.
		wantTokenRequests int
		wantNonce         bool
	}{
		{
			name: "ok/private_key_jwt+dpop",
			cfg: func(c *client.Config) {
				c.ClientID, c.Key = testenv.FAPIClient, signerOf(t, env.Keys[testenv.FAPIClient])
			},
			wantType: "DPoP", wantTokenRequests: 1,
		},
		{
			name: "ok/private_key_jwt+dpop/external signer",
			cfg: func(c *client.Config) {
				c.ClientID, c.Key = testenv.FAPIClient, hsmSigner{signerOf(t, env.Keys[testenv.FAPIClient])}
			},
			wantType: "DPoP", wantTokenRequests: 1,
		},
		{
			name: "ok/dpop nonce retry",
			cfg: func(c *client.Config) {
				c.ClientID, c.Key = testenv.NonceClient, signerOf(t, env.Keys[testenv.NonceClient])
			},
			wantType: "DPoP", wantTokenRequests: 2, wantNonce: true,
		},
		{
			name: "ok/client_secret_basic+bearer",
			cfg: func(c *client.Config) {
				c.ClientID, c.ClientSecret, c.Mode = testenv.SecretClient, testenv.ClientSecret, client.ModeBearer
			},
			wantType: "Bearer", wantTokenRequests: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hc, rec := httpClient(env)
			key, err := client.NewDPoPKey("")
			if err != nil {
				t.Fatal(err)
			}
			cfg := &client.Config{Issuer: env.URL, HTTPClient: hc, DPoPKey: key, Scopes: []string{"openid"}}
			tt.cfg(cfg)
			if cfg.ClientID == testenv.SecretClient {
				cfg.Scopes = []string{"api"}
			}
			ts := cfg.ClientCredentials(context.Background())
			tok, err := ts.Token()
			if err != nil {
				t.Fatal(err)
			}
			if tok.TokenType != tt.wantType {
				t.Errorf("token_type = %q, want %q", tok.TokenType, tt.wantType)
			}
			c := testenv.Claims(t, tok.AccessToken)
			cnf, _ := c["cnf"].(map[string]any)
			if tt.wantType == "DPoP" && cnf["jkt"] != key.Thumbprint() {
				t.Errorf("cnf = %v, want jkt %s", c["cnf"], key.Thumbprint())
			}
			if tt.wantType == "Bearer" && cnf != nil {
				t.Errorf("Bearer token has cnf %v", cnf)
			}
			reqs := rec.to("/token")
			if len(reqs) != tt.wantTokenRequests {
				t.Fatalf("%d token requests, want %d", len(reqs), tt.wantTokenRequests)
			}
			last := reqs[len(reqs)-1]
			if proof := last.Header.Get("DPoP"); (proof != "") != (tt.wantType == "DPoP") {
				t.Errorf("DPoP header %q in %s mode", proof, tt.wantType)
			} else if proof != "" {
				pc := testenv.Claims(t, proof)
				if pc["htu"] != env.URL+"/token" || pc["htm"] != "POST" {
					t.Errorf("proof htm/htu = %v %v", pc["htm"], pc["htu"])
				}
				if _, ok := pc["nonce"]; ok != tt.wantNonce {
					t.Errorf("proof nonce present = %v, want %v", ok, tt.wantNonce)
				}
			}
			if len(reqs) == 2 {
				// DPOP-CL-1: the retry carries a new proof and a new
				// assertion.
				if reqs[0].Header.Get("DPoP") == reqs[1].Header.Get("DPoP") {
					t.Error("the nonce retry reused the proof")
				}
				if reqs[0].Form.Get("client_assertion") == reqs[1].Form.Get("client_assertion") {
					t.Error("the nonce retry reused the client assertion")
				}
			}
			if a := last.Form.Get("client_assertion"); a != "" {
				ac := testenv.Claims(t, a)
				// CL-5: aud is the issuer, as a string.
				if aud, ok := ac["aud"].(string); !ok || aud != env.URL {
					t.Errorf("assertion aud = %#v, want the string %q", ac["aud"], env.URL)
				}
				if ac["iss"] != cfg.ClientID || ac["sub"] != cfg.ClientID || ac["jti"] == "" {
					t.Errorf("assertion claims = %v", ac)
				}
			}
			// The source reuses its token.
			again, err := ts.Token()
			if err != nil || again.AccessToken != tok.AccessToken {
				t.Errorf("second Token = %v, %v; want the cached token", again, err)
			}
		})
	}
}

func TestMTLS(t *testing.T) {
	env := start(t, testenv.Options{MTLS: true})
	// Config.Certificate needs an *http.Transport to clone, so record
	// the addresses dialled rather than wrap the transport.
	var mu sync.Mutex
	var dialed []string
	tr := env.Transport(nil)
	var d net.Dialer
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		mu.Lock()
		dialed = append(dialed, addr)
		mu.Unlock()
		return d.DialContext(ctx, network, addr)
	}
	cert := clientCert(env, testenv.MTLSClient)
	cfg := &client.Config{
		Issuer: env.URL, ClientID: testenv.MTLSClient, Certificate: cert, Mode: client.ModeMTLS,
		HTTPClient: &http.Client{Transport: tr}, Scopes: []string{"accounts"},
	}
	tok, err := cfg.ClientCredentials(context.Background()).Token()
	if err != nil {
		t.Fatal(err)
	}
	if tok.TokenType != "Bearer" {
		t.Errorf("token_type = %q, want Bearer (RFC 8705 §3)", tok.TokenType)
	}
	sum := sha256.Sum256(env.ClientCerts[testenv.MTLSClient].Cert.Raw)
	want := base64.RawURLEncoding.EncodeToString(sum[:])
	cnf, _ := testenv.Claims(t, tok.AccessToken)["cnf"].(map[string]any)
	if cnf["x5t#S256"] != want {
		t.Errorf("cnf = %v, want x5t#S256 %s", cnf, want)
	}
	// The Transport sends the certificate-bound token as Bearer over a
	// connection that presents the certificate: the binding check passes
	// and userinfo refuses only for want of a user (403), while the same
	// token without the certificate is invalid_token (401).
	md, err := cfg.Discover(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		hc   *http.Client
		want int
	}{
		{"with certificate", cfg.Client(context.Background(), oauth2.StaticTokenSource(tok)), http.StatusForbidden},
		{"without certificate", &http.Client{Transport: &client.Transport{Source: oauth2.StaticTokenSource(tok), Base: env.Transport(nil)}}, http.StatusUnauthorized},
	} {
		resp, err := tc.hc.Get(md.UserinfoEndpoint)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("userinfo %s: status %d, want %d", tc.name, resp.StatusCode, tc.want)
		}
	}
	mtlsHost := strings.TrimPrefix(env.MTLSURL, "https://")
	mu.Lock()
	defer mu.Unlock()
	if !slices.Contains(dialed, mtlsHost) {
		t.Errorf("dialled %v, want the mTLS alias %s", dialed, mtlsHost)
	}
}

// loginConfig returns a Config that logs in as id over PAR with DPoP.
func loginConfig(t *testing.T, env *testenv.Env, id string, hc *http.Client) *client.Config {
	t.Helper()
	key, err := client.NewDPoPKey("")
	if err != nil {
		t.Fatal(err)
	}
	cfg := &client.Config{
		Issuer: env.URL, ClientID: id, HTTPClient: hc, DPoPKey: key,
		Scopes: []string{"openid", "profile"}, RedirectURL: "http://127.0.0.1/cb", OpenBrowser: browser(env, nil),
	}
	if k, ok := env.Keys[id]; ok {
		cfg.Key = signerOf(t, k)
	}
	return cfg
}

func TestLoginAndTransport(t *testing.T) {
	env := start(t, testenv.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for _, id := range []string{testenv.FAPIClient, testenv.PublicClient} {
		t.Run("ok/"+id, func(t *testing.T) {
			hc, rec := httpClient(env)
			cfg := loginConfig(t, env, id, hc)
			tok, err := cfg.Login(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if tok.TokenType != "DPoP" {
				t.Errorf("token_type = %q", tok.TokenType)
			}
			if idt, _ := tok.Extra("id_token").(string); idt == "" {
				t.Error("no id_token in Extra")
			}
			par := rec.to("/par")
			if len(par) != 1 || par[0].Form.Get("code_challenge_method") != "S256" || par[0].Header.Get("DPoP") == "" {
				t.Errorf("PAR requests = %+v", par)
			}
			// CL-AC-6: the front channel carries only client_id and
			// request_uri. (Recorded by the browser, not by rec.)
			md, err := cfg.Discover(ctx)
			if err != nil {
				t.Fatal(err)
			}
			hcl := cfg.Client(ctx, oauth2.StaticTokenSource(tok))
			resp, err := hcl.Get(md.UserinfoEndpoint)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"sub"`) {
				t.Errorf("userinfo = %d %s", resp.StatusCode, body)
			}
			ui := rec.to("/userinfo")
			if len(ui) != 1 || !strings.HasPrefix(ui[0].Header.Get("Authorization"), "DPoP ") {
				t.Fatalf("userinfo requests = %+v", ui)
			}
			pc := testenv.Claims(t, ui[0].Header.Get("DPoP"))
			if pc["ath"] == nil || pc["htm"] != "GET" || pc["htu"] != md.UserinfoEndpoint {
				t.Errorf("userinfo proof = %v", pc)
			}
			// CL-6: a refresh keeps the old refresh token when the server
			// does not rotate (fapi2 profile) and switches to the new one
			// when it does (public clients).
			expired := *tok
			expired.Expiry = time.Now().Add(-time.Minute)
			rts := cfg.TokenSource(ctx, &expired)
			refreshed, err := rts.Token()
			if err != nil {
				t.Fatal(err)
			}
			rotated := refreshed.RefreshToken != tok.RefreshToken
			if wantRotate := id == testenv.PublicClient; rotated != wantRotate || refreshed.RefreshToken == "" {
				t.Errorf("refresh token rotated = %v, want %v", rotated, wantRotate)
			}
			if refreshed.AccessToken == tok.AccessToken || refreshed.TokenType != "DPoP" {
				t.Errorf("refreshed token = %+v", refreshed)
			}
			if again, _ := rts.Token(); again == nil || again.AccessToken != refreshed.AccessToken {
				t.Error("the refreshed token is not reused")
			}
			// The same token without a proof is refused (RFC 9449 §7.2).
			for _, scheme := range []string{"DPoP", "Bearer"} {
				req, _ := http.NewRequest(http.MethodGet, md.UserinfoEndpoint, nil)
				req.Header.Set("Authorization", scheme+" "+tok.AccessToken)
				resp, err := env.Client(nil).Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusUnauthorized {
					t.Errorf("%s without proof: status %d, want 401", scheme, resp.StatusCode)
				}
			}
		})
	}
}

// TestLoginPARBinding logs in with each DPoP binding at PAR (DPOP-CL-4):
// a proof, or dpop_jkt. Each login has its own PKCE verifier and state
// (CL-AC-4).
func TestLoginPARBinding(t *testing.T) {
	env := start(t, testenv.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	hc, rec := httpClient(env)
	var challenges []string
	for _, jkt := range []bool{false, true} {
		cfg := loginConfig(t, env, testenv.FAPIClient, hc)
		cfg.DPoPJKTAtPAR = jkt
		tok, err := cfg.Login(ctx)
		if err != nil {
			t.Fatalf("dpop_jkt %v: %v", jkt, err)
		}
		par := rec.to("/par")
		last := par[len(par)-1]
		if got := last.Form.Get("dpop_jkt"); jkt != (got == cfg.DPoPKey.Thumbprint()) || jkt == (last.Header.Get("DPoP") != "") {
			t.Errorf("dpop_jkt %v: PAR sent dpop_jkt %q and proof %v", jkt, got, last.Header.Get("DPoP") != "")
		}
		if cnf, _ := testenv.Claims(t, tok.AccessToken)["cnf"].(map[string]any); cnf["jkt"] != cfg.DPoPKey.Thumbprint() {
			t.Errorf("dpop_jkt %v: cnf = %v", jkt, cnf)
		}
		challenges = append(challenges, last.Form.Get("code_challenge")+" "+last.Form.Get("state"))
	}
	if challenges[0] == challenges[1] {
		t.Error("two logins shared a PKCE challenge or state")
	}
}

func TestLoginRejectsAuthorizationResponse(t *testing.T) {
	env := start(t, testenv.Options{})
	tests := []struct {
		name   string
		mutate func(url.Values)
	}{
		{"fail/wrong iss", func(q url.Values) { q.Set("iss", "https://evil.example") }},
		{"fail/missing iss", func(q url.Values) { q.Del("iss") }},
		{"fail/wrong state", func(q url.Values) { q.Set("state", "forged") }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hc, rec := httpClient(env)
			cfg := loginConfig(t, env, testenv.PublicClient, hc)
			cfg.OpenBrowser = browser(env, tt.mutate)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			_, err := cfg.Login(ctx)
			if !errors.Is(err, client.ErrAuthorizationResponse) {
				t.Fatalf("Login = %v, want ErrAuthorizationResponse", err)
			}
			// CL-AC-5: the token endpoint is never called.
			if n := len(rec.to("/token")); n != 0 {
				t.Errorf("%d token requests after a rejected response", n)
			}
		})
	}
}

func TestTransportResourceNonce(t *testing.T) {
	env := start(t, testenv.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	hc, rec := httpClient(env)
	cfg := loginConfig(t, env, testenv.NonceClient, hc)
	tok, err := cfg.Login(ctx)
	if err != nil {
		t.Fatal(err)
	}
	md, _ := cfg.Discover(ctx)
	// A Transport of its own starts without the nonce the Config learnt at
	// the token endpoint, so the resource server must ask for one.
	tr := &client.Transport{Source: oauth2.StaticTokenSource(tok), DPoPKey: cfg.DPoPKey, Base: rec}
	body := "ignored=1"
	req, _ := http.NewRequest(http.MethodPost, md.UserinfoEndpoint+"?q=1#frag", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("userinfo = %d", resp.StatusCode)
	}
	ui := rec.to("/userinfo")
	if len(ui) != 2 || ui[0].Status != http.StatusUnauthorized {
		t.Fatalf("userinfo requests = %d (first %d), want a 401 then a retry", len(ui), ui[0].Status)
	}
	first, second := testenv.Claims(t, ui[0].Header.Get("DPoP")), testenv.Claims(t, ui[1].Header.Get("DPoP"))
	if first["nonce"] != nil || second["nonce"] == nil || first["jti"] == second["jti"] {
		t.Errorf("proofs %v then %v: want a fresh proof with the nonce", first, second)
	}
	if second["htu"] != md.UserinfoEndpoint {
		t.Errorf("htu = %v, want the URL without query and fragment", second["htu"])
	}
	if ui[1].Form.Get("ignored") != "1" {
		t.Errorf("retried body = %v, want it replayed through GetBody", ui[1].Form)
	}
}

func TestTransportDPoPTokenWithoutKey(t *testing.T) {
	// A DPoP token without a key fails before anything is sent.
	tr := &client.Transport{Source: oauth2.StaticTokenSource(&oauth2.Token{AccessToken: "x", TokenType: "DPoP"})}
	_, err := (&http.Client{Transport: tr}).Get("https://127.0.0.1:1/")
	if err == nil {
		t.Fatal("want an error")
	}
}

var _ crypto.Signer = hsmSigner{}
