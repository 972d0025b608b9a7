package e2e_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkauth/bulwark/internal/bff"
	"github.com/bulwarkauth/bulwark/internal/jose"
	"github.com/bulwarkauth/bulwark/internal/store"
	"github.com/bulwarkauth/bulwark/internal/testenv"
)

// TestBFFOpenRedirect feeds /oauth2/start and sign_out tricky rd values:
// none may leave the site (CL-4, RFC 9700 §4.11).
func TestBFFOpenRedirect(t *testing.T) {
	f := startBFF(t, bffOptions{})
	browser := f.browser()
	for _, rd := range []string{
		"https://evil.example/", "//evil.example", "///evil.example", "/\\evil.example", "\\\\evil.example",
		"/\t/evil.example", "/\n/evil.example", "javascript:alert(1)", "evil.example", "http:evil.example",
		"/%2F/evil.example", " /x", "/x\x00", "https:/evil.example", "/x y",
	} {
		t.Run(url.PathEscape(rd), func(t *testing.T) {
			for _, p := range []string{bff.PathStart, bff.PathSignOut} {
				resp := get(t, browser, f.url+p+"?rd="+url.QueryEscape(rd))
				if resp.StatusCode != http.StatusBadRequest {
					t.Errorf("%s?rd=%q: %d to %q, want 400", p, rd, resp.StatusCode, resp.Header.Get("Location"))
				}
			}
		})
	}
}

// TestBFFCallbackRejected sends forged, mismatched and replayed callbacks:
// none yields a session, and none reaches the token endpoint with a code
// it should not.
func TestBFFCallbackRejected(t *testing.T) {
	f := startBFF(t, bffOptions{})
	tamper := func(cb string, mutate func(url.Values)) string {
		u, _ := url.Parse(cb)
		q := u.Query()
		mutate(q)
		u.RawQuery = q.Encode()
		return u.String()
	}
	cases := map[string]func(t *testing.T, browser *http.Client, cb string) string{
		"fail/wrong iss": func(_ *testing.T, _ *http.Client, cb string) string {
			return tamper(cb, func(q url.Values) { q.Set("iss", "https://evil.example") })
		},
		"fail/missing iss": func(_ *testing.T, _ *http.Client, cb string) string {
			return tamper(cb, func(q url.Values) { q.Del("iss") })
		},
		"fail/wrong state": func(_ *testing.T, _ *http.Client, cb string) string {
			return tamper(cb, func(q url.Values) { q.Set("state", "forged") })
		},
		"fail/missing state": func(_ *testing.T, _ *http.Client, cb string) string {
			return tamper(cb, func(q url.Values) { q.Del("state") })
		},
		"fail/other browser": func(t *testing.T, browser *http.Client, cb string) string {
			// The callback in a browser that did not start the login
			// (login CSRF, CL-AC-4): its cookie names no pending login.
			u, _ := url.Parse(f.url)
			browser.Jar.SetCookies(u, nil)
			*browser = *f.browser()
			return cb
		},
	}
	for name, mutate := range cases {
		t.Run(name, func(t *testing.T) {
			browser := f.browser()
			cb := f.authorize(t, browser, "/")
			resp := get(t, browser, mutate(t, browser, cb))
			if resp.StatusCode < 400 || sessionCookie(browser, f.url) != nil {
				t.Errorf("callback: %d, cookie %v: want an error and no session", resp.StatusCode, sessionCookie(browser, f.url))
			}
		})
	}
	t.Run("fail/browser sees an error page", func(t *testing.T) {
		// A person who lands on a failed callback gets a page that says
		// what failed and offers a new sign-in, not a JSON body.
		browser := f.browser()
		cb := tamper(f.authorize(t, browser, "/"), func(q url.Values) { q.Set("state", "forged") })
		req, _ := http.NewRequest(http.MethodGet, cb, nil)
		req.Header.Set("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
		resp, err := browser.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") ||
			!strings.Contains(string(body), `id="retry" href="`+bff.PathStart) || !strings.Contains(string(body), "access_denied") {
			t.Errorf("callback page: %d %q\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
		if sessionCookie(browser, f.url) != nil {
			t.Error("a session after a failed callback")
		}
	})
	t.Run("fail/replayed callback", func(t *testing.T) {
		browser := f.browser()
		cb := f.authorize(t, browser, "/")
		// Keep the login cookie to replay it with the callback.
		u, _ := url.Parse(f.url)
		var login *http.Cookie
		for _, c := range browser.Jar.Cookies(u) {
			if c.Name == bff.DefaultLoginCookieName {
				login = c
			}
		}
		if resp := get(t, browser, cb); resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("first callback: %d", resp.StatusCode)
		}
		replay := f.browser()
		replay.Jar.SetCookies(u, []*http.Cookie{login})
		if resp := get(t, replay, cb); resp.StatusCode != http.StatusBadRequest || sessionCookie(replay, f.url) != nil {
			t.Errorf("replayed callback: %d", resp.StatusCode)
		}
	})
	t.Run("fail/access denied", func(t *testing.T) {
		// Forget the consent earlier sign-ins remembered, so the consent
		// page (and its deny button) is shown.
		u, err := f.env.Store.Users.GetByUsername(t.Context(), testenv.UserName)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.env.Store.Consents.Delete(t.Context(), u.Subject, bffClient); err != nil {
			t.Fatal(err)
		}
		browser := f.browser()
		resp := get(t, browser, f.url+bff.PathStart)
		page := login(t, f.env, browser, resp.Header.Get("Location"), testenv.UserName, testenv.UserPassword)
		if page.StatusCode == http.StatusSeeOther {
			t.Fatal("no consent page after the consent was deleted")
		}
		cb := consent(t, f.env, browser, page, "deny").Header.Get("Location")
		if resp := get(t, browser, cb); resp.StatusCode != http.StatusForbidden || sessionCookie(browser, f.url) != nil {
			t.Errorf("denied callback: %d", resp.StatusCode)
		}
	})
}

// TestBFFCSRF checks that a state-changing API call needs the custom
// header and an allowed Origin, and that refused calls never reach the
// upstream.
func TestBFFCSRF(t *testing.T) {
	f := startBFF(t, bffOptions{config: func(c *bff.Config) { c.AllowedOrigins = []string{"https://admin.example"} }})
	browser := f.browser()
	f.signIn(t, browser, "/")
	for _, tc := range []struct {
		name   string
		method string
		h      map[string]string
		want   int
	}{
		{"fail/no header", http.MethodPost, map[string]string{"X-CSRF": ""}, http.StatusForbidden},
		{"fail/wrong origin", http.MethodPost, map[string]string{"Origin": "https://evil.example"}, http.StatusForbidden},
		{"fail/no origin", http.MethodDelete, map[string]string{"Origin": ""}, http.StatusForbidden},
		{"fail/null origin", http.MethodPut, map[string]string{"Origin": "null"}, http.StatusForbidden},
		{"ok/allowed origin", http.MethodPost, map[string]string{"Origin": "https://admin.example"}, http.StatusOK},
		{"ok/GET needs neither", http.MethodGet, map[string]string{"X-CSRF": "", "Origin": ""}, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := f.callCount()
			resp := f.apiRequest(t, browser, tc.method, "/api/x", tc.h)
			if resp.StatusCode != tc.want {
				t.Errorf("%s: %d, want %d", tc.method, resp.StatusCode, tc.want)
			}
			if tc.want != http.StatusOK && f.callCount() != before {
				t.Error("a refused call reached the upstream")
			}
		})
	}
	// The CSRF header is not forwarded.
	f.apiRequest(t, browser, http.MethodPost, "/api/x", nil)
	if c := f.lastCall(t); c.CSRF != "" || c.Cookie != "" {
		t.Errorf("upstream saw %+v", c)
	}
}

// TestBFFExpiry ends sessions at the idle and the absolute limits.
func TestBFFExpiry(t *testing.T) {
	cfg := func(c *bff.Config) {
		c.IdleTimeout, c.SessionLifetime, c.RefreshInterval = 10*time.Minute, 30*time.Minute, time.Hour
	}
	f := startBFF(t, bffOptions{config: cfg, atTTL: time.Hour})
	t.Run("fail/idle", func(t *testing.T) {
		browser := f.browser()
		f.signIn(t, browser, "/")
		f.clock.Advance(11 * time.Minute)
		if resp := f.apiRequest(t, browser, http.MethodGet, "/api/x", nil); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("after the idle timeout: %d", resp.StatusCode)
		}
	})
	t.Run("fail/absolute", func(t *testing.T) {
		browser := f.browser()
		f.signIn(t, browser, "/")
		// Active every 5 minutes: never idle, still ended at 30 minutes.
		for range 5 {
			f.clock.Advance(5 * time.Minute)
			if resp := f.apiRequest(t, browser, http.MethodGet, "/api/x", nil); resp.StatusCode != http.StatusOK {
				t.Fatalf("active session refused: %d", resp.StatusCode)
			}
		}
		f.clock.Advance(6 * time.Minute)
		if resp := f.apiRequest(t, browser, http.MethodGet, "/api/x", nil); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("after the absolute limit: %d", resp.StatusCode)
		}
	})
}

// TestBFFRefreshRevoked revokes the session's grant at the AS: the next
// refresh fails and ends the session cleanly.
func TestBFFRefreshRevoked(t *testing.T) {
	f := startBFF(t, bffOptions{atTTL: time.Minute})
	browser := f.browser()
	f.signIn(t, browser, "/")
	sc := sessionCookie(browser, f.url)
	// Revoke the grant at the AS (as an admin or the user would): the
	// upstream saw its grant_id in the access token.
	if resp := f.apiRequest(t, browser, http.MethodGet, "/api/x", nil); resp.StatusCode != http.StatusOK {
		t.Fatal(resp.StatusCode)
	}
	if err := f.env.Store.Grants.Revoke(t.Context(), f.lastCall(t).GrantID); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(2 * time.Minute)
	resp := f.apiRequest(t, browser, http.MethodGet, "/api/x", nil)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("after revocation: %d", resp.StatusCode)
	}
	cleared := false
	for _, c := range resp.Cookies() {
		cleared = cleared || (c.Name == bff.DefaultCookieName && c.MaxAge < 0)
	}
	if !cleared {
		t.Error("the session cookie was not cleared")
	}
	if _, err := f.stores.Sessions.Get(t.Context(), store.Hash(sc.Value)); err == nil {
		t.Error("the session survived a failed refresh")
	}
}

// TestBFFBackchannelLogout signs logout tokens with the AS's own signing
// key (as a provider with back-channel logout would) and posts them.
func TestBFFBackchannelLogout(t *testing.T) {
	f := startBFF(t, bffOptions{})
	browser := f.browser()
	f.signIn(t, browser, "/")
	sc := sessionCookie(browser, f.url)
	rec, err := f.stores.Sessions.Get(t.Context(), store.Hash(sc.Value))
	if err != nil {
		t.Fatal(err)
	}
	key := asSigningKey(t, f)
	other, _ := jose.GenerateKey(jose.ES256)
	event := map[string]any{"http://schemas.openid.net/event/backchannel-logout": map[string]any{}}
	claims := func(mutate func(map[string]any)) map[string]any {
		now := f.clock.Now().Unix()
		c := map[string]any{"iss": f.env.Issuer, "aud": bffClient, "iat": now, "exp": now + 120, "jti": testenv.RandomString(12), "sub": rec.Subject, "events": event}
		if mutate != nil {
			mutate(c)
		}
		return c
	}
	post := func(tok string) int {
		resp, err := f.browser().PostForm(f.url+bff.PathBackchannel, url.Values{"logout_token": {tok}})
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		return resp.StatusCode
	}
	sign := func(k *jose.PrivateKey, typ string, c map[string]any) string {
		s, err := jose.SignWithKey(k, typ, false, c)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	for name, tok := range map[string]string{
		"fail/bad signature":  sign(other, "logout+jwt", claims(nil)),
		"fail/no events":      sign(key, "logout+jwt", claims(func(c map[string]any) { delete(c, "events") })),
		"fail/wrong event":    sign(key, "logout+jwt", claims(func(c map[string]any) { c["events"] = map[string]any{"x": map[string]any{}} })),
		"fail/nonce":          sign(key, "logout+jwt", claims(func(c map[string]any) { c["nonce"] = "n" })),
		"fail/wrong aud":      sign(key, "logout+jwt", claims(func(c map[string]any) { c["aud"] = "other" })),
		"fail/wrong iss":      sign(key, "logout+jwt", claims(func(c map[string]any) { c["iss"] = "https://evil.example" })),
		"fail/no sub nor sid": sign(key, "logout+jwt", claims(func(c map[string]any) { delete(c, "sub") })),
		"fail/no jti":         sign(key, "logout+jwt", claims(func(c map[string]any) { delete(c, "jti") })),
		"fail/old iat":        sign(key, "logout+jwt", claims(func(c map[string]any) { c["iat"] = f.clock.Now().Add(-time.Hour).Unix() })),
		"fail/typ JWT":        sign(key, "JWT", claims(nil)),
		"fail/not a JWT":      "abc",
	} {
		if got := post(tok); got != http.StatusBadRequest {
			t.Errorf("%s: %d, want 400", name, got)
		}
	}
	if _, err := f.stores.Sessions.Get(t.Context(), store.Hash(sc.Value)); err != nil {
		t.Fatalf("a rejected logout token ended the session: %v", err)
	}
	good := sign(key, "logout+jwt", claims(nil))
	if got := post(good); got != http.StatusOK {
		t.Fatalf("valid logout token: %d", got)
	}
	if _, err := f.stores.Sessions.Get(t.Context(), store.Hash(sc.Value)); err == nil {
		t.Error("the session survived back-channel logout")
	}
	if got := post(good); got != http.StatusBadRequest {
		t.Errorf("replayed jti: %d, want 400", got)
	}
	if resp := f.apiRequest(t, browser, http.MethodGet, "/api/x", nil); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("API after back-channel logout: %d", resp.StatusCode)
	}
}

// asSigningKey returns the AS's ES256 signing key from its store.
func asSigningKey(t *testing.T, f *bffFixture) *jose.PrivateKey {
	t.Helper()
	keys, err := f.env.Store.Keys.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if k.Algorithm == jose.ES256 && k.RetiredAt == nil {
			pk, err := jose.ParsePrivateJWK(k.Private)
			if err != nil {
				t.Fatal(err)
			}
			return pk
		}
	}
	t.Fatal("no ES256 signing key")
	return nil
}

var _ = json.Marshal
var _ = strings.Contains

// TestBFFFetchMetadata refuses cross-site starts that are not navigations
// (CL-12) and cross-site sign-outs.
func TestBFFFetchMetadata(t *testing.T) {
	f := startBFF(t, bffOptions{})
	browser := f.browser()
	f.signIn(t, browser, "/")
	send := func(path string, h map[string]string) int {
		req, _ := http.NewRequest(http.MethodGet, f.url+path, nil)
		for k, v := range h {
			req.Header.Set(k, v)
		}
		resp, err := browser.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := send(bff.PathStart, map[string]string{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"}); got != http.StatusForbidden {
		t.Errorf("cross-site <img> start: %d", got)
	}
	if got := send(bff.PathStart, map[string]string{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}); got != http.StatusFound {
		t.Errorf("cross-site link to start: %d", got)
	}
	if got := send(bff.PathSignOut, map[string]string{"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"}); got != http.StatusForbidden {
		t.Errorf("cross-site sign-out: %d", got)
	}
	if resp := f.apiRequest(t, browser, http.MethodGet, "/api/x", nil); resp.StatusCode != http.StatusOK {
		t.Errorf("the session did not survive the refused sign-out: %d", resp.StatusCode)
	}
}

// TestBFFSessionRotation signs in twice in one browser: the session ID
// changes and the old one is gone (no fixation).
func TestBFFSessionRotation(t *testing.T) {
	f := startBFF(t, bffOptions{})
	browser := f.browser()
	f.signIn(t, browser, "/")
	first := sessionCookie(browser, f.url).Value
	f.signIn(t, browser, "/")
	second := sessionCookie(browser, f.url).Value
	if first == second {
		t.Fatal("the session ID was not rotated at login")
	}
	if _, err := f.stores.Sessions.Get(t.Context(), store.Hash(first)); err == nil {
		t.Error("the old session survived the new login")
	}
}
