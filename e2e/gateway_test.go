package e2e_test

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkauth/bulwark/internal/dpop"
	"github.com/bulwarkauth/bulwark/internal/gateway"
	"github.com/bulwarkauth/bulwark/internal/jose"
	"github.com/bulwarkauth/bulwark/internal/mtls"
	"github.com/bulwarkauth/bulwark/internal/store"
	"github.com/bulwarkauth/bulwark/internal/store/memory"
	"github.com/bulwarkauth/bulwark/internal/store/redis"
	"github.com/bulwarkauth/bulwark/internal/testenv"
	"github.com/bulwarkauth/bulwark/internal/testenv/services"
	"github.com/bulwarkauth/bulwark/internal/testenv/testca"
)

// gwEcho is what the test upstream saw of a request.
type gwEcho struct {
	Method string      `json:"method"`
	Path   string      `json:"path"`
	Query  string      `json:"query"`
	Header http.Header `json:"header"`
	Body   string      `json:"body"`
}

// gwUpstream is an API behind the gateway that echoes what it received.
func gwUpstream(t *testing.T) *httptest.Server {
	t.Helper()
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(gwEcho{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Header: r.Header, Body: string(b)})
	}))
	t.Cleanup(up.Close)
	return up
}

// gwGateway is a running gateway.
type gwGateway struct {
	URL string // base_url
	GW  *gateway.Gateway
}

// gwStart loads yaml (with {{base}} replaced by the listener's base URL)
// through package config exactly as `bulwark gateway` does and serves it
// on ln until the test ends. st is the replay store (nil: per process).
func gwStart(t *testing.T, ln net.Listener, scheme, yaml string, st *store.Store) *gwGateway {
	t.Helper()
	base := scheme + "://" + ln.Addr().String()
	return gwStartAt(t, ln, base, yaml, st)
}

func gwStartAt(t *testing.T, ln net.Listener, base, yaml string, st *store.Store) *gwGateway {
	t.Helper()
	gw := testenv.NewGateway(t, strings.ReplaceAll(yaml, "{{base}}", base), st)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- gw.Serve(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("gateway serve: %v", err)
		}
	})
	return &gwGateway{URL: base, GW: gw}
}

func gwListen(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln
}

// gwDPoPToken gets a DPoP-bound client_credentials token for FAPIClient
// with scope, for the audiences in resource.
func gwDPoPToken(t *testing.T, env *testenv.Env, scope string, resource ...string) string {
	t.Helper()
	form := env.AssertionForm(t, testenv.FAPIClient)
	form.Set("grant_type", "client_credentials")
	form.Set("scope", scope)
	form["resource"] = resource
	var tb tokenBody
	resp := env.PostForm(t, nil, "/token", form, env.DPoPHeader(t, testenv.FAPIClient, "/token"), &tb)
	if resp.StatusCode != http.StatusOK || tb.TokenType != "DPoP" {
		t.Fatalf("token: %d %+v", resp.StatusCode, tb)
	}
	return tb.AccessToken
}

// gwProof is a fresh proof of FAPIClient's DPoP key for u.
func gwProof(t *testing.T, env *testenv.Env, method, u, at string) string {
	t.Helper()
	p, err := dpop.NewProof(env.DPoPKey(t, testenv.FAPIClient), dpop.ProofParams{Method: method, URL: u, AccessToken: at})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// gwDo sends a request and returns the response with its body read.
func gwDo(t *testing.T, c *http.Client, method, u string, header http.Header) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, b
}

// gwDPoP sends a DPoP request with a fresh proof.
func gwDPoP(t *testing.T, env *testenv.Env, method, u, at string, extra http.Header) (*http.Response, []byte) {
	t.Helper()
	h := http.Header{"Authorization": {"DPoP " + at}, "Dpop": {gwProof(t, env, method, strings.Split(u, "?")[0], at)}}
	for k, v := range extra {
		h[k] = v
	}
	return gwDo(t, nil, method, u, h)
}

func gwWantStatus(t *testing.T, what string, resp *http.Response, body []byte, want int) {
	t.Helper()
	if resp.StatusCode != want {
		t.Errorf("%s: status %d, want %d; WWW-Authenticate %q; body %s", what, resp.StatusCode, want, resp.Header.Values("Www-Authenticate"), body)
	}
}

func gwEchoOf(t *testing.T, body []byte) gwEcho {
	t.Helper()
	var e gwEcho
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("upstream echo: %v: %s", err, body)
	}
	return e
}

const gwPolicy = `package bulwark.gateway

default allow := false

# GET only, for the acme tenant, and only with a DPoP-bound token.
allow if {
	input.method == "GET"
	input.headers["x-tenant"] == "acme"
	input.binding.type == "dpop"
	"accounts" in input.token.scopes
	input.token.claims.client_id == input.token.client_id
}
`

// gwBasicYAML is a gateway in front of up with an accounts route, a
// route needing a scope the tokens lack, and a policy route.
func gwBasicYAML(env *testenv.Env, upstream, policyFile, extra string) string {
	return fmt.Sprintf(`
gateway:
  listen: 127.0.0.1:0
  base_url: "{{base}}"
  issuer: %s
  resource_metadata:
    name: Test API
    documentation: https://docs.example/api
  routes:
    - name: accounts
      path_prefix: /accounts
      upstream: %s/v1
      scopes: [accounts]
    - name: custom
      path_prefix: /custom
      upstream: %s
      scopes: [accounts]
      forward_headers: {subject: X-User, jkt: "-"}
    - name: profile
      path_prefix: /profile
      upstream: %s
      scopes: [profile]
    - name: policed
      path_prefix: /policed
      methods: [GET, POST]
      upstream: %s
      scopes: [accounts]
      policy: %s
      policy_headers: [X-Tenant]
%s`, env.URL, upstream, upstream, upstream, upstream, policyFile, extra)
}

func gwPolicyFile(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "policy.rego")
	if err := os.WriteFile(p, []byte(gwPolicy), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestGatewayDPoP runs DPoP-bound tokens of the real authorization server
// through the gateway to a real upstream.
func TestGatewayDPoP(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	up := gwUpstream(t)
	shared := memory.New() // one replay store for gateways a and b
	lnA, lnB, lnC := gwListen(t), gwListen(t), gwListen(t)
	yaml := gwBasicYAML(env, up.URL, gwPolicyFile(t), "")
	a := gwStart(t, lnA, "http", yaml, shared)
	// b is a second node behind the same base URL and replay store; c
	// runs with its own in-process store.
	b := gwStartAt(t, lnB, a.URL, yaml, shared)
	c := gwStartAt(t, lnC, a.URL, yaml, nil)
	bURL, cURL := "http://"+lnB.Addr().String(), "http://"+lnC.Addr().String()
	at := gwDPoPToken(t, env, "accounts", a.URL)

	t.Run("ok/identity-headers", func(t *testing.T) {
		resp, body := gwDPoP(t, env, http.MethodGet, a.URL+"/accounts/42?x=1", at, http.Header{
			// Spoofed identity and forwarding headers must not arrive.
			"X-Bulwark-Subject":   {"admin"},
			"X-Bulwark-Client-Id": {"admin-app"},
			"X-Bulwark-Other":     {"forged"},
			"X-User":              {"admin"},
			"X-Forwarded-Host":    {"evil.example"},
			"X-Forwarded-Proto":   {"gopher"},
			"X-Forwarded-For":     {"203.0.113.9"},
		})
		gwWantStatus(t, "GET /accounts/42", resp, body, http.StatusOK)
		e := gwEchoOf(t, body)
		if e.Path != "/v1/accounts/42" || e.Query != "x=1" {
			t.Errorf("upstream path %q query %q", e.Path, e.Query)
		}
		want := map[string]string{
			"X-Bulwark-Subject":   testenv.FAPIClient,
			"X-Bulwark-Client-Id": testenv.FAPIClient,
			"X-Bulwark-Scopes":    "accounts",
			"X-Bulwark-Jkt":       env.DPoPKey(t, testenv.FAPIClient).Public().Thumbprint(),
			"X-Forwarded-Host":    strings.TrimPrefix(a.URL, "http://"),
			"X-Forwarded-Proto":   "http",
			"X-Forwarded-For":     "127.0.0.1",
		}
		for k, v := range want {
			if got := e.Header.Values(k); len(got) != 1 || got[0] != v {
				t.Errorf("upstream %s = %q, want %q", k, got, v)
			}
		}
		for _, k := range []string{"Authorization", "Dpop", "X-Bulwark-Other", "X-User", "X-Bulwark-X5t"} {
			if v := e.Header.Values(k); v != nil {
				t.Errorf("upstream saw %s: %q", k, v)
			}
		}
	})
	t.Run("ok/custom-forward-headers", func(t *testing.T) {
		resp, body := gwDPoP(t, env, http.MethodGet, a.URL+"/custom", at, http.Header{"X-User": {"admin"}, "X-Bulwark-Subject": {"admin"}})
		gwWantStatus(t, "GET /custom", resp, body, http.StatusOK)
		e := gwEchoOf(t, body)
		if got := e.Header.Values("X-User"); len(got) != 1 || got[0] != testenv.FAPIClient {
			t.Errorf("X-User = %q", got)
		}
		for _, k := range []string{"X-Bulwark-Subject", "X-Bulwark-Jkt"} {
			if v := e.Header.Values(k); v != nil {
				t.Errorf("upstream saw %s: %q", k, v)
			}
		}
	})
	t.Run("ok/lower-case-scheme", func(t *testing.T) {
		u := a.URL + "/accounts"
		resp, body := gwDo(t, nil, http.MethodGet, u, http.Header{"Authorization": {"dpop " + at}, "Dpop": {gwProof(t, env, http.MethodGet, u, at)}})
		gwWantStatus(t, "dpop scheme", resp, body, http.StatusOK)
	})
	t.Run("fail/proof-replay", func(t *testing.T) {
		u := a.URL + "/accounts/1"
		h := http.Header{"Authorization": {"DPoP " + at}, "Dpop": {gwProof(t, env, http.MethodGet, u, at)}}
		resp, body := gwDo(t, nil, http.MethodGet, u, h)
		gwWantStatus(t, "first use", resp, body, http.StatusOK)
		resp, body = gwDo(t, nil, http.MethodGet, u, h)
		gwWantStatus(t, "replay", resp, body, http.StatusUnauthorized)
		wantChallenge(t, resp, "DPoP", "invalid_dpop_proof")
	})
	t.Run("fail/replay-to-second-node", func(t *testing.T) {
		u := a.URL + "/accounts/2"
		h := http.Header{"Authorization": {"DPoP " + at}, "Dpop": {gwProof(t, env, http.MethodGet, u, at)}}
		resp, body := gwDo(t, nil, http.MethodGet, u, h)
		gwWantStatus(t, "node a", resp, body, http.StatusOK)
		resp, body = gwDo(t, nil, http.MethodGet, bURL+"/accounts/2", h)
		gwWantStatus(t, "replay at node b (shared store)", resp, body, http.StatusUnauthorized)
		// The control: a node with a store of its own cannot know.
		resp, body = gwDo(t, nil, http.MethodGet, cURL+"/accounts/2", h)
		gwWantStatus(t, "replay at node c (own store)", resp, body, http.StatusOK)
		_ = b
		_ = c
	})
	t.Run("fail/bearer-downgrade", func(t *testing.T) {
		u := a.URL + "/accounts"
		for _, h := range []http.Header{
			{"Authorization": {"Bearer " + at}},
			{"Authorization": {"Bearer " + at}, "Dpop": {gwProof(t, env, http.MethodGet, u, at)}},
		} {
			resp, body := gwDo(t, nil, http.MethodGet, u, h)
			gwWantStatus(t, "Bearer", resp, body, http.StatusUnauthorized)
		}
	})
	t.Run("fail/no-proof", func(t *testing.T) {
		resp, body := gwDo(t, nil, http.MethodGet, a.URL+"/accounts", http.Header{"Authorization": {"DPoP " + at}})
		gwWantStatus(t, "no proof", resp, body, http.StatusUnauthorized)
	})
	t.Run("fail/htu-from-forwarded-headers-ignored", func(t *testing.T) {
		// A proof for the host the caller claims is not a proof for the
		// gateway's configured URL.
		at := at
		u := a.URL + "/accounts"
		h := http.Header{
			"Authorization": {"DPoP " + at}, "Dpop": {gwProof(t, env, http.MethodGet, "https://evil.example/accounts", at)},
			"X-Forwarded-Host": {"evil.example"}, "X-Forwarded-Proto": {"https"},
		}
		resp, body := gwDo(t, nil, http.MethodGet, u, h)
		gwWantStatus(t, "forwarded htu", resp, body, http.StatusUnauthorized)
	})
	t.Run("fail/token-in-query", func(t *testing.T) {
		u := a.URL + "/accounts"
		resp, body := gwDo(t, nil, http.MethodGet, u+"?access_token="+at, http.Header{"Dpop": {gwProof(t, env, http.MethodGet, u, at)}})
		if resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("token in query: %d %s", resp.StatusCode, body)
		}
	})
	t.Run("fail/wrong-scope", func(t *testing.T) {
		resp, body := gwDPoP(t, env, http.MethodGet, a.URL+"/profile", at, nil)
		gwWantStatus(t, "GET /profile", resp, body, http.StatusForbidden)
		if ch := resp.Header.Get("Www-Authenticate"); !strings.HasPrefix(ch, "DPoP ") || !strings.Contains(ch, `error="insufficient_scope"`) {
			t.Errorf("challenge %q", ch)
		}
		if ch := resp.Header.Get("Www-Authenticate"); !strings.Contains(ch, `scope="profile"`) {
			t.Errorf("challenge %q lacks scope", ch)
		}
	})
	t.Run("fail/wrong-audience", func(t *testing.T) {
		other := gwDPoPToken(t, env, "accounts", "https://other-api.example")
		resp, body := gwDPoP(t, env, http.MethodGet, a.URL+"/accounts", other, nil)
		gwWantStatus(t, "foreign audience", resp, body, http.StatusUnauthorized)
	})
	t.Run("policy", func(t *testing.T) {
		resp, body := gwDPoP(t, env, http.MethodGet, a.URL+"/policed/x", at, http.Header{"X-Tenant": {"acme"}})
		gwWantStatus(t, "allowed", resp, body, http.StatusOK)
		for _, tc := range []struct {
			method string
			tenant string
		}{{http.MethodGet, "globex"}, {http.MethodPost, "acme"}, {http.MethodGet, ""}} {
			resp, body := gwDPoP(t, env, tc.method, a.URL+"/policed/x", at, http.Header{"X-Tenant": {tc.tenant}})
			gwWantStatus(t, tc.method+" tenant "+tc.tenant, resp, body, http.StatusForbidden)
			var eb errorBody
			if json.Unmarshal(body, &eb); eb.Error != gateway.CodeAccessDenied {
				t.Errorf("policy deny body %s", body)
			}
		}
	})
	t.Run("fail/routing", func(t *testing.T) {
		for _, tc := range []struct {
			path string
			want int
		}{
			{"/nowhere", http.StatusNotFound},
			{"/accountsx", http.StatusNotFound},
			{"/accounts/../profile", http.StatusBadRequest},
			{"/accounts/%2e%2e/profile", http.StatusBadRequest},
			{"/accounts//x", http.StatusBadRequest},
		} {
			req, _ := http.NewRequest(http.MethodGet, a.URL, nil)
			req.URL.Opaque = tc.path // sent as is, not cleaned by the client
			req.Header.Set("Authorization", "DPoP "+at)
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.want {
				t.Errorf("%s: %d, want %d", tc.path, resp.StatusCode, tc.want)
			}
		}
		resp, body := gwDPoP(t, env, http.MethodDelete, a.URL+"/policed/x", at, nil)
		gwWantStatus(t, "DELETE /policed", resp, body, http.StatusMethodNotAllowed)
	})
	t.Run("metadata", func(t *testing.T) {
		resp, body := gwDo(t, nil, http.MethodGet, a.URL+"/.well-known/oauth-protected-resource", nil)
		gwWantStatus(t, "metadata", resp, body, http.StatusOK)
		var md map[string]any
		if err := json.Unmarshal(body, &md); err != nil {
			t.Fatal(err)
		}
		want := map[string]any{
			"resource":                                   a.URL,
			"authorization_servers":                      []any{env.URL},
			"scopes_supported":                           []any{"accounts", "profile"},
			"bearer_methods_supported":                   []any{"header"},
			"dpop_signing_alg_values_supported":          []any{"PS256", "ES256", "EdDSA"},
			"dpop_bound_access_tokens_required":          false,
			"tls_client_certificate_bound_access_tokens": true,
			"resource_name":                              "Test API",
			"resource_documentation":                     "https://docs.example/api",
		}
		for k, v := range want {
			if fmt.Sprint(md[k]) != fmt.Sprint(v) {
				t.Errorf("metadata %s = %v, want %v", k, md[k], v)
			}
		}
		// RFC 9728 §5.1: challenges point at it.
		resp, body = gwDo(t, nil, http.MethodGet, a.URL+"/accounts", nil)
		gwWantStatus(t, "no token", resp, body, http.StatusUnauthorized)
		wantMD := `resource_metadata="` + a.URL + `/.well-known/oauth-protected-resource"`
		chs := strings.Join(resp.Header.Values("Www-Authenticate"), " | ")
		if !strings.Contains(chs, wantMD) || strings.Contains(chs, "error=") {
			t.Errorf("challenges %q: want %s and no error", chs, wantMD)
		}
	})
	t.Run("admin", func(t *testing.T) {
		resp, body := gwDo(t, nil, http.MethodGet, a.URL+"/readyz", nil)
		gwWantStatus(t, "readyz", resp, body, http.StatusOK)
		resp, body = gwDo(t, nil, http.MethodGet, a.URL+"/metrics", nil)
		gwWantStatus(t, "metrics", resp, body, http.StatusOK)
		for _, want := range []string{
			`bulwark_gateway_requests_total{outcome="proxied",route="accounts"}`,
			`bulwark_gateway_requests_total{outcome="dpop_replay",route="accounts"}`,
			`bulwark_gateway_requests_total{outcome="policy_denied",route="policed"}`,
			`bulwark_gateway_sender_constraint_failures_total{binding="dpop",reason="dpop_replay"}`,
			`bulwark_gateway_authorization_server_requests_total{kind="jwks",outcome="ok"}`,
		} {
			if !strings.Contains(string(body), want) {
				t.Errorf("metrics lack %s", want)
			}
		}
	})
}

// TestGatewayDPoPNonce: with nonces required, the first proof gets
// use_dpop_nonce and a nonce, the retry with it passes (RFC 9449 §9).
func TestGatewayDPoPNonce(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	up := gwUpstream(t)
	gw := gwStart(t, gwListen(t), "http", gwBasicYAML(env, up.URL, gwPolicyFile(t), `  dpop:
    nonce: required
    nonce_secret: a-gateway-nonce-secret-of-32-characters
`), nil)
	at := gwDPoPToken(t, env, "accounts", gw.URL)
	u := gw.URL + "/accounts"
	resp, body := gwDPoP(t, env, http.MethodGet, u, at, nil)
	gwWantStatus(t, "without nonce", resp, body, http.StatusUnauthorized)
	wantChallenge(t, resp, "DPoP", "use_dpop_nonce")
	nonce := resp.Header.Get("Dpop-Nonce")
	if nonce == "" {
		t.Fatal("no DPoP-Nonce")
	}
	p, err := dpop.NewProof(env.DPoPKey(t, testenv.FAPIClient), dpop.ProofParams{Method: http.MethodGet, URL: u, AccessToken: at, Nonce: nonce})
	if err != nil {
		t.Fatal(err)
	}
	resp, body = gwDo(t, nil, http.MethodGet, u, http.Header{"Authorization": {"DPoP " + at}, "Dpop": {p}})
	gwWantStatus(t, "with nonce", resp, body, http.StatusOK)
	if resp.Header.Get("Dpop-Nonce") == "" {
		t.Error("success carries no fresh DPoP-Nonce")
	}
}

// gwPEMKey writes client's private_key_jwt key as a PKCS #8 PEM file.
func gwPEMKey(t *testing.T, k *jose.PrivateKey) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k.Signer())
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "gateway-key.pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestGatewayIntrospectionRevocation: a token revoked at the
// authorization server stops working at the gateway within
// introspection.cache_ttl.
func TestGatewayIntrospectionRevocation(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	up := gwUpstream(t)
	const ttl = time.Second
	gw := gwStart(t, gwListen(t), "http", gwBasicYAML(env, up.URL, gwPolicyFile(t), fmt.Sprintf(`  introspection:
    client_id: %s
    private_key_file: %s
    key_id: %s
    cache_ttl: %s
  audiences: ["{{base}}", %s]
`, testenv.ResourceClient, gwPEMKey(t, env.Keys[testenv.ResourceClient]), env.Keys[testenv.ResourceClient].KeyID(), ttl, testenv.ResourceClient)), nil)
	// The authorization server answers the gateway's introspection only
	// for tokens whose audience names it.
	at := gwDPoPToken(t, env, "accounts", testenv.ResourceClient)
	resp, body := gwDPoP(t, env, http.MethodGet, gw.URL+"/accounts", at, nil)
	gwWantStatus(t, "before revocation", resp, body, http.StatusOK)

	form := env.AssertionForm(t, testenv.FAPIClient)
	form.Set("token", at)
	if r := env.PostForm(t, nil, "/revoke", form, nil, nil); r.StatusCode != http.StatusOK {
		t.Fatalf("revoke: %d", r.StatusCode)
	}
	revoked := time.Now()
	time.Sleep(ttl + 100*time.Millisecond)
	resp, body = gwDPoP(t, env, http.MethodGet, gw.URL+"/accounts", at, nil)
	gwWantStatus(t, fmt.Sprintf("%v after revocation", time.Since(revoked).Round(time.Millisecond)), resp, body, http.StatusUnauthorized)

	resp, body = gwDo(t, nil, http.MethodGet, gw.URL+"/metrics", nil)
	if !strings.Contains(string(body), `bulwark_gateway_authorization_server_requests_total{kind="introspection",outcome="ok"}`) {
		t.Errorf("no introspection calls counted:\n%s", body)
	}
}

// TestGatewayMTLS: certificate-bound tokens over a TLS gateway listener
// that requests client certificates, and certificates forwarded by a
// TLS-terminating proxy, believed only from a trusted address.
func TestGatewayMTLS(t *testing.T) {
	env := testenv.Start(t, testenv.Options{TLS: true})
	up := gwUpstream(t)
	dir := t.TempDir()
	caFile, certFile, keyFile := filepath.Join(dir, "ca.pem"), filepath.Join(dir, "gw.crt"), filepath.Join(dir, "gw.key")
	leaf := env.CA.Issue(testca.Options{Server: true, IPs: []net.IP{net.IPv4(127, 0, 0, 1)}})
	for f, b := range map[string][]byte{caFile: env.CA.PEM(), certFile: leaf.CertPEM(), keyFile: leaf.KeyPEM()} {
		if err := os.WriteFile(f, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	yaml := func(extra string) string {
		return fmt.Sprintf(`
gateway:
  base_url: "{{base}}"
  issuer: %s
  issuer_ca_file: %s
%s  routes:
    - {name: accounts, path_prefix: /accounts, upstream: "%s", scopes: [accounts]}
`, env.URL, caFile, extra, up.URL)
	}
	tlsGW := gwStart(t, gwListen(t), "https", yaml(fmt.Sprintf("  tls: {cert_file: %s, key_file: %s}\n", certFile, keyFile)), nil)
	cert := env.ClientCerts[testenv.MTLSClient]
	withCert, noCert := env.Client(cert), env.Client(nil)
	other := env.Client(env.CA.Issue(testca.Options{DNS: []string{"other.example"}}))

	// A certificate-bound token (RFC 8705 §3) via tls_client_auth.
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {testenv.MTLSClient}, "scope": {"accounts"}, "resource": {tlsGW.URL}}
	var tb tokenBody
	if resp := env.PostForm(t, withCert, "/token", form, nil, &tb); resp.StatusCode != http.StatusOK || tb.TokenType != "Bearer" {
		t.Fatalf("mTLS token: %d %+v", resp.StatusCode, tb)
	}
	bearer := http.Header{"Authorization": {"Bearer " + tb.AccessToken}}

	resp, body := gwDo(t, withCert, http.MethodGet, tlsGW.URL+"/accounts", bearer)
	gwWantStatus(t, "right certificate", resp, body, http.StatusOK)
	e := gwEchoOf(t, body)
	if got := e.Header.Get("X-Bulwark-X5t"); got != mtls.Thumbprint(cert.Cert) {
		t.Errorf("X-Bulwark-X5t = %q", got)
	}
	if e.Header.Get("X-Forwarded-Proto") != "https" {
		t.Errorf("X-Forwarded-Proto = %q", e.Header.Get("X-Forwarded-Proto"))
	}
	resp, body = gwDo(t, noCert, http.MethodGet, tlsGW.URL+"/accounts", bearer)
	gwWantStatus(t, "no certificate", resp, body, http.StatusUnauthorized)
	wantChallenge(t, resp, "Bearer", "invalid_token")
	resp, body = gwDo(t, other, http.MethodGet, tlsGW.URL+"/accounts", bearer)
	gwWantStatus(t, "other certificate", resp, body, http.StatusUnauthorized)

	// Behind a TLS-terminating proxy: the header counts only from the
	// configured proxy address.
	forwarded := http.Header{"Authorization": {"Bearer " + tb.AccessToken}, "X-Client-Cert": {url.PathEscape(string(cert.CertPEM()))}}
	untrusted := gwStart(t, gwListen(t), "http", yaml("  mtls: {proxy_header: X-Client-Cert, trusted_proxies: [192.0.2.1]}\n"), nil)
	resp, body = gwDo(t, nil, http.MethodGet, untrusted.URL+"/accounts", forwarded)
	gwWantStatus(t, "forged header from an untrusted address", resp, body, http.StatusUnauthorized)
	trusted := gwStart(t, gwListen(t), "http", yaml("  mtls: {proxy_header: X-Client-Cert, trusted_proxies: [127.0.0.1]}\n"), nil)
	form.Set("resource", trusted.URL)
	tb = tokenBody{}
	env.PostForm(t, withCert, "/token", form, nil, &tb)
	forwarded.Set("Authorization", "Bearer "+tb.AccessToken)
	resp, body = gwDo(t, nil, http.MethodGet, trusted.URL+"/accounts", forwarded)
	gwWantStatus(t, "header from the trusted proxy", resp, body, http.StatusOK)
	if resp.StatusCode == http.StatusOK {
		if v := gwEchoOf(t, body).Header.Values("X-Client-Cert"); v != nil {
			t.Errorf("upstream saw the certificate header: %q", v)
		}
	}
	// A DPoP-only gateway refuses certificate-bound tokens.
	dpopOnly := gwStart(t, gwListen(t), "https", yaml(fmt.Sprintf("  sender_constraint: dpop\n  tls: {cert_file: %s, key_file: %s}\n", certFile, keyFile)), nil)
	resp, body = gwDo(t, withCert, http.MethodGet, dpopOnly.URL+"/accounts", bearer)
	gwWantStatus(t, "sender_constraint dpop", resp, body, http.StatusUnauthorized)
}

// TestGatewayUpstreamFailure: an unreachable upstream is 502, a slow one
// 504 after the route's timeout.
func TestGatewayUpstreamFailure(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	dead := gwListen(t)
	deadURL := "http://" + dead.Addr().String()
	dead.Close()
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-time.After(5 * time.Second):
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(slow.Close)
	gw := gwStart(t, gwListen(t), "http", fmt.Sprintf(`
gateway:
  base_url: "{{base}}"
  issuer: %s
  routes:
    - {path_prefix: /dead, upstream: "%s", scopes: [accounts]}
    - {path_prefix: /slow, upstream: "%s", scopes: [accounts], timeout: 300ms}
`, env.URL, deadURL, slow.URL), nil)
	at := gwDPoPToken(t, env, "accounts", gw.URL)
	resp, body := gwDPoP(t, env, http.MethodGet, gw.URL+"/dead", at, nil)
	gwWantStatus(t, "dead upstream", resp, body, http.StatusBadGateway)
	start := time.Now()
	resp, body = gwDPoP(t, env, http.MethodGet, gw.URL+"/slow", at, nil)
	gwWantStatus(t, "slow upstream", resp, body, http.StatusGatewayTimeout)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("timeout took %v", d)
	}
}

// TestGatewayReplayAcrossNodesRedis runs two gateway nodes, each with its
// own Redis connection under one prefix (replay_store: storage with
// cache.driver: redis): a proof used at one node is refused at the other.
func TestGatewayReplayAcrossNodesRedis(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	up := gwUpstream(t)
	prefix := services.RedisPrefix(t)
	node := func() *store.Store {
		rc, err := redis.Open(context.Background(), services.RedisURL, redis.Options{Prefix: prefix})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { rc.Close() })
		return rc.Store()
	}
	lnA, lnB := gwListen(t), gwListen(t)
	yaml := gwBasicYAML(env, up.URL, gwPolicyFile(t), "")
	a := gwStart(t, lnA, "http", yaml, node())
	gwStartAt(t, lnB, a.URL, yaml, node())
	at := gwDPoPToken(t, env, "accounts", a.URL)

	u := a.URL + "/accounts/7"
	h := http.Header{"Authorization": {"DPoP " + at}, "Dpop": {gwProof(t, env, http.MethodGet, u, at)}}
	resp, body := gwDo(t, nil, http.MethodGet, u, h)
	gwWantStatus(t, "node a", resp, body, http.StatusOK)
	resp, body = gwDo(t, nil, http.MethodGet, "http://"+lnB.Addr().String()+"/accounts/7", h)
	gwWantStatus(t, "replay at node b through Redis", resp, body, http.StatusUnauthorized)
	wantChallenge(t, resp, "DPoP", "invalid_dpop_proof")
}
