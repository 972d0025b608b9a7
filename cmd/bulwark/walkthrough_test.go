package main

import (
	"strings"
	"testing"

	"github.com/bulwarkauth/bulwark/internal/oauth"
)

func TestNewPKCE(t *testing.T) {
	v1, c1, err := newPKCE()
	if err != nil {
		t.Fatal(err)
	}
	v2, _, err := newPKCE()
	if err != nil {
		t.Fatal(err)
	}
	if len(v1) < 43 || len(v1) > 128 {
		t.Errorf("verifier has %d characters, want 43-128 (RFC 7636 §4.1)", len(v1))
	}
	if !oauth.VerifyPKCE(c1, v1) {
		t.Error("challenge is not BASE64URL(SHA-256(verifier))")
	}
	if v1 == v2 {
		t.Error("two verifiers are equal")
	}
}

func TestWalkthrough(t *testing.T) {
	const verifier, challenge = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
	tests := []struct {
		name   string
		issuer string
		want   []string
	}{
		{
			name:   "ok/default-issuer",
			issuer: "http://127.0.0.1:8080",
			want: []string{
				"curl -s http://127.0.0.1:8080/.well-known/openid-configuration\n",
				"code_verifier   " + verifier,
				"code_challenge  " + challenge,
				"curl -s -u demo-secret:demo-secret-change-me-0123456789 \\\n" +
					"     -d response_type=code -d client_id=demo-secret \\\n" +
					"     -d redirect_uri=http://127.0.0.1:9999/callback \\\n" +
					"     -d scope='openid profile' \\\n" +
					"     -d code_challenge=" + challenge + " -d code_challenge_method=S256 \\\n" +
					"     -d state=xyz \\\n" +
					"     http://127.0.0.1:8080/par\n",
				"http://127.0.0.1:8080/authorize?client_id=demo-secret&request_uri=<request_uri from above>",
				"log in as alice",
				"-d grant_type=authorization_code -d code=<code> \\\n" +
					"     -d redirect_uri=http://127.0.0.1:9999/callback \\\n" +
					"     -d code_verifier=" + verifier + " \\\n" +
					"     http://127.0.0.1:8080/token\n",
				"curl -s -H 'Authorization: Bearer <access_token>' http://127.0.0.1:8080/userinfo\n",
				"-d token=<access_token> http://127.0.0.1:8080/introspect\n",
				"-d token=<refresh_token> -d token_type_hint=refresh_token http://127.0.0.1:8080/revoke\n",
				"-d grant_type=client_credentials -d scope=api http://127.0.0.1:8080/token\n",
				"bulwark-data/demo-fapi-key.json",
			},
		},
		{
			name:   "ok/issuer-with-path",
			issuer: "http://localhost:9000/auth",
			want: []string{
				"curl -s http://localhost:9000/auth/.well-known/openid-configuration\n",
				"     http://localhost:9000/auth/par\n",
				"http://localhost:9000/auth/authorize?client_id=demo-secret&request_uri=",
			},
		},
		{
			name:   "ok/issuer-quoted-for-the-shell",
			issuer: "http://[::1]:8080/a'b",
			want: []string{
				`curl -s 'http://[::1]:8080/a'\''b/.well-known/openid-configuration'` + "\n",
				`     'http://[::1]:8080/a'\''b/par'` + "\n",
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := walkthrough(tc.issuer, verifier, challenge)
			for _, w := range tc.want {
				if !strings.Contains(got, w) {
					t.Errorf("walkthrough lacks %q\n--- walkthrough:\n%s", w, got)
				}
			}
		})
	}
}

func TestShellQuote(t *testing.T) {
	tests := []struct{ in, want string }{
		{"http://127.0.0.1:8080/par", "http://127.0.0.1:8080/par"},
		{"", "''"},
		{"a b", "'a b'"},
		{"$HOME", "'$HOME'"},
		{"it's", `'it'\''s'`},
		{"http://[::1]/x", "'http://[::1]/x'"},
	}
	for _, tc := range tests {
		if got := shellQuote(tc.in); got != tc.want {
			t.Errorf("shellQuote(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}
