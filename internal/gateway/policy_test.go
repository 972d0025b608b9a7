package gateway

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/bulwarkauth/bulwark/resource"
)

// examplePolicy is the documented example, relative to this package.
const examplePolicy = "../../docs/gateway-policy.rego"

// policyToken returns a DPoP-bound token of the acme tenant granted the
// accounts scope; cases change what they test.
func policyToken(change func(*resource.Token)) *resource.Token {
	tok := &resource.Token{
		Subject: "alice", ClientID: "bank-app", Issuer: "https://as.example",
		Scopes: []string{"openid", "accounts"}, Audience: []string{"https://api.example"},
		Expiry:  time.Unix(1767225600, 0),
		Binding: resource.BindingDPoP, JKT: "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I",
		Claims: map[string]any{"sub": "alice", "client_id": "bank-app", "tenant": "acme", "exp": 1767225600.0},
	}
	if change != nil {
		change(tok)
	}
	return tok
}

func mtls(tok *resource.Token) {
	tok.Binding, tok.JKT, tok.X5T = resource.BindingMTLS, "", "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"
}

func bearer(tok *resource.Token) { tok.Binding, tok.JKT = resource.BindingBearer, "" }

func TestExamplePolicy(t *testing.T) {
	p, err := loadPolicy(context.Background(), examplePolicy, []string{"X-Tenant"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		method  string
		path    string
		headers http.Header
		token   func(*resource.Token)
		want    bool
	}{
		// Reads: any token with scope accounts.
		{name: "read/get", method: "GET", path: "/accounts/42", want: true},
		{name: "read/head", method: "HEAD", path: "/accounts", want: true},
		{name: "read/bearer-token", method: "GET", path: "/accounts/42", token: bearer, want: true},
		{name: "read/no-tenant-needed", method: "GET", path: "/accounts", token: func(tok *resource.Token) { delete(tok.Claims, "tenant") }, want: true},
		{name: "read/without-accounts-scope", method: "GET", path: "/accounts/42", token: func(tok *resource.Token) { tok.Scopes = []string{"openid", "payments"} }},
		{name: "read/no-scopes", method: "GET", path: "/accounts/42", token: func(tok *resource.Token) { tok.Scopes = nil }},
		{name: "read/scope-prefix-is-not-scope", method: "GET", path: "/accounts/42", token: func(tok *resource.Token) { tok.Scopes = []string{"accounts:read"} }},
		{name: "read/lower-case-method", method: "get", path: "/accounts/42"},
		{name: "read/options-not-a-read", method: "OPTIONS", path: "/accounts"},

		// Writes: sender-constrained token and the tenant header equal to
		// the tenant claim.
		{name: "write/post-dpop", method: "POST", path: "/accounts", headers: http.Header{"X-Tenant": {"acme"}}, want: true},
		{name: "write/put-mtls", method: "PUT", path: "/accounts/42", headers: http.Header{"X-Tenant": {"acme"}}, token: mtls, want: true},
		{name: "write/patch-dpop", method: "PATCH", path: "/accounts/42", headers: http.Header{"X-Tenant": {"acme"}}, want: true},
		{name: "write/bearer-token", method: "POST", path: "/accounts", headers: http.Header{"X-Tenant": {"acme"}}, token: bearer},
		{name: "write/dpop-without-jkt", method: "POST", path: "/accounts", headers: http.Header{"X-Tenant": {"acme"}}, token: func(tok *resource.Token) { tok.JKT = "" }},
		{name: "write/mtls-without-x5t", method: "POST", path: "/accounts", headers: http.Header{"X-Tenant": {"acme"}}, token: func(tok *resource.Token) { mtls(tok); tok.X5T = "" }},
		{name: "write/other-tenant", method: "POST", path: "/accounts", headers: http.Header{"X-Tenant": {"globex"}}},
		{name: "write/tenant-header-missing", method: "POST", path: "/accounts"},
		{name: "write/tenant-header-empty", method: "POST", path: "/accounts", headers: http.Header{"X-Tenant": {""}}, token: func(tok *resource.Token) { tok.Claims["tenant"] = "" }},
		{name: "write/tenant-header-twice", method: "POST", path: "/accounts", headers: http.Header{"X-Tenant": {"acme", "acme"}}},
		{name: "write/tenant-claim-missing", method: "POST", path: "/accounts", headers: http.Header{"X-Tenant": {"acme"}}, token: func(tok *resource.Token) { delete(tok.Claims, "tenant") }},
		{name: "write/tenant-claim-not-string", method: "POST", path: "/accounts", headers: http.Header{"X-Tenant": {"1"}}, token: func(tok *resource.Token) { tok.Claims["tenant"] = 1.0 }},
		{name: "write/without-accounts-scope", method: "POST", path: "/accounts", headers: http.Header{"X-Tenant": {"acme"}}, token: func(tok *resource.Token) { tok.Scopes = []string{"payments"} }},
		{name: "write/no-claims", method: "POST", path: "/accounts", headers: http.Header{"X-Tenant": {"acme"}}, token: func(tok *resource.Token) { tok.Claims = nil }},

		// DELETE: a write, of one account, by the back-office client.
		{name: "delete/back-office", method: "DELETE", path: "/accounts/42", headers: http.Header{"X-Tenant": {"acme"}}, token: func(tok *resource.Token) { tok.ClientID = "back-office" }, want: true},
		{name: "delete/back-office-mtls", method: "DELETE", path: "/accounts/42", headers: http.Header{"X-Tenant": {"acme"}}, token: func(tok *resource.Token) { mtls(tok); tok.ClientID = "back-office" }, want: true},
		{name: "delete/other-client", method: "DELETE", path: "/accounts/42", headers: http.Header{"X-Tenant": {"acme"}}},
		{name: "delete/client-id-only-in-claims", method: "DELETE", path: "/accounts/42", headers: http.Header{"X-Tenant": {"acme"}}, token: func(tok *resource.Token) { tok.Claims["client_id"] = "back-office" }},
		{name: "delete/collection", method: "DELETE", path: "/accounts", headers: http.Header{"X-Tenant": {"acme"}}, token: func(tok *resource.Token) { tok.ClientID = "back-office" }},
		{name: "delete/below-account", method: "DELETE", path: "/accounts/42/cards/7", headers: http.Header{"X-Tenant": {"acme"}}, token: func(tok *resource.Token) { tok.ClientID = "back-office" }},
		{name: "delete/trailing-slash", method: "DELETE", path: "/accounts/", headers: http.Header{"X-Tenant": {"acme"}}, token: func(tok *resource.Token) { tok.ClientID = "back-office" }},
		{name: "delete/bearer", method: "DELETE", path: "/accounts/42", headers: http.Header{"X-Tenant": {"acme"}}, token: func(tok *resource.Token) { bearer(tok); tok.ClientID = "back-office" }},
		{name: "delete/other-tenant", method: "DELETE", path: "/accounts/42", headers: http.Header{"X-Tenant": {"globex"}}, token: func(tok *resource.Token) { tok.ClientID = "back-office" }},

		// Deny by default.
		{name: "default/unknown-method", method: "TRACE", path: "/accounts", headers: http.Header{"X-Tenant": {"acme"}}},
		{name: "default/connect", method: "CONNECT", path: "/accounts", headers: http.Header{"X-Tenant": {"acme"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "https://api.example"+tc.path, nil)
			r.Method = tc.method
			for k, vs := range tc.headers {
				for _, v := range vs {
					r.Header.Add(k, v)
				}
			}
			got, err := p.allow(context.Background(), p.input(r, "accounts", policyToken(tc.token)))
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("allow = %v, want %v", got, tc.want)
			}
		})
	}
}

// writePolicy writes src to a .rego file in a fresh directory.
func writePolicy(t *testing.T, src string) string {
	t.Helper()
	file := filepath.Join(t.TempDir(), "policy.rego")
	if err := os.WriteFile(file, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// TestPolicyAllowMustBeTrue checks that only allow == true lets a request
// through.
func TestPolicyAllowMustBeTrue(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want bool
	}{
		{name: "true", src: "package p\nallow := true\n", want: true},
		{name: "true-if-input", src: "package p\nallow if input.method == \"GET\"\n", want: true},
		{name: "undefined-no-rule", src: "package p\nother := true\n"},
		{name: "undefined-body-fails", src: "package p\nallow if input.method == \"POST\"\n"},
		{name: "undefined-missing-input", src: "package p\nallow if input.nothing.here\n"},
		{name: "false", src: "package p\nallow := false\n"},
		{name: "default-false", src: "package p\ndefault allow := false\nallow if input.method == \"POST\"\n"},
		{name: "string-true", src: "package p\nallow := \"true\"\n"},
		{name: "number", src: "package p\nallow := 1\n"},
		{name: "object", src: "package p\nallow := {\"allow\": true}\n"},
		{name: "array", src: "package p\nallow := [true]\n"},
		{name: "set", src: "package p\nallow contains true\n"},
		{name: "null", src: "package p\nallow := null\n"},
		{name: "other-package-path", src: "package a.b.c\nallow := true\n", want: true},
		{name: "nested-allow-is-not-allow", src: "package p\nx.allow := true\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := loadPolicy(context.Background(), writePolicy(t, tc.src), nil)
			if err != nil {
				t.Fatal(err)
			}
			r := httptest.NewRequest(http.MethodGet, "/a", nil)
			got, err := p.allow(context.Background(), p.input(r, "a", policyToken(nil)))
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("allow = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestPolicyEvalError checks that a runtime error is an error, which
// serveRoute answers with a refusal, not a pass.
func TestPolicyEvalError(t *testing.T) {
	// Two complete definitions with different values: a conflict OPA
	// reports only when evaluating.
	src := "package p\nallow := true if input.method == \"GET\"\nallow := false if input.path == \"/a\"\n"
	p, err := loadPolicy(context.Background(), writePolicy(t, src), nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := p.allow(context.Background(), p.input(httptest.NewRequest(http.MethodGet, "/a", nil), "a", policyToken(nil)))
	if err == nil || got {
		t.Fatalf("allow = %v, %v; want false and an error", got, err)
	}
	if !strings.Contains(err.Error(), "policy.rego") {
		t.Errorf("error %q does not name the file", err)
	}
}

func TestLoadPolicyRefuses(t *testing.T) {
	tests := []struct {
		name string
		src  string
		// want are substrings of the error besides the file name.
		want []string
	}{
		{name: "http.send", src: "package p\nallow if http.send({\"method\": \"GET\", \"url\": \"https://example.com\"}).status_code == 200\n", want: []string{"http.send"}},
		{name: "net.lookup_ip_addr", src: "package p\nallow if count(net.lookup_ip_addr(\"example.com\")) > 0\n", want: []string{"net.lookup_ip_addr"}},
		{name: "opa.runtime", src: "package p\nallow if opa.runtime().env.HOME != \"\"\n", want: []string{"opa.runtime"}},
		{name: "opa.runtime-in-helper", src: "package p\nenv := opa.runtime().env\nallow if env\n", want: []string{"opa.runtime"}},
		{name: "syntax-error", src: "package p\nallow if {\n", want: []string{"policy.rego:"}},
		{name: "v0-syntax", src: "package p\nallow { true }\n", want: []string{"policy.rego:"}},
		{name: "no-package", src: "allow := true\n", want: []string{"policy.rego:"}},
		{name: "unsafe-var", src: "package p\nallow if x == 1\n", want: []string{"x"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			file := writePolicy(t, tc.src)
			p, err := loadPolicy(context.Background(), file, nil)
			if err == nil {
				t.Fatalf("loadPolicy succeeded (%v), want an error", p != nil)
			}
			msg := err.Error()
			if !strings.Contains(msg, file) {
				t.Errorf("error %q does not name %s", msg, file)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q lacks %q", msg, w)
				}
			}
		})
	}
	t.Run("missing-file", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "absent.rego")
		if _, err := loadPolicy(context.Background(), file, nil); err == nil || !strings.Contains(err.Error(), "absent.rego") {
			t.Errorf("loadPolicy(absent) = %v, want an error naming the file", err)
		}
	})
}

// TestPolicyInput checks the input document against the documented shape,
// and that only policy_headers reach it.
func TestPolicyInput(t *testing.T) {
	p, err := loadPolicy(context.Background(), writePolicy(t, "package p\nallow := true\n"), []string{"x-tenant", "X-REQUEST-CLASS", "X-Absent"})
	if err != nil {
		t.Fatal(err)
	}
	r := httptest.NewRequest(http.MethodPost, "https://api.example/accounts/%34%32?q=1", nil)
	r.Header.Set("Authorization", "DPoP eyJ.token.sig")
	r.Header.Set("DPoP", "eyJ.proof.sig")
	r.Header.Set("Cookie", "session=secret")
	r.Header.Set("Proxy-Authorization", "Basic c2VjcmV0")
	r.Header.Set("X-Other", "not listed")
	r.Header.Add("X-Tenant", "acme")
	r.Header.Add("X-Request-Class", "batch")
	r.Header.Add("X-Request-Class", "low")

	tests := []struct {
		name  string
		token *resource.Token
		want  map[string]any
	}{
		{name: "dpop", token: policyToken(nil), want: map[string]any{
			"method":  "POST",
			"path":    "/accounts/42",
			"route":   "accounts",
			"headers": map[string]any{"x-tenant": "acme", "x-request-class": "batch, low"},
			"token": map[string]any{
				"sub": "alice", "client_id": "bank-app", "iss": "https://as.example",
				"scopes": []any{"openid", "accounts"}, "aud": []any{"https://api.example"},
				"exp":    int64(1767225600),
				"claims": map[string]any{"sub": "alice", "client_id": "bank-app", "tenant": "acme", "exp": 1767225600.0},
			},
			"binding": map[string]any{"type": "dpop", "jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I", "x5t": ""},
		}},
		{name: "empty-token", token: &resource.Token{Binding: resource.BindingBearer}, want: map[string]any{
			"method":  "POST",
			"path":    "/accounts/42",
			"route":   "accounts",
			"headers": map[string]any{"x-tenant": "acme", "x-request-class": "batch, low"},
			"token": map[string]any{
				"sub": "", "client_id": "", "iss": "",
				"scopes": []any{}, "aud": []any{}, "exp": int64(0), "claims": map[string]any{},
			},
			"binding": map[string]any{"type": "bearer", "jkt": "", "x5t": ""},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := p.input(r, "accounts", tc.token)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("input (-want +got):\n%s", diff)
			}
		})
	}

	// The same, as the policy sees it after OPA's conversion.
	seen := "package p\nallow if {\n\tobject.keys(input.headers) == {\"x-tenant\", \"x-request-class\"}\n\tinput.headers[\"x-request-class\"] == \"batch, low\"\n\tnot input.headers.authorization\n\tnot input.headers.cookie\n\tnot input.headers.dpop\n\tinput.token.scopes == []\n}\n"
	q, err := loadPolicy(context.Background(), writePolicy(t, seen), []string{"X-Tenant", "X-Request-Class"})
	if err != nil {
		t.Fatal(err)
	}
	ok, err := q.allow(context.Background(), q.input(r, "accounts", &resource.Token{}))
	if err != nil || !ok {
		t.Errorf("policy inspecting the headers: allow = %v, %v; want true", ok, err)
	}
}
