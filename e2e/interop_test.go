package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkauth/bulwark/internal/jose"
	"github.com/bulwarkauth/bulwark/internal/testenv"
)

// interopDir holds the npm project of the interop tests, relative to this
// package's directory (where go test runs).
const interopDir = "../interop"

// interopSummary is the JSON summary interop/fapi2-flow.mjs prints.
type interopSummary struct {
	OK                  bool   `json:"ok"`
	OpenIDClientVersion string `json:"openid_client_version"`
	Issuer              string `json:"issuer"`
	ClientID            string `json:"client_id"`
	AuthMethod          string `json:"auth_method"`
	Authorization       struct {
		Pages          []string `json:"pages"`
		CallbackParams []string `json:"callback_params"`
	} `json:"authorization"`
	IDToken struct {
		Alg          string `json:"alg"`
		Iss          string `json:"iss"`
		Sub          string `json:"sub"`
		Aud          any    `json:"aud"`
		NonceMatches bool   `json:"nonce_matches"`
	} `json:"id_token"`
	Userinfo struct {
		Sub   string `json:"sub"`
		Email string `json:"email"`
	} `json:"userinfo"`
	Refresh struct {
		NewAccessToken bool `json:"new_access_token"`
		Rotated        bool `json:"rotated"`
	} `json:"refresh"`
	Introspection struct {
		AccessToken struct {
			Active   bool   `json:"active"`
			ClientID string `json:"client_id"`
			Sub      string `json:"sub"`
		} `json:"access_token"`
		RefreshToken struct {
			Active bool `json:"active"`
		} `json:"refresh_token"`
	} `json:"introspection"`
	Revocation struct {
		AccessTokenActiveAfter  bool `json:"access_token_active_after"`
		RefreshTokenActiveAfter bool `json:"refresh_token_active_after"`
	} `json:"revocation"`
	ClientCredentials struct {
		IntrospectionActive bool   `json:"introspection_active"`
		IntrospectionSub    string `json:"introspection_sub"`
		Scope               string `json:"scope"`
	} `json:"client_credentials"`
	Negative struct {
		SecondAuthorizationPages    []string `json:"second_authorization_pages"`
		TamperedISSRejected         bool     `json:"tampered_iss_rejected"`
		MissingISSRejected          bool     `json:"missing_iss_rejected"`
		WrongStateRejected          bool     `json:"wrong_state_rejected"`
		CodeReplayError             string   `json:"code_replay_error"`
		CodeReplayStatus            int      `json:"code_replay_status"`
		CodeReplayAccessTokenActive bool     `json:"code_replay_access_token_active"`
	} `json:"negative"`
	ClientAssertions *struct {
		Count int      `json:"count"`
		Aud   []string `json:"aud"`
		Alg   []string `json:"alg"`
	} `json:"client_assertions"`
}

// TestInteropOpenIDClient runs panva's openid-client (interop/fapi2-flow.mjs)
// against the real server: discovery, PAR with PKCE, login and consent,
// code exchange with iss/state/nonce/ID token validation, userinfo,
// refresh, introspection, revocation, client credentials, and the checks
// openid-client makes on a tampered callback and a replayed code. It needs
// Node and the pinned npm packages; a machine without them fails the test.
func TestInteropOpenIDClient(t *testing.T) {
	node := requireInterop(t)

	t.Run("fapi2", func(t *testing.T) {
		env := testenv.Start(t, testenv.Options{SQLite: true})
		keyFile := writePrivateJWK(t, env.Keys[testenv.FAPIClient])
		s := runInterop(t, node, env, testenv.FAPIClient, "BULWARK_CLIENT_JWK_FILE="+keyFile)
		checkInteropSummary(t, env, testenv.FAPIClient, s)
		if s.AuthMethod != "private_key_jwt" {
			t.Errorf("auth_method = %q", s.AuthMethod)
		}
		// fapi2: the assertion audience is the issuer as a string, and
		// refresh tokens are not rotated.
		if s.ClientAssertions == nil || s.ClientAssertions.Count < 5 || !slices.Equal(s.ClientAssertions.Aud, []string{env.URL}) {
			t.Errorf("client assertions = %+v, want aud [%s]", s.ClientAssertions, env.URL)
		}
		if s.Refresh.Rotated {
			t.Errorf("fapi2 refresh token rotated")
		}
	})

	t.Run("standard", func(t *testing.T) {
		env := testenv.Start(t, testenv.Options{SQLite: true})
		s := runInterop(t, node, env, testenv.SecretClient, "BULWARK_CLIENT_SECRET="+testenv.ClientSecret)
		checkInteropSummary(t, env, testenv.SecretClient, s)
		if s.AuthMethod != "client_secret_basic" {
			t.Errorf("auth_method = %q", s.AuthMethod)
		}
		// standard: refresh tokens rotate on every use.
		if !s.Refresh.Rotated {
			t.Errorf("standard refresh token not rotated")
		}
	})
}

// requireInterop returns the node binary and fails (never skips) when Node
// or the interop npm packages are missing.
func requireInterop(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node not found (Node 20+ is required for the interop tests): %v", err)
	}
	if _, err := os.Stat(filepath.Join(interopDir, "node_modules", "openid-client", "package.json")); err != nil {
		t.Fatalf("interop npm packages missing: run npm ci --prefix interop (or make interop-deps): %v", err)
	}
	return node
}

// writePrivateJWK stores k as a private JWK in a file only the test user can
// read and returns its path.
func writePrivateJWK(t *testing.T, k *jose.PrivateKey) string {
	t.Helper()
	if k == nil {
		t.Fatal("no private key for the client")
	}
	b, err := k.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "client-jwk.json")
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// runInterop runs interop/fapi2-flow.mjs for client against env and decodes
// its summary. Credentials travel in the environment, not in argv.
func runInterop(t *testing.T, node string, env *testenv.Env, client string, credential string) *interopSummary {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	script, err := filepath.Abs(filepath.Join(interopDir, "fapi2-flow.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, node, script)
	// Inherit everything but BULWARK_*, so a developer's settings cannot
	// change the client under test.
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "BULWARK_") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env,
		"BULWARK_ISSUER="+env.URL,
		"BULWARK_CLIENT_ID="+client,
		"BULWARK_REDIRECT_URI="+testenv.RedirectURI,
		"BULWARK_USERNAME="+testenv.UserName,
		"BULWARK_PASSWORD="+testenv.UserPassword,
		"BULWARK_SCOPE=openid profile email",
		credential,
	)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("interop/fapi2-flow.mjs (%s) failed: %v\nstderr:\n%s\nstdout:\n%s", client, err, stderr.String(), stdout.String())
	}
	t.Logf("openid-client summary (%s):\n%s", client, stdout.String())
	var s interopSummary
	if err := json.Unmarshal(stdout.Bytes(), &s); err != nil {
		t.Fatalf("summary is not JSON: %v\n%s", err, stdout.String())
	}
	if !s.OK {
		t.Fatalf("summary not ok:\n%s", stdout.String())
	}
	return &s
}

// checkInteropSummary checks what every client profile must see.
func checkInteropSummary(t *testing.T, env *testenv.Env, client string, s *interopSummary) {
	t.Helper()
	if !strings.HasPrefix(s.OpenIDClientVersion, "6.") {
		t.Errorf("openid-client version = %q, want 6.x", s.OpenIDClientVersion)
	}
	if s.Issuer != env.URL || s.ClientID != client {
		t.Errorf("summary issuer/client = %q/%q", s.Issuer, s.ClientID)
	}
	if !slices.Equal(s.Authorization.Pages, []string{"login", "consent"}) {
		t.Errorf("pages = %v, want [login consent]", s.Authorization.Pages)
	}
	if !slices.Contains(s.Authorization.CallbackParams, "iss") {
		t.Errorf("callback parameters = %v, want iss (RFC 9207)", s.Authorization.CallbackParams)
	}

	id := s.IDToken
	if id.Sub == "" || id.Iss != env.URL || id.Aud != client || !id.NonceMatches {
		t.Errorf("ID token = %+v", id)
	}
	if !slices.Contains(jose.FAPIAlgorithms, id.Alg) {
		t.Errorf("ID token alg = %q", id.Alg)
	}
	if s.Userinfo.Sub != id.Sub || s.Userinfo.Email != testenv.UserEmail {
		t.Errorf("userinfo = %+v", s.Userinfo)
	}
	if !s.Refresh.NewAccessToken {
		t.Errorf("refresh = %+v", s.Refresh)
	}

	in := s.Introspection
	if !in.AccessToken.Active || in.AccessToken.ClientID != client || in.AccessToken.Sub != id.Sub || !in.RefreshToken.Active {
		t.Errorf("introspection before revocation = %+v", in)
	}
	if s.Revocation.AccessTokenActiveAfter || s.Revocation.RefreshTokenActiveAfter {
		t.Errorf("introspection after revocation = %+v", s.Revocation)
	}
	if cc := s.ClientCredentials; !cc.IntrospectionActive || cc.IntrospectionSub != client || strings.Contains(cc.Scope, "openid") {
		t.Errorf("client credentials = %+v", cc)
	}

	n := s.Negative
	if len(n.SecondAuthorizationPages) != 0 {
		t.Errorf("second authorization showed %v; consent should be remembered", n.SecondAuthorizationPages)
	}
	if !n.TamperedISSRejected || !n.MissingISSRejected || !n.WrongStateRejected {
		t.Errorf("negative callback checks = %+v", n)
	}
	if n.CodeReplayError != "invalid_grant" || n.CodeReplayStatus != 400 {
		t.Errorf("code replay = %q (%d), want invalid_grant (400)", n.CodeReplayError, n.CodeReplayStatus)
	}
	if n.CodeReplayAccessTokenActive {
		t.Errorf("access token from a replayed code is still active")
	}
}
