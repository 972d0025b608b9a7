package e2e_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkauth/bulwark/internal/authserver"
	"github.com/bulwarkauth/bulwark/internal/testenv"
)

// rawKey is a DPoP key the test controls completely, so it can build
// proofs no library would: wrong typ, private jwk, alg none, HMAC.
type rawKey struct {
	priv *ecdsa.PrivateKey
}

func newRawKey(t *testing.T) *rawKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &rawKey{k}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// jwk is the public JWK, or the private one with d when private is set.
func (k *rawKey) jwk(private bool) map[string]any {
	p, _ := k.priv.PublicKey.Bytes()
	m := map[string]any{"kty": "EC", "crv": "P-256", "x": b64(p[1:33]), "y": b64(p[33:])}
	if private {
		d, _ := k.priv.Bytes()
		m["d"] = b64(d)
	}
	return m
}

// jkt is the RFC 7638 thumbprint: SHA-256 of the required members in
// lexicographic order.
func (k *rawKey) jkt() string {
	j := k.jwk(false)
	canon := `{"crv":"P-256","kty":"EC","x":"` + j["x"].(string) + `","y":"` + j["y"].(string) + `"}`
	sum := sha256.Sum256([]byte(canon))
	return b64(sum[:])
}

// proofSpec describes one proof; build signs it as ES256 unless sig says
// otherwise.
type proofSpec struct {
	header map[string]any
	claims map[string]any
	// sig: "" ES256, "none" empty signature, "hs256" HMAC keyed with the
	// public x coordinate, "corrupt" a valid ES256 signature with a bit
	// flipped.
	sig string
}

func (k *rawKey) spec(method, u, accessToken string) *proofSpec {
	c := map[string]any{"jti": testenv.RandomString(16), "htm": method, "htu": u, "iat": time.Now().Unix()}
	if accessToken != "" {
		sum := sha256.Sum256([]byte(accessToken))
		c["ath"] = b64(sum[:])
	}
	return &proofSpec{header: map[string]any{"typ": "dpop+jwt", "alg": "ES256", "jwk": k.jwk(false)}, claims: c}
}

func (k *rawKey) build(t *testing.T, s *proofSpec) string {
	t.Helper()
	h, _ := json.Marshal(s.header)
	c, _ := json.Marshal(s.claims)
	input := b64(h) + "." + b64(c)
	switch s.sig {
	case "none":
		return input + "."
	case "hs256":
		m := hmac.New(sha256.New, []byte(k.jwk(false)["x"].(string)))
		m.Write([]byte(input))
		return input + "." + b64(m.Sum(nil))
	}
	digest := sha256.Sum256([]byte(input))
	r, ss, err := ecdsa.Sign(rand.Reader, k.priv, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	ss.FillBytes(sig[32:])
	if s.sig == "corrupt" {
		sig[10] ^= 0x01
	}
	return input + "." + b64(sig)
}

func (k *rawKey) proof(t *testing.T, method, u, accessToken string) string {
	return k.build(t, k.spec(method, u, accessToken))
}

// proofCase is one §4.3 check: mutate turns a valid proof spec into one
// that breaks exactly that check (or, for ok cases, one that must still
// pass).
type proofCase struct {
	name    string
	mutate  func(s *proofSpec)
	headers func(valid, second string) []string
	ok      bool
}

func proofCases() []proofCase {
	del := func(where string, name string) func(s *proofSpec) {
		return func(s *proofSpec) {
			if where == "header" {
				delete(s.header, name)
			} else {
				delete(s.claims, name)
			}
		}
	}
	set := func(name string, v any) func(s *proofSpec) {
		return func(s *proofSpec) { s.claims[name] = v }
	}
	return []proofCase{
		{name: "ok/valid", mutate: func(*proofSpec) {}, ok: true},
		{name: "ok/htu_with_query_and_fragment", mutate: func(s *proofSpec) { s.claims["htu"] = s.claims["htu"].(string) + "?a=b#f" }, ok: true},
		{name: "ok/htu_upper_case_scheme_and_host", mutate: func(s *proofSpec) {
			s.claims["htu"] = strings.Replace(s.claims["htu"].(string), "http://localhost", "HTTP://LOCALHOST", 1)
		}, ok: true},
		{name: "ok/extra_header_and_claims", mutate: func(s *proofSpec) {
			s.header["x-extra"] = "1"
			s.claims["nbf"] = time.Now().Unix()
			s.claims["exp"] = time.Now().Add(5 * time.Minute).Unix()
			s.claims["x-extra"] = true
		}, ok: true},
		{name: "ok/iat_9s_in_future", mutate: set("iat", time.Now().Add(9*time.Second).Unix()), ok: true},
		{name: "fail/two_headers", headers: func(v, second string) []string { return []string{v, second} }},
		{name: "fail/comma_joined", headers: func(v, second string) []string { return []string{v + "," + second} }},
		{name: "fail/not_a_jwt", headers: func(string, string) []string { return []string{"not.a.jwt"} }},
		{name: "fail/missing_typ", mutate: del("header", "typ")},
		{name: "fail/typ_jwt", mutate: func(s *proofSpec) { s.header["typ"] = "JWT" }},
		{name: "fail/missing_alg", mutate: del("header", "alg")},
		{name: "fail/alg_none", mutate: func(s *proofSpec) { s.header["alg"] = "none"; s.sig = "none" }},
		{name: "fail/alg_hs256", mutate: func(s *proofSpec) { s.header["alg"] = "HS256"; s.sig = "hs256" }},
		{name: "fail/alg_rs256", mutate: func(s *proofSpec) { s.header["alg"] = "RS256" }},
		{name: "fail/bad_signature", mutate: func(s *proofSpec) { s.sig = "corrupt" }},
		{name: "fail/missing_jwk", mutate: del("header", "jwk")},
		{name: "fail/private_jwk", mutate: func(s *proofSpec) {
			j := s.header["jwk"].(map[string]any)
			s.header["jwk"] = map[string]any{"kty": j["kty"], "crv": j["crv"], "x": j["x"], "y": j["y"], "d": "AAAA"}
		}},
		{name: "fail/missing_jti", mutate: del("claims", "jti")},
		{name: "fail/long_jti", mutate: set("jti", strings.Repeat("j", 300))},
		{name: "fail/missing_htm", mutate: del("claims", "htm")},
		{name: "fail/wrong_htm", mutate: set("htm", "PUT")},
		{name: "fail/missing_htu", mutate: del("claims", "htu")},
		{name: "fail/htu_other_path", mutate: func(s *proofSpec) { s.claims["htu"] = s.claims["htu"].(string) + "x" }},
		{name: "fail/htu_other_host", mutate: func(s *proofSpec) {
			s.claims["htu"] = strings.Replace(s.claims["htu"].(string), "localhost", "evil.example", 1)
		}},
		{name: "fail/missing_iat", mutate: del("claims", "iat")},
		{name: "fail/iat_1h_future", mutate: set("iat", time.Now().Add(time.Hour).Unix())},
		{name: "fail/iat_30s_future", mutate: set("iat", time.Now().Add(30*time.Second).Unix())},
		{name: "fail/iat_1h_past", mutate: set("iat", time.Now().Add(-time.Hour).Unix())},
		{name: "fail/iat_string", mutate: set("iat", "now")},
	}
}

// dpopEnv starts a server whose issuer uses the host name localhost, so
// the upper-case host case has letters to change.
func dpopEnv(t *testing.T) *testenv.Env {
	t.Helper()
	var issuer string
	env := testenv.Start(t, testenv.Options{Config: func(c *authserver.Config) {
		c.Issuer = strings.Replace(c.Issuer, "127.0.0.1", "localhost", 1)
		issuer = c.Issuer
	}})
	env.URL = issuer
	return env
}

// pushWithProof pushes a FAPIClient request with a DPoP header value set.
func pushWithProof(t *testing.T, env *testenv.Env, client string, headers []string, mutate func(url.Values)) (*flow, *http.Response) {
	t.Helper()
	f := &flow{State: testenv.RandomString(12), Nonce: testenv.RandomString(12)}
	f.Verifier, f.Challenge = testenv.PKCE()
	form := env.AssertionForm(t, client)
	for k, v := range map[string]string{
		"response_type": "code", "redirect_uri": testenv.RedirectURI, "scope": "openid profile email",
		"state": f.State, "nonce": f.Nonce, "code_challenge": f.Challenge, "code_challenge_method": "S256",
	} {
		form.Set(k, v)
	}
	if mutate != nil {
		mutate(form)
	}
	var body map[string]any
	var h http.Header
	if headers != nil {
		h = http.Header{"Dpop": headers}
	}
	resp := env.PostForm(t, nil, "/par", form, h, &body)
	if ru, ok := body["request_uri"].(string); ok {
		f.RequestURI = ru
	}
	return f, resp
}

// tokenWithProof redeems code (or, with code empty, asks for client
// credentials) as client with the given DPoP header values.
func tokenWithProof(t *testing.T, env *testenv.Env, client string, form url.Values, headers []string) (*http.Response, tokenBody) {
	t.Helper()
	auth := env.AssertionForm(t, client)
	for k, v := range auth {
		form[k] = v
	}
	var h http.Header
	if headers != nil {
		h = http.Header{"Dpop": headers}
	}
	var tb tokenBody
	resp := env.PostForm(t, nil, "/token", form, h, &tb)
	return resp, tb
}

func userinfoWith(t *testing.T, env *testenv.Env, scheme, tok string, proofs []string) *http.Response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, env.URL+"/userinfo", nil)
	if tok != "" {
		req.Header.Set("Authorization", scheme+" "+tok)
	}
	if proofs != nil {
		req.Header["Dpop"] = proofs
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	resp.Body = io.NopCloser(strings.NewReader(string(b)))
	return resp
}

// wantChallenge checks a 401 with a DPoP challenge naming code.
func wantChallenge(t *testing.T, resp *http.Response, scheme, code string) {
	t.Helper()
	wa := resp.Header.Get("WWW-Authenticate")
	if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(wa, scheme+" ") || !strings.Contains(wa, `error="`+code+`"`) {
		b, _ := io.ReadAll(resp.Body)
		t.Errorf("got %d WWW-Authenticate %q (body %s), want 401 %s error=%q", resp.StatusCode, wa, b, scheme, code)
	}
	if scheme == "DPoP" && !strings.Contains(wa, `algs="PS256 ES256 EdDSA"`) {
		t.Errorf("DPoP challenge %q lacks algs (RFC 9449 §7.1)", wa)
	}
}

// TestDPoPProofChecks runs every RFC 9449 §4.3 check at each of the three
// places Bulwark receives proofs: PAR, the token endpoint and userinfo.
func TestDPoPProofChecks(t *testing.T) {
	env := dpopEnv(t)
	key := newRawKey(t)
	cases := proofCases()

	t.Run("par", func(t *testing.T) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				_, resp := pushWithProof(t, env, testenv.FAPIClient, caseHeaders(t, key, tc, http.MethodPost, env.URL+"/par", ""), nil)
				checkCase(t, tc, resp, http.StatusCreated)
			})
		}
	})
	t.Run("token", func(t *testing.T) {
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				resp, tb := tokenWithProof(t, env, testenv.FAPIClient, url.Values{"grant_type": {"client_credentials"}},
					caseHeaders(t, key, tc, http.MethodPost, env.URL+"/token", ""))
				checkCase(t, tc, resp, http.StatusOK)
				if tc.ok && (tb.TokenType != "DPoP" || testenv.Claims(t, tb.AccessToken)["cnf"].(map[string]any)["jkt"] != key.jkt()) {
					t.Errorf("token not bound to the proof key: %+v", tb)
				}
			})
		}
	})
	t.Run("userinfo", func(t *testing.T) {
		at := dpopCodeFlow(t, env, key)
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				resp := userinfoWith(t, env, "DPoP", at, caseHeaders(t, key, tc, http.MethodGet, env.URL+"/userinfo", at))
				if tc.ok {
					if resp.StatusCode != http.StatusOK {
						b, _ := io.ReadAll(resp.Body)
						t.Errorf("status %d, want 200: %s", resp.StatusCode, b)
					}
					return
				}
				wantChallenge(t, resp, "DPoP", "invalid_dpop_proof")
			})
		}
		// Checks only a resource makes (RFC 9449 §4.3 item 12, §7).
		other := newRawKey(t)
		rs := []struct {
			name   string
			scheme string
			proofs []string
			status int
			want   string
		}{
			{"fail/missing_ath", "DPoP", []string{key.proof(t, http.MethodGet, env.URL+"/userinfo", "")}, 401, "invalid_dpop_proof"},
			{"fail/wrong_ath", "DPoP", []string{key.proof(t, http.MethodGet, env.URL+"/userinfo", "another-token")}, 401, "invalid_dpop_proof"},
			{"fail/other_key", "DPoP", []string{other.proof(t, http.MethodGet, env.URL+"/userinfo", at)}, 401, "invalid_dpop_proof"},
			{"fail/no_proof", "DPoP", nil, 401, "invalid_dpop_proof"},
			{"fail/bearer_downgrade", "Bearer", nil, 401, "invalid_token"},
			{"fail/bearer_downgrade_with_proof", "Bearer", []string{key.proof(t, http.MethodGet, env.URL+"/userinfo", at)}, 401, "invalid_token"},
			{"ok/lower_case_scheme", "dpop", []string{key.proof(t, http.MethodGet, env.URL+"/userinfo", at)}, 200, ""},
		}
		for _, tc := range rs {
			t.Run(tc.name, func(t *testing.T) {
				resp := userinfoWith(t, env, tc.scheme, at, tc.proofs)
				if tc.status == 200 {
					if resp.StatusCode != 200 {
						t.Errorf("status %d", resp.StatusCode)
					}
					return
				}
				// A DPoP-bound token presented as Bearer is refused with a
				// DPoP challenge (RFC 9449 §7.2).
				wantChallenge(t, resp, "DPoP", tc.want)
			})
		}
		t.Run("fail/no_credentials", func(t *testing.T) {
			resp := userinfoWith(t, env, "", "", nil)
			wa := resp.Header.Get("WWW-Authenticate")
			if resp.StatusCode != 401 || strings.Contains(wa, "error=") || !strings.Contains(wa, "DPoP") || !strings.Contains(wa, "Bearer") {
				t.Errorf("no credentials: %d %q; want 401 with Bearer and DPoP challenges and no error (RFC 6750 §3.1)", resp.StatusCode, wa)
			}
		})
		t.Run("fail/two_authorization_headers", func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, env.URL+"/userinfo", nil)
			req.Header["Authorization"] = []string{"DPoP " + at, "Bearer " + at}
			req.Header.Set("DPoP", key.proof(t, http.MethodGet, env.URL+"/userinfo", at))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			wantError(t, resp, http.StatusBadRequest, "invalid_request")
		})
	})
}

// caseHeaders builds the DPoP header values for one case.
func caseHeaders(t *testing.T, key *rawKey, tc proofCase, method, u, at string) []string {
	t.Helper()
	if tc.headers != nil {
		return tc.headers(key.proof(t, method, u, at), key.proof(t, method, u, at))
	}
	s := key.spec(method, u, at)
	tc.mutate(s)
	return []string{key.build(t, s)}
}

func checkCase(t *testing.T, tc proofCase, resp *http.Response, okStatus int) {
	t.Helper()
	if tc.ok {
		if resp.StatusCode != okStatus {
			b, _ := io.ReadAll(resp.Body)
			t.Errorf("status %d, want %d: %s", resp.StatusCode, okStatus, b)
		}
		return
	}
	wantError(t, resp, http.StatusBadRequest, "invalid_dpop_proof")
}

// dpopCodeFlow runs the code flow for FAPIClient bound to key and returns
// the DPoP-bound access token.
func dpopCodeFlow(t *testing.T, env *testenv.Env, key *rawKey) string {
	t.Helper()
	f, resp := pushWithProof(t, env, testenv.FAPIClient, []string{key.proof(t, http.MethodPost, env.URL+"/par", "")}, nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PAR: %d", resp.StatusCode)
	}
	code := authorize(t, env, testenv.FAPIClient, f).Get("code")
	r, tb := tokenWithProof(t, env, testenv.FAPIClient, url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {f.Verifier}, "redirect_uri": {testenv.RedirectURI},
	}, []string{key.proof(t, http.MethodPost, env.URL+"/token", "")})
	if r.StatusCode != http.StatusOK || tb.TokenType != "DPoP" {
		t.Fatalf("token: %d %+v", r.StatusCode, tb)
	}
	return tb.AccessToken
}

// TestDPoPReplay: a proof is single-use at every endpoint (RFC 9449 §11.1).
func TestDPoPReplay(t *testing.T) {
	env := dpopEnv(t)
	key := newRawKey(t)
	p := key.proof(t, http.MethodPost, env.URL+"/token", "")
	cc := url.Values{"grant_type": {"client_credentials"}}
	if r, _ := tokenWithProof(t, env, testenv.FAPIClient, cc, []string{p}); r.StatusCode != http.StatusOK {
		t.Fatalf("first use: %d", r.StatusCode)
	}
	r, _ := tokenWithProof(t, env, testenv.FAPIClient, url.Values{"grant_type": {"client_credentials"}}, []string{p})
	wantError(t, r, http.StatusBadRequest, "invalid_dpop_proof")

	pp := key.proof(t, http.MethodPost, env.URL+"/par", "")
	if _, r := pushWithProof(t, env, testenv.FAPIClient, []string{pp}, nil); r.StatusCode != http.StatusCreated {
		t.Fatalf("first PAR: %d", r.StatusCode)
	}
	_, r = pushWithProof(t, env, testenv.FAPIClient, []string{pp}, nil)
	wantError(t, r, http.StatusBadRequest, "invalid_dpop_proof")

	at := dpopCodeFlow(t, env, key)
	up := key.proof(t, http.MethodGet, env.URL+"/userinfo", at)
	if r := userinfoWith(t, env, "DPoP", at, []string{up}); r.StatusCode != http.StatusOK {
		t.Fatalf("first userinfo: %d", r.StatusCode)
	}
	wantChallenge(t, userinfoWith(t, env, "DPoP", at, []string{up}), "DPoP", "invalid_dpop_proof")
}

// TestDPoPNonce: the nonce dance of RFC 9449 §8 for a client whose
// proofs must carry a server nonce, at the token endpoint, PAR and
// userinfo.
func TestDPoPNonce(t *testing.T) {
	env := dpopEnv(t)
	key := newRawKey(t)
	client := testenv.NonceClient
	withNonce := func(method, u, at, nonce string) string {
		s := key.spec(method, u, at)
		if nonce != "" {
			s.claims["nonce"] = nonce
		}
		return key.build(t, s)
	}
	cc := func() url.Values { return url.Values{"grant_type": {"client_credentials"}} }

	r, _ := tokenWithProof(t, env, client, cc(), []string{withNonce(http.MethodPost, env.URL+"/token", "", "")})
	wantError(t, r, http.StatusBadRequest, "use_dpop_nonce")
	nonce := r.Header.Get("DPoP-Nonce")
	if nonce == "" || len(r.Header.Values("DPoP-Nonce")) != 1 {
		t.Fatalf("use_dpop_nonce without exactly one DPoP-Nonce header: %v", r.Header.Values("DPoP-Nonce"))
	}
	r, _ = tokenWithProof(t, env, client, cc(), []string{withNonce(http.MethodPost, env.URL+"/token", "", "not-the-nonce")})
	wantError(t, r, http.StatusBadRequest, "use_dpop_nonce")
	if r.Header.Get("DPoP-Nonce") == "" {
		t.Error("a wrong nonce got no fresh DPoP-Nonce")
	}
	r, tb := tokenWithProof(t, env, client, cc(), []string{withNonce(http.MethodPost, env.URL+"/token", "", nonce)})
	if r.StatusCode != http.StatusOK || tb.TokenType != "DPoP" {
		t.Fatalf("with nonce: %d %+v", r.StatusCode, tb)
	}
	if r.Header.Get("DPoP-Nonce") == "" || !strings.Contains(r.Header.Get("Cache-Control"), "no-store") {
		t.Errorf("success response: DPoP-Nonce %q, Cache-Control %q (RFC 9449 §8.2)", r.Header.Get("DPoP-Nonce"), r.Header.Get("Cache-Control"))
	}

	// PAR demands the nonce too; the one from the token endpoint works.
	_, r = pushWithProof(t, env, client, []string{withNonce(http.MethodPost, env.URL+"/par", "", "")}, nil)
	wantError(t, r, http.StatusBadRequest, "use_dpop_nonce")
	f, r := pushWithProof(t, env, client, []string{withNonce(http.MethodPost, env.URL+"/par", "", nonce)}, nil)
	if r.StatusCode != http.StatusCreated {
		t.Fatalf("PAR with nonce: %d", r.StatusCode)
	}
	code := authorize(t, env, client, f).Get("code")
	r, tb = tokenWithProof(t, env, client, url.Values{
		"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {f.Verifier}, "redirect_uri": {testenv.RedirectURI},
	}, []string{withNonce(http.MethodPost, env.URL+"/token", "", nonce)})
	if r.StatusCode != http.StatusOK {
		t.Fatalf("code with nonce: %d %+v", r.StatusCode, tb)
	}
	// Userinfo: a 401 challenge with use_dpop_nonce, then success.
	resp := userinfoWith(t, env, "DPoP", tb.AccessToken, []string{withNonce(http.MethodGet, env.URL+"/userinfo", tb.AccessToken, "")})
	wantChallenge(t, resp, "DPoP", "use_dpop_nonce")
	if resp.Header.Get("DPoP-Nonce") == "" {
		t.Error("userinfo use_dpop_nonce without DPoP-Nonce")
	}
	resp = userinfoWith(t, env, "DPoP", tb.AccessToken, []string{withNonce(http.MethodGet, env.URL+"/userinfo", tb.AccessToken, resp.Header.Get("DPoP-Nonce"))})
	if resp.StatusCode != http.StatusOK {
		t.Errorf("userinfo with nonce: %d", resp.StatusCode)
	}
}

// TestDPoPCodeBinding: dpop_jkt and the PAR proof bind the code to a key
// (RFC 9449 §10), and every mismatch is refused.
func TestDPoPCodeBinding(t *testing.T) {
	env := dpopEnv(t)
	x, y := newRawKey(t), newRawKey(t)
	redeemWith := func(f *flow, key *rawKey) *http.Response {
		code := authorize(t, env, testenv.FAPIClient, f).Get("code")
		form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {f.Verifier}, "redirect_uri": {testenv.RedirectURI}}
		var proofs []string
		if key != nil {
			proofs = []string{key.proof(t, http.MethodPost, env.URL+"/token", "")}
		}
		r, _ := tokenWithProof(t, env, testenv.FAPIClient, form, proofs)
		return r
	}
	jkt := func(k *rawKey) func(url.Values) { return func(v url.Values) { v.Set("dpop_jkt", k.jkt()) } }

	t.Run("fail/par_header_and_dpop_jkt_differ", func(t *testing.T) {
		_, r := pushWithProof(t, env, testenv.FAPIClient, []string{x.proof(t, http.MethodPost, env.URL+"/par", "")}, jkt(y))
		wantError(t, r, http.StatusBadRequest, "invalid_dpop_proof")
	})
	t.Run("fail/dpop_jkt_then_other_key", func(t *testing.T) {
		f, r := pushWithProof(t, env, testenv.FAPIClient, nil, jkt(x))
		if r.StatusCode != http.StatusCreated {
			t.Fatalf("PAR: %d", r.StatusCode)
		}
		wantError(t, redeemWith(f, y), http.StatusBadRequest, "invalid_dpop_proof")
	})
	t.Run("fail/par_proof_then_other_key", func(t *testing.T) {
		f, _ := pushWithProof(t, env, testenv.FAPIClient, []string{x.proof(t, http.MethodPost, env.URL+"/par", "")}, nil)
		wantError(t, redeemWith(f, y), http.StatusBadRequest, "invalid_dpop_proof")
	})
	t.Run("fail/bound_code_without_proof", func(t *testing.T) {
		f, _ := pushWithProof(t, env, testenv.FAPIClient, nil, jkt(x))
		// fapi2 never issues Bearer; the binding check is not reached.
		wantError(t, redeemWith(f, nil), http.StatusBadRequest, "invalid_request", "invalid_dpop_proof")
	})
	t.Run("fail/par_proof_for_token_endpoint", func(t *testing.T) {
		_, r := pushWithProof(t, env, testenv.FAPIClient, []string{x.proof(t, http.MethodPost, env.URL+"/token", "")}, nil)
		wantError(t, r, http.StatusBadRequest, "invalid_dpop_proof")
	})
	t.Run("ok/dpop_jkt_only", func(t *testing.T) {
		f, _ := pushWithProof(t, env, testenv.FAPIClient, nil, jkt(x))
		if r := redeemWith(f, x); r.StatusCode != http.StatusOK {
			t.Errorf("status %d", r.StatusCode)
		}
	})
	t.Run("ok/par_proof_and_matching_dpop_jkt", func(t *testing.T) {
		f, r := pushWithProof(t, env, testenv.FAPIClient, []string{x.proof(t, http.MethodPost, env.URL+"/par", "")}, jkt(x))
		if r.StatusCode != http.StatusCreated {
			t.Fatalf("PAR: %d", r.StatusCode)
		}
		if r := redeemWith(f, x); r.StatusCode != http.StatusOK {
			t.Errorf("status %d", r.StatusCode)
		}
	})
}

// TestDPoPRefresh: a confidential client's refresh token follows client
// authentication, so a new key yields a token bound to it; a public
// client's refresh token is bound to its key (RFC 9449 §5).
func TestDPoPRefresh(t *testing.T) {
	env := dpopEnv(t)
	x, y := newRawKey(t), newRawKey(t)

	t.Run("confidential/new_key", func(t *testing.T) {
		f, _ := pushWithProof(t, env, testenv.FAPIClient, []string{x.proof(t, http.MethodPost, env.URL+"/par", "")}, nil)
		code := authorize(t, env, testenv.FAPIClient, f).Get("code")
		_, tb := tokenWithProof(t, env, testenv.FAPIClient, url.Values{
			"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {f.Verifier}, "redirect_uri": {testenv.RedirectURI},
		}, []string{x.proof(t, http.MethodPost, env.URL+"/token", "")})
		r, rb := tokenWithProof(t, env, testenv.FAPIClient, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tb.RefreshToken}},
			[]string{y.proof(t, http.MethodPost, env.URL+"/token", "")})
		if r.StatusCode != http.StatusOK || testenv.Claims(t, rb.AccessToken)["cnf"].(map[string]any)["jkt"] != y.jkt() {
			t.Fatalf("refresh with a new key: %d %+v", r.StatusCode, rb)
		}
		// Without any proof a fapi2 client gets no token at all.
		r, _ = tokenWithProof(t, env, testenv.FAPIClient, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tb.RefreshToken}}, nil)
		wantError(t, r, http.StatusBadRequest, "invalid_request")
	})

	t.Run("public/bound_to_key", func(t *testing.T) {
		f := &flow{State: "s", Nonce: "n"}
		f.Verifier, f.Challenge = testenv.PKCE()
		q := url.Values{"client_id": {testenv.PublicClient}, "response_type": {"code"}, "redirect_uri": {testenv.LoopbackURI},
			"scope": {"openid offline_access"}, "state": {f.State}, "code_challenge": {f.Challenge}, "code_challenge_method": {"S256"},
			"dpop_jkt": {x.jkt()}}
		browser := testenv.NewBrowser()
		page := login(t, env, browser, env.URL+"/authorize?"+q.Encode(), testenv.UserName, testenv.UserPassword)
		cb := callback(t, consent(t, env, browser, page, "approve"))
		token := func(form url.Values, key *rawKey) (*http.Response, tokenBody) {
			form.Set("client_id", testenv.PublicClient)
			var h http.Header
			if key != nil {
				h = http.Header{"Dpop": {key.proof(t, http.MethodPost, env.URL+"/token", "")}}
			}
			var tb tokenBody
			return env.PostForm(t, nil, "/token", form, h, &tb), tb
		}
		r, tb := token(url.Values{"grant_type": {"authorization_code"}, "code": {cb.Get("code")}, "code_verifier": {f.Verifier}, "redirect_uri": {testenv.LoopbackURI}}, x)
		if r.StatusCode != http.StatusOK || tb.TokenType != "DPoP" || tb.RefreshToken == "" {
			t.Fatalf("public code exchange: %d %+v", r.StatusCode, tb)
		}
		r, _ = token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tb.RefreshToken}}, y)
		wantError(t, r, http.StatusBadRequest, "invalid_dpop_proof")
		r, _ = token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tb.RefreshToken}}, nil)
		wantError(t, r, http.StatusBadRequest, "invalid_dpop_proof")
		r, rb := token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tb.RefreshToken}}, x)
		if r.StatusCode != http.StatusOK || testenv.Claims(t, rb.AccessToken)["cnf"].(map[string]any)["jkt"] != x.jkt() {
			t.Fatalf("public refresh with its key: %d %+v", r.StatusCode, rb)
		}
		// The rotated successor is still bound to x.
		r, _ = token(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rb.RefreshToken}}, y)
		wantError(t, r, http.StatusBadRequest, "invalid_dpop_proof")
	})
}

// TestDPoPIntrospectionAndDiscovery: cnf.jkt and token_type DPoP in
// introspection; dpop_signing_alg_values_supported in metadata.
func TestDPoPIntrospectionAndDiscovery(t *testing.T) {
	env := dpopEnv(t)
	key := newRawKey(t)
	_, tb := tokenWithProof(t, env, testenv.FAPIClient, url.Values{"grant_type": {"client_credentials"}}, []string{key.proof(t, http.MethodPost, env.URL+"/token", "")})
	got := introspect(t, env, testenv.FAPIClient, tb.AccessToken)
	if got["token_type"] != "DPoP" || got["cnf"].(map[string]any)["jkt"] != key.jkt() {
		t.Errorf("introspection = %v", got)
	}
	resp := get(t, http.DefaultClient, env.URL+"/.well-known/openid-configuration")
	var md map[string]any
	json.NewDecoder(resp.Body).Decode(&md)
	algs, _ := json.Marshal(md["dpop_signing_alg_values_supported"])
	if string(algs) != `["PS256","ES256","EdDSA"]` {
		t.Errorf("dpop_signing_alg_values_supported = %s", algs)
	}
}
