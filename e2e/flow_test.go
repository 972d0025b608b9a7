package e2e_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/bulwarkauth/bulwark/internal/testenv"
)

// TestFAPI2CodeFlow runs PAR → authorize → login → consent → token →
// userinfo → refresh → introspection → revocation for a fapi2 client.
func TestFAPI2CodeFlow(t *testing.T) {
	env := testenv.Start(t, testenv.Options{SQLite: true})
	f, resp, body := push(t, env, testenv.FAPIClient, nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PAR: %d %v", resp.StatusCode, body)
	}
	if exp := body["expires_in"].(float64); exp < 30 || exp >= 600 {
		t.Errorf("PAR expires_in = %v, want 30..599 (FAPI 2.0 SP 5.3.2.2-12)", exp)
	}
	if !strings.HasPrefix(f.RequestURI, "urn:ietf:params:oauth:request_uri:") {
		t.Errorf("request_uri = %q", f.RequestURI)
	}

	// A reload of the authorization URL before login still works
	// (FAPI 2.0 SP 5.3.2.2 Note 3).
	browser := testenv.NewBrowser()
	if r := get(t, browser, authorizeURL(env, testenv.FAPIClient, f.RequestURI)); r.StatusCode != http.StatusOK {
		t.Fatalf("first visit: %d", r.StatusCode)
	}
	page := login(t, env, browser, authorizeURL(env, testenv.FAPIClient, f.RequestURI), testenv.UserName, testenv.UserPassword)
	cb := callback(t, consent(t, env, browser, page, "approve"))
	if cb.Get("iss") != env.URL || cb.Get("state") != f.State || cb.Get("code") == "" {
		t.Fatalf("callback = %v", cb)
	}
	if n := len(cb.Get("code")); n < 43 {
		t.Errorf("code has %d characters, want >= 43 (256 bits)", n)
	}

	resp, tb := redeem(t, env, testenv.FAPIClient, cb.Get("code"), f.Verifier)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("token: %d %+v", resp.StatusCode, tb)
	}
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("token response Cache-Control = %q", resp.Header.Get("Cache-Control"))
	}
	at := testenv.Claims(t, tb.AccessToken)
	if h := header(t, tb.AccessToken); h["typ"] != "at+jwt" || h["kid"] == nil {
		t.Errorf("access token header = %v", h)
	}
	if at["iss"] != env.URL || at["client_id"] != testenv.FAPIClient || at["jti"] == nil || at["sub"] == nil {
		t.Errorf("access token claims = %v", at)
	}
	id := testenv.Claims(t, tb.IDToken)
	if id["nonce"] != f.Nonce || id["aud"] != testenv.FAPIClient || id["iss"] != env.URL || id["sub"] != at["sub"] {
		t.Errorf("id token claims = %v", id)
	}
	if h := header(t, tb.IDToken); h["alg"] != "ES256" {
		t.Errorf("id token alg = %v", h["alg"])
	}

	// The access token is DPoP-bound (FAPI 2.0 SP 5.3.2.1-4).
	if tb.TokenType != "DPoP" {
		t.Errorf("token_type = %q, want DPoP", tb.TokenType)
	}
	if cnf, _ := at["cnf"].(map[string]any); cnf["jkt"] != env.DPoPKey(t, testenv.FAPIClient).Public().Thumbprint() {
		t.Errorf("cnf = %v, want the jkt of the proof key", at["cnf"])
	}

	// Userinfo: the token in the header only, scheme case-insensitive,
	// with a proof of the bound key.
	userinfo := func() *http.Response {
		req, _ := http.NewRequest(http.MethodGet, env.URL+"/userinfo", nil)
		req.Header.Set("Authorization", "dpop "+tb.AccessToken)
		req.Header.Set("DPoP", env.Proof(t, testenv.FAPIClient, http.MethodGet, "/userinfo", tb.AccessToken, ""))
		ui, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return ui
	}
	ui := userinfo()
	uib, _ := io.ReadAll(ui.Body)
	if ui.StatusCode != http.StatusOK || !strings.Contains(string(uib), testenv.UserEmail) {
		t.Errorf("userinfo: %d %s", ui.StatusCode, uib)
	}
	if r := get(t, http.DefaultClient, env.URL+"/userinfo?access_token="+tb.AccessToken); r.StatusCode == http.StatusOK {
		t.Errorf("userinfo accepted a token in the query (FAPI 2.0 SP 5.3.4-2)")
	}

	// fapi2 refresh tokens do not rotate (FAPI 2.0 SP 5.3.2.1-9): two
	// refreshes with the same token both work.
	for i := 0; i < 2; i++ {
		form := env.AssertionForm(t, testenv.FAPIClient)
		form.Set("grant_type", "refresh_token")
		form.Set("refresh_token", tb.RefreshToken)
		var rb tokenBody
		r := env.PostForm(t, nil, "/token", form, env.DPoPHeader(t, testenv.FAPIClient, "/token"), &rb)
		if r.StatusCode != http.StatusOK || rb.AccessToken == "" || rb.TokenType != "DPoP" {
			t.Fatalf("refresh %d: %d %+v", i, r.StatusCode, rb)
		}
		if rb.RefreshToken != "" && rb.RefreshToken != tb.RefreshToken {
			t.Errorf("fapi2 refresh rotated the refresh token")
		}
	}
	// Refresh without client authentication fails.
	r := env.PostForm(t, nil, "/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tb.RefreshToken}, "client_id": {testenv.FAPIClient}}, nil, nil)
	wantError(t, r, http.StatusUnauthorized, "invalid_client")

	if got := introspect(t, env, testenv.FAPIClient, tb.AccessToken); got["active"] != true || got["client_id"] != testenv.FAPIClient {
		t.Errorf("introspection = %v", got)
	}
	// Another client learns nothing about this token.
	if got := introspect(t, env, testenv.FAPIClient2, tb.AccessToken); got["active"] != false || len(got) != 1 {
		t.Errorf("introspection by another client = %v", got)
	}
	if got := introspect(t, env, testenv.FAPIClient, tb.RefreshToken); got["active"] != true {
		t.Errorf("refresh token introspection = %v", got)
	}

	// Revoking the refresh token revokes the grant and its access tokens.
	form := env.AssertionForm(t, testenv.FAPIClient)
	form.Set("token", tb.RefreshToken)
	form.Set("token_type_hint", "refresh_token")
	if r := env.PostForm(t, nil, "/revoke", form, nil, nil); r.StatusCode != http.StatusOK {
		t.Fatalf("revoke: %d", r.StatusCode)
	}
	for _, tok := range []string{tb.AccessToken, tb.RefreshToken} {
		if got := introspect(t, env, testenv.FAPIClient, tok); got["active"] != false {
			t.Errorf("after revocation introspection = %v", got)
		}
	}
	ui = userinfo()
	if ui.StatusCode != http.StatusUnauthorized || !strings.Contains(ui.Header.Get("WWW-Authenticate"), `error="invalid_token"`) {
		t.Errorf("userinfo after revocation: %d %q", ui.StatusCode, ui.Header.Get("WWW-Authenticate"))
	}

	// The request_uri was consumed when the code was issued.
	r = get(t, testenv.NewBrowser(), authorizeURL(env, testenv.FAPIClient, f.RequestURI))
	if r.StatusCode == http.StatusOK || r.StatusCode == http.StatusSeeOther && strings.Contains(r.Header.Get("Location"), "code=") {
		t.Errorf("reused request_uri: %d %q", r.StatusCode, r.Header.Get("Location"))
	}
}

// TestCodeReuseRevokesTokens: RFC 6749 §4.1.2 and FAPI 2.0 SP 5.3.2.2-9.
func TestCodeReuseRevokesTokens(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	f, _, _ := push(t, env, testenv.FAPIClient, nil)
	cb := authorize(t, env, testenv.FAPIClient, f)
	resp, tb := redeem(t, env, testenv.FAPIClient, cb.Get("code"), f.Verifier)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("first redemption: %d", resp.StatusCode)
	}
	resp, _ = redeem(t, env, testenv.FAPIClient, cb.Get("code"), f.Verifier)
	wantError(t, resp, http.StatusBadRequest, "invalid_grant")
	if got := introspect(t, env, testenv.FAPIClient, tb.AccessToken); got["active"] != false {
		t.Errorf("access token from a replayed code still active: %v", got)
	}
	if got := introspect(t, env, testenv.FAPIClient, tb.RefreshToken); got["active"] != false {
		t.Errorf("refresh token from a replayed code still active: %v", got)
	}
}

// TestStandardPublicClient runs a standard-profile public client without
// PAR, with refresh token rotation and reuse detection.
func TestStandardPublicClient(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	verifier, challenge := testenv.PKCE()
	q := url.Values{
		"client_id": {testenv.PublicClient}, "response_type": {"code"}, "redirect_uri": {"http://127.0.0.1:53111/cb"},
		"scope": {"openid offline_access"}, "state": {"s1"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"},
	}
	browser := testenv.NewBrowser()
	page := login(t, env, browser, env.URL+"/authorize?"+q.Encode(), testenv.UserName, testenv.UserPassword)
	cb := callback(t, consent(t, env, browser, page, "approve"))
	form := url.Values{"grant_type": {"authorization_code"}, "client_id": {testenv.PublicClient}, "code": {cb.Get("code")},
		"redirect_uri": {"http://127.0.0.1:53111/cb"}, "code_verifier": {verifier}}
	var tb tokenBody
	if r := env.PostForm(t, nil, "/token", form, nil, &tb); r.StatusCode != http.StatusOK {
		t.Fatalf("token: %d %+v", r.StatusCode, tb)
	}

	// Consent is remembered: a second authorization skips the page.
	q.Set("state", "s2")
	r := get(t, browser, env.URL+"/authorize?"+q.Encode())
	if cb2 := callback(t, r); cb2.Get("code") == "" || cb2.Get("state") != "s2" {
		t.Errorf("remembered consent: %v", cb2)
	}

	refresh := func(rt string) (*http.Response, tokenBody) {
		var out tokenBody
		r := env.PostForm(t, nil, "/token", url.Values{"grant_type": {"refresh_token"}, "client_id": {testenv.PublicClient}, "refresh_token": {rt}}, nil, &out)
		return r, out
	}
	r1, t1 := refresh(tb.RefreshToken)
	if r1.StatusCode != http.StatusOK || t1.RefreshToken == "" || t1.RefreshToken == tb.RefreshToken {
		t.Fatalf("standard refresh must rotate: %d %+v", r1.StatusCode, t1)
	}
	// Within the grace window the old token still works once more.
	if r, _ := refresh(tb.RefreshToken); r.StatusCode != http.StatusOK {
		t.Errorf("retry within grace: %d", r.StatusCode)
	}
}

// TestPasswordGrantRejected: FAPI 2.0 SP 5.3.2.1-2.
func TestPasswordGrantRejected(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	form := env.AssertionForm(t, testenv.FAPIClient)
	form.Set("grant_type", "password")
	form.Set("username", testenv.UserName)
	form.Set("password", testenv.UserPassword)
	wantError(t, env.PostForm(t, nil, "/token", form, nil, nil), http.StatusBadRequest, "unsupported_grant_type")
}

// TestDenyConsent: the user's refusal reaches the client as access_denied
// with iss and state (RFC 9207).
func TestDenyConsent(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	f, _, _ := push(t, env, testenv.FAPIClient, nil)
	browser := testenv.NewBrowser()
	page := login(t, env, browser, authorizeURL(env, testenv.FAPIClient, f.RequestURI), testenv.UserName, testenv.UserPassword)
	cb := callback(t, consent(t, env, browser, page, "deny"))
	if cb.Get("error") != "access_denied" || cb.Get("iss") != env.URL || cb.Get("state") != f.State || cb.Has("code") {
		t.Errorf("deny callback = %v", cb)
	}
}

// TestLongStateAndNonce: FAPI 2.0 SP 5.3.2.2-14 and Note 4: never truncated.
func TestLongStateAndNonce(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	state := strings.Repeat("s", 1500)
	nonce := strings.Repeat("n", 384)
	f, resp, _ := push(t, env, testenv.FAPIClient, func(v url.Values) { v.Set("state", state); v.Set("nonce", nonce) })
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("PAR: %d", resp.StatusCode)
	}
	cb := authorize(t, env, testenv.FAPIClient, f)
	if cb.Get("state") != state {
		t.Errorf("state changed: %d chars back", len(cb.Get("state")))
	}
	_, tb := redeem(t, env, testenv.FAPIClient, cb.Get("code"), f.Verifier)
	if testenv.Claims(t, tb.IDToken)["nonce"] != nonce {
		t.Errorf("nonce changed")
	}
}

// TestLoginFailures covers a wrong password, a missing CSRF token and the
// login rate limit.
func TestLoginFailures(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	f, _, _ := push(t, env, testenv.FAPIClient, nil)
	browser := testenv.NewBrowser()
	u := authorizeURL(env, testenv.FAPIClient, f.RequestURI)
	if r := login(t, env, browser, u, testenv.UserName, "wrong-password"); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong password: %d", r.StatusCode)
	}
	if r := login(t, env, browser, u, "nobody", "whatever"); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("unknown user: %d", r.StatusCode)
	}
	resp := get(t, browser, u)
	_, handle := formFields(t, resp)
	r := env.PostForm(t, browser, "/login", url.Values{"handle": {handle}, "username": {testenv.UserName}, "password": {testenv.UserPassword}}, nil, nil)
	if r.StatusCode != http.StatusForbidden {
		t.Errorf("login without CSRF token: %d", r.StatusCode)
	}
	r = env.PostForm(t, testenv.NewBrowser(), "/login", url.Values{"csrf_token": {"x"}, "handle": {handle}, "username": {testenv.UserName}, "password": {testenv.UserPassword}}, nil, nil)
	if r.StatusCode != http.StatusForbidden {
		t.Errorf("login with forged CSRF token: %d", r.StatusCode)
	}
	var last int
	for i := 0; i < 25; i++ {
		last = login(t, env, browser, u, testenv.UserName, "wrong-password").StatusCode
	}
	if last != http.StatusTooManyRequests {
		t.Errorf("after 25 failed logins status = %d, want 429", last)
	}
}

// TestBrowserPageHeaders: no framing (RFC 9700 §4.16), no CORS on the
// authorization endpoint (FAPI 2.0 SP 5.2.3-3), HttpOnly SameSite cookies.
func TestBrowserPageHeaders(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	f, _, _ := push(t, env, testenv.FAPIClient, nil)
	req, _ := http.NewRequest(http.MethodGet, authorizeURL(env, testenv.FAPIClient, f.RequestURI), nil)
	req.Header.Set("Origin", "https://evil.example")
	resp, err := testenv.NewBrowser().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	h := resp.Header
	if h.Get("X-Frame-Options") != "DENY" || !strings.Contains(h.Get("Content-Security-Policy"), "frame-ancestors 'none'") {
		t.Errorf("framing headers: %v", h)
	}
	if h.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("CORS header on the authorization endpoint")
	}
	for _, c := range resp.Cookies() {
		if !c.HttpOnly || c.SameSite == http.SameSiteNoneMode || c.SameSite == http.SameSiteDefaultMode {
			t.Errorf("cookie %s: HttpOnly=%v SameSite=%v", c.Name, c.HttpOnly, c.SameSite)
		}
	}
	opt, _ := http.NewRequest(http.MethodOptions, env.URL+"/authorize", nil)
	opt.Header.Set("Origin", "https://evil.example")
	opt.Header.Set("Access-Control-Request-Method", "GET")
	r2, _ := http.DefaultClient.Do(opt)
	if r2.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("CORS preflight answered")
	}
}
