package e2e_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509/pkix"
	"encoding/base64"
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
	"github.com/bulwarkauth/bulwark/internal/testenv/testca"
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
	SenderConstraint    string `json:"sender_constraint"`
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
		// NewDPoPKey is the refresh with a second DPoP key (dpop only).
		NewDPoPKey *struct {
			JKT            string           `json:"jkt"`
			UserinfoSub    string           `json:"userinfo_sub"`
			OldKeyUserinfo interopRejection `json:"old_key_userinfo"`
		} `json:"new_dpop_key"`
	} `json:"refresh"`
	Introspection struct {
		AccessToken struct {
			Active    bool   `json:"active"`
			ClientID  string `json:"client_id"`
			Sub       string `json:"sub"`
			TokenType string `json:"token_type"`
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
		DPoP                        *struct {
			BearerDowngrade              interopRejection `json:"bearer_downgrade"`
			RefreshWithoutDPoP           interopRejection `json:"refresh_without_dpop"`
			ClientCredentialsWithoutDPoP interopRejection `json:"client_credentials_without_dpop"`
			BearerDowngradeWithProof     interopRejection `json:"bearer_downgrade_with_proof"`
			OtherKeyUserinfo             interopRejection `json:"other_key_userinfo"`
			OwnKeyUserinfoSub            string           `json:"own_key_userinfo_sub"`
			CodeWithOtherKey             interopRejection `json:"code_with_other_key"`
		} `json:"dpop"`
		MTLS *struct {
			UserinfoWithCert    interopUserinfo  `json:"userinfo_with_cert"`
			UserinfoWithoutCert interopUserinfo  `json:"userinfo_without_cert"`
			UserinfoOtherCert   *interopUserinfo `json:"userinfo_other_cert"`
			TokenWithoutCert    interopRejection `json:"token_without_cert"`
		} `json:"mtls"`
	} `json:"negative"`
	// Binding holds, per token, its token_type and cnf: code_exchange,
	// refresh, refresh_new_key (dpop), introspection, client_credentials.
	Binding          map[string]interopBinding `json:"binding"`
	ServerTokenTypes []string                  `json:"server_token_types"`
	DPoP             *struct {
		JKT                             string   `json:"jkt"`
		JKTMatchesRFC7638               bool     `json:"jkt_matches_rfc7638"`
		SecondKeyJKT                    string   `json:"second_key_jkt"`
		PARWithProof                    bool     `json:"par_with_proof"`
		AllConstrainedRequestsWithProof bool     `json:"all_constrained_requests_with_proof"`
		UserinfoSchemes                 []string `json:"userinfo_schemes"`
		Proofs                          struct {
			Count     int      `json:"count"`
			UniqueJTI bool     `json:"unique_jti"`
			WithNonce int      `json:"with_nonce"`
			WithATH   int      `json:"with_ath"`
			Endpoints []string `json:"endpoints"`
			JKTs      []string `json:"jkts"`
		} `json:"proofs"`
		Nonce struct {
			Challenges []struct {
				Endpoint        string `json:"endpoint"`
				Status          int    `json:"status"`
				DPoPNonceHeader bool   `json:"dpop_nonce_header"`
			} `json:"challenges"`
			ASChallenges int `json:"as_challenges"`
			RSChallenges int `json:"rs_challenges"`
		} `json:"nonce"`
	} `json:"dpop"`
	MTLS *struct {
		CertThumbprint string   `json:"cert_thumbprint"`
		AliasOrigin    string   `json:"alias_origin"`
		AliasPaths     []string `json:"alias_paths"`
		IssuerPaths    []string `json:"issuer_paths"`
	} `json:"mtls"`
	ClientAssertions *struct {
		Count int      `json:"count"`
		Aud   []string `json:"aud"`
		Alg   []string `json:"alg"`
	} `json:"client_assertions"`
}

// interopRejection is how the summary reports a refused request.
type interopRejection struct {
	Status  int      `json:"status"`
	Error   string   `json:"error"`
	Schemes []string `json:"schemes"`
}

// interopUserinfo is a plain-fetch userinfo call of the mTLS checks.
type interopUserinfo struct {
	Endpoint string `json:"endpoint"`
	Status   int    `json:"status"`
	Error    string `json:"error"`
	Sub      string `json:"sub"`
}

// interopBinding is a token's type and confirmation (RFC 7800 cnf).
type interopBinding struct {
	TokenType string `json:"token_type"`
	JKT       string `json:"jkt"`
	X5T       string `json:"x5t_s256"`
	Bound     bool   `json:"bound"`
}

// TestInteropOpenIDClient runs panva's openid-client (interop/fapi2-flow.mjs)
// against the real server: discovery, PAR with PKCE, login and consent,
// code exchange with iss/state/nonce/ID token validation, userinfo,
// refresh, introspection, revocation, client credentials, and the checks
// openid-client makes on a tampered callback and a replayed code. fapi2
// clients run sender-constrained: DPoP on every call (with and without
// server nonces, refresh onto a new key, Bearer downgrade and proofless
// token requests refused), and mTLS (tls_client_auth and
// self_signed_tls_client_auth over the mtls_endpoint_aliases,
// certificate-bound tokens refused without the certificate). The standard
// client stays on Bearer tokens. It needs Node and the pinned npm packages;
// a machine without them fails the test.
func TestInteropOpenIDClient(t *testing.T) {
	node := requireInterop(t)

	t.Run("fapi2", func(t *testing.T) {
		env := testenv.Start(t, testenv.Options{SQLite: true})
		keyFile := writePrivateJWK(t, env.Keys[testenv.FAPIClient])
		s := runInterop(t, node, env, testenv.FAPIClient, "BULWARK_CLIENT_JWK_FILE="+keyFile, "BULWARK_SENDER_CONSTRAINT=dpop")
		checkInteropSummary(t, env, testenv.FAPIClient, s)
		checkPrivateKeyJWT(t, env, s)
		checkDPoPSummary(t, s)
		// This client has no nonce policy: no challenge.
		if n := s.DPoP.Nonce; n.ASChallenges != 0 || n.RSChallenges != 0 {
			t.Errorf("use_dpop_nonce challenges for a client without a nonce policy: %+v", n)
		}
	})

	t.Run("fapi2-dpop-nonce", func(t *testing.T) {
		env := testenv.Start(t, testenv.Options{SQLite: true})
		keyFile := writePrivateJWK(t, env.Keys[testenv.NonceClient])
		s := runInterop(t, node, env, testenv.NonceClient, "BULWARK_CLIENT_JWK_FILE="+keyFile, "BULWARK_SENDER_CONSTRAINT=dpop")
		checkInteropSummary(t, env, testenv.NonceClient, s)
		checkPrivateKeyJWT(t, env, s)
		checkDPoPSummary(t, s)
		// The server demanded nonces (RFC 9449 §8 at PAR/token: 400
		// use_dpop_nonce; §9 at userinfo: 401) and openid-client answered
		// every challenge: the flow above completed.
		n := s.DPoP.Nonce
		if n.ASChallenges < 1 || n.RSChallenges < 1 {
			t.Errorf("nonce challenges: %d at the AS, %d at userinfo; want at least one of each", n.ASChallenges, n.RSChallenges)
		}
		for _, c := range n.Challenges {
			if !c.DPoPNonceHeader {
				t.Errorf("use_dpop_nonce challenge without a DPoP-Nonce header: %+v", c)
			}
		}
		if s.DPoP.Proofs.WithNonce == 0 {
			t.Errorf("no DPoP proof carried a nonce")
		}
	})

	t.Run("standard", func(t *testing.T) {
		env := testenv.Start(t, testenv.Options{SQLite: true})
		s := runInterop(t, node, env, testenv.SecretClient, "BULWARK_CLIENT_SECRET="+testenv.ClientSecret)
		checkInteropSummary(t, env, testenv.SecretClient, s)
		if s.AuthMethod != "client_secret_basic" || s.SenderConstraint != "none" {
			t.Errorf("auth_method/sender_constraint = %q/%q", s.AuthMethod, s.SenderConstraint)
		}
		// standard: Bearer tokens without cnf, and refresh tokens rotate on
		// every use.
		checkBindings(t, s, []string{"code_exchange", "refresh", "introspection", "client_credentials"}, func(name string, b interopBinding) bool {
			return strings.EqualFold(b.TokenType, "Bearer") && !b.Bound && b.JKT == "" && b.X5T == ""
		})
		if !s.Refresh.Rotated {
			t.Errorf("standard refresh token not rotated")
		}
	})

	for _, c := range []string{testenv.MTLSClient, testenv.SelfSignedClient} {
		name := map[string]string{testenv.MTLSClient: "fapi2-mtls", testenv.SelfSignedClient: "fapi2-self-signed-mtls"}[c]
		t.Run(name, func(t *testing.T) {
			env := testenv.Start(t, testenv.Options{SQLite: true, MTLS: true})
			dir := t.TempDir()
			leaf := env.ClientCerts[c]
			// A certificate from the same CA that the tokens are not
			// bound to.
			other := env.CA.Issue(testca.Options{Subject: pkix.Name{CommonName: "other-client"}, DNS: []string{"other-client.example"}})
			s := runInterop(t, node, env, c,
				"BULWARK_SENDER_CONSTRAINT=mtls",
				"BULWARK_CA_FILE="+writeFile(t, dir, "ca.pem", env.CA.PEM()),
				"BULWARK_CLIENT_CERT_FILE="+writeFile(t, dir, "client.pem", leaf.CertPEM()),
				"BULWARK_CLIENT_KEY_FILE="+writeFile(t, dir, "client-key.pem", leaf.KeyPEM()),
				"BULWARK_OTHER_CERT_FILE="+writeFile(t, dir, "other.pem", other.CertPEM()),
				"BULWARK_OTHER_KEY_FILE="+writeFile(t, dir, "other-key.pem", other.KeyPEM()),
			)
			checkInteropSummary(t, env, c, s)
			checkMTLSSummary(t, env, s, leaf)
		})
	}
}

// checkPrivateKeyJWT checks the client assertions of a fapi2
// private_key_jwt run: audience the issuer as a string, and refresh tokens
// not rotated.
func checkPrivateKeyJWT(t *testing.T, env *testenv.Env, s *interopSummary) {
	t.Helper()
	if s.AuthMethod != "private_key_jwt" {
		t.Errorf("auth_method = %q", s.AuthMethod)
	}
	if s.ClientAssertions == nil || s.ClientAssertions.Count < 5 || !slices.Equal(s.ClientAssertions.Aud, []string{env.URL}) {
		t.Errorf("client assertions = %+v, want aud [%s]", s.ClientAssertions, env.URL)
	}
	if s.Refresh.Rotated {
		t.Errorf("fapi2 refresh token rotated")
	}
}

// checkBindings checks that the summary has each named binding and that ok
// holds for it.
func checkBindings(t *testing.T, s *interopSummary, names []string, ok func(string, interopBinding) bool) {
	t.Helper()
	for _, name := range names {
		b, found := s.Binding[name]
		if !found {
			t.Errorf("summary has no binding %q: %v", name, s.Binding)
			continue
		}
		if !ok(name, b) {
			t.Errorf("binding %s = %+v", name, b)
		}
	}
}

// checkDPoPSummary checks a run with DPoP on every call (RFC 9449).
func checkDPoPSummary(t *testing.T, s *interopSummary) {
	t.Helper()
	d := s.DPoP
	if s.SenderConstraint != "dpop" || d == nil {
		t.Fatalf("sender_constraint = %q, dpop = %v", s.SenderConstraint, d)
	}
	if d.JKT == "" || !d.JKTMatchesRFC7638 || d.SecondKeyJKT == "" || d.SecondKeyJKT == d.JKT {
		t.Errorf("DPoP keys: jkt %q (RFC 7638 match %v), second %q", d.JKT, d.JKTMatchesRFC7638, d.SecondKeyJKT)
	}
	// Every token is DPoP-bound to the key of its request: the first key,
	// but for the refresh onto the second key and that token's
	// introspection.
	checkBindings(t, s, []string{"code_exchange", "refresh", "refresh_new_key", "introspection", "client_credentials"}, func(name string, b interopBinding) bool {
		want := d.JKT
		if name == "refresh_new_key" || name == "introspection" {
			want = d.SecondKeyJKT
		}
		return strings.EqualFold(b.TokenType, "DPoP") && b.Bound && b.JKT == want && b.X5T == ""
	})
	if len(s.ServerTokenTypes) == 0 {
		t.Errorf("no token_type seen on the wire")
	}
	for _, tt := range s.ServerTokenTypes {
		if !strings.EqualFold(tt, "DPoP") {
			t.Errorf("server sent token_type %q, want DPoP (never Bearer for fapi2)", tt)
		}
	}
	if !strings.EqualFold(s.Introspection.AccessToken.TokenType, "DPoP") {
		t.Errorf("introspection token_type = %q, want DPoP", s.Introspection.AccessToken.TokenType)
	}
	if !d.PARWithProof || !d.AllConstrainedRequestsWithProof || !slices.Equal(d.UserinfoSchemes, []string{"DPoP"}) {
		t.Errorf("DPoP use: PAR proof %v, all PAR/token/userinfo with proof %v, userinfo schemes %v", d.PARWithProof, d.AllConstrainedRequestsWithProof, d.UserinfoSchemes)
	}
	for _, want := range []string{"POST /par", "POST /token", "GET /userinfo"} {
		if !slices.Contains(d.Proofs.Endpoints, want) {
			t.Errorf("DPoP proofs went to %v, want %s among them", d.Proofs.Endpoints, want)
		}
	}
	if !d.Proofs.UniqueJTI || d.Proofs.WithATH == 0 || !slices.Equal(d.Proofs.JKTs, sortedCopy(d.JKT, d.SecondKeyJKT)) {
		t.Errorf("DPoP proofs = %+v", d.Proofs)
	}
	if k := s.Refresh.NewDPoPKey; k == nil || k.JKT != d.SecondKeyJKT || k.UserinfoSub != s.IDToken.Sub || k.OldKeyUserinfo.Status != 401 {
		t.Errorf("refresh onto a new DPoP key = %+v", k)
	}
	n := s.Negative.DPoP
	if n == nil {
		t.Fatal("summary has no DPoP negative checks")
	}
	// RFC 9449 §7.2: a DPoP-bound token presented as Bearer is refused,
	// with or without a proof.
	if r := n.BearerDowngrade; r.Status != 401 || r.Error != "invalid_token" {
		t.Errorf("Bearer downgrade at userinfo = %+v, want 401 invalid_token", r)
	}
	if r := n.BearerDowngradeWithProof; r.Status != 401 || r.Error != "invalid_token" {
		t.Errorf("Bearer downgrade with a proof = %+v, want 401 invalid_token", r)
	}
	// FAPI 2.0 SP 5.3.2.1-4: no Bearer fallback at the token endpoint.
	if r := n.RefreshWithoutDPoP; r.Status != 400 || r.Error != "invalid_request" {
		t.Errorf("refresh without DPoP = %+v, want 400 invalid_request", r)
	}
	if r := n.ClientCredentialsWithoutDPoP; r.Status != 400 || r.Error != "invalid_request" {
		t.Errorf("client_credentials without DPoP = %+v, want 400 invalid_request", r)
	}
	if r := n.OtherKeyUserinfo; r.Status != 401 || (r.Error != "invalid_dpop_proof" && r.Error != "invalid_token") {
		t.Errorf("userinfo with a proof by another key = %+v, want 401 invalid_dpop_proof", r)
	}
	if n.OwnKeyUserinfoSub != s.IDToken.Sub {
		t.Errorf("userinfo with the token's own key after the negatives: sub %q", n.OwnKeyUserinfoSub)
	}
	// RFC 9449 §10.1: the PAR proof binds the code to its key.
	if r := n.CodeWithOtherKey; r.Status != 400 || (r.Error != "invalid_dpop_proof" && r.Error != "invalid_grant") {
		t.Errorf("code exchange with another DPoP key = %+v, want 400 invalid_dpop_proof", r)
	}
}

// checkMTLSSummary checks a tls_client_auth run with certificate-bound
// tokens (RFC 8705) for the client certificate leaf.
func checkMTLSSummary(t *testing.T, env *testenv.Env, s *interopSummary, leaf *testca.Leaf) {
	t.Helper()
	m := s.MTLS
	if s.SenderConstraint != "mtls" || m == nil {
		t.Fatalf("sender_constraint = %q, mtls = %v", s.SenderConstraint, m)
	}
	if s.AuthMethod != "tls_client_auth" || s.ClientAssertions != nil {
		t.Errorf("auth_method = %q, client assertions %+v", s.AuthMethod, s.ClientAssertions)
	}
	sum := sha256.Sum256(leaf.Cert.Raw)
	thumb := base64.RawURLEncoding.EncodeToString(sum[:])
	if m.CertThumbprint != thumb {
		t.Errorf("script's certificate thumbprint %q, want %q", m.CertThumbprint, thumb)
	}
	checkBindings(t, s, []string{"code_exchange", "refresh", "introspection", "client_credentials"}, func(name string, b interopBinding) bool {
		return strings.EqualFold(b.TokenType, "Bearer") && b.Bound && b.X5T == thumb && b.JKT == ""
	})
	for _, tt := range s.ServerTokenTypes {
		if !strings.EqualFold(tt, "Bearer") {
			t.Errorf("server sent token_type %q for a certificate-bound token, want Bearer", tt)
		}
	}
	// Every call that has an alias went to the mutual-TLS listener; only
	// discovery and the JWKS stay on the issuer's origin.
	if m.AliasOrigin != env.MTLSURL {
		t.Errorf("alias origin %q, want %q", m.AliasOrigin, env.MTLSURL)
	}
	for _, p := range []string{"/par", "/token", "/userinfo", "/introspect", "/revoke"} {
		if !slices.Contains(m.AliasPaths, p) {
			t.Errorf("requests to the mTLS aliases %v lack %s", m.AliasPaths, p)
		}
	}
	for _, p := range m.IssuerPaths {
		if p != "/.well-known/openid-configuration" && !strings.Contains(p, "jwks") {
			t.Errorf("openid-client called %s on the issuer origin instead of its mTLS alias", p)
		}
	}
	n := s.Negative.MTLS
	if n == nil {
		t.Fatal("summary has no mTLS negative checks")
	}
	if u := n.UserinfoWithCert; u.Status != 200 || u.Sub != s.IDToken.Sub {
		t.Errorf("userinfo with the bound certificate = %+v", u)
	}
	// RFC 8705 §3: without the certificate, or with another one, the
	// token is refused with 401 invalid_token.
	if u := n.UserinfoWithoutCert; u.Status != 401 || u.Error != "invalid_token" {
		t.Errorf("userinfo without a client certificate = %+v, want 401 invalid_token", u)
	}
	if u := n.UserinfoOtherCert; u == nil || u.Status != 401 || u.Error != "invalid_token" {
		t.Errorf("userinfo with another certificate = %+v, want 401 invalid_token", u)
	}
	if r := n.TokenWithoutCert; (r.Status != 400 && r.Status != 401) || r.Error != "invalid_client" {
		t.Errorf("token request without a certificate = %+v, want invalid_client", r)
	}
}

func sortedCopy(v ...string) []string {
	slices.Sort(v)
	return v
}

// writeFile writes b to name in dir, readable only by the test user, and
// returns its path.
func writeFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// requireInterop returns the node binary and fails (never skips) when Node
// or the interop npm packages are missing.
func requireInterop(t *testing.T) string {
	t.Helper()
	node, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node not found (Node 20+ is required for the interop tests): %v", err)
	}
	for _, pkg := range []string{"openid-client", "undici"} {
		if _, err := os.Stat(filepath.Join(interopDir, "node_modules", pkg, "package.json")); err != nil {
			t.Fatalf("interop npm package %s missing: run npm ci --prefix interop (or make interop-deps): %v", pkg, err)
		}
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
// its summary. Credentials and the other settings (extra, as KEY=value)
// travel in the environment, not in argv.
func runInterop(t *testing.T, node string, env *testenv.Env, client string, extra ...string) *interopSummary {
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
	)
	cmd.Env = append(cmd.Env, extra...)
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
