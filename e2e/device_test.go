package e2e_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkauth/bulwark/internal/authserver"
	"github.com/bulwarkauth/bulwark/internal/testenv"
	"github.com/bulwarkauth/bulwark/internal/testenv/testclock"
)

const deviceGrant = "urn:ietf:params:oauth:grant-type:device_code"

// deviceBody is the RFC 8628 §3.2 response.
type deviceBody struct {
	DeviceCode              string `json:"device_code"`
	UserCode                string `json:"user_code"`
	VerificationURI         string `json:"verification_uri"`
	VerificationURIComplete string `json:"verification_uri_complete"`
	ExpiresIn               int    `json:"expires_in"`
	Interval                int    `json:"interval"`
	errorBody
}

// startDevice runs a server whose clock the test moves, so polling
// intervals and expiry pass without sleeping.
func startDevice(t *testing.T, mutate func(*authserver.Config)) (*testenv.Env, *testclock.Clock) {
	t.Helper()
	clk := testclock.New()
	env := testenv.Start(t, testenv.Options{SQLite: true, Config: func(c *authserver.Config) {
		c.Now = clk.Now
		if mutate != nil {
			mutate(c)
		}
	}})
	return env, clk
}

// deviceAuthorize starts a device authorization for the public client.
func deviceAuthorize(t *testing.T, env *testenv.Env, scope string) deviceBody {
	t.Helper()
	var db deviceBody
	resp := env.PostForm(t, nil, "/device_authorization", url.Values{"client_id": {testenv.PublicClient}, "scope": {scope}}, nil, &db)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("device authorization: %d %+v", resp.StatusCode, db)
	}
	return db
}

// pollDevice makes one device access token request (RFC 8628 §3.4) as
// client, with header (a DPoP proof) when set.
func pollDevice(t *testing.T, env *testenv.Env, client, deviceCode string, header http.Header) (*http.Response, tokenBody) {
	t.Helper()
	form := url.Values{"grant_type": {deviceGrant}, "device_code": {deviceCode}}
	h := http.Header{}
	for k, v := range header {
		h[k] = v
	}
	switch client {
	case testenv.SecretClient:
		r, _ := http.NewRequest(http.MethodPost, "/", nil)
		r.SetBasicAuth(testenv.SecretClient, testenv.ClientSecret)
		h.Set("Authorization", r.Header.Get("Authorization"))
	default:
		form.Set("client_id", client)
	}
	var tb tokenBody
	resp := env.PostForm(t, nil, "/token", form, h, &tb)
	return resp, tb
}

// wantPoll checks a polling answer: an RFC 6749 §5.2 error (always 400)
// or, with code "", tokens.
func wantPoll(t *testing.T, resp *http.Response, tb tokenBody, code string) {
	t.Helper()
	if code == "" {
		if resp.StatusCode != http.StatusOK || tb.AccessToken == "" {
			t.Fatalf("poll: %d %+v, want tokens", resp.StatusCode, tb)
		}
		return
	}
	if resp.StatusCode != http.StatusBadRequest || tb.Error != code {
		t.Fatalf("poll: %d %q (%s), want 400 %q", resp.StatusCode, tb.Error, tb.Description, code)
	}
}

var hiddenField = regexp.MustCompile(`<input type="hidden" name="([a-z_]+)" value="([^"]*)">`)

// page reads a rendered page: its body and its hidden form fields.
func page(t *testing.T, resp *http.Response) (string, url.Values) {
	t.Helper()
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	fields := url.Values{}
	for _, m := range hiddenField.FindAllStringSubmatch(string(b), -1) {
		fields.Set(m[1], htmlUnescape(m[2]))
	}
	return string(b), fields
}

// submit posts a page's form to /device with its hidden fields plus extra.
func submit(t *testing.T, env *testenv.Env, browser *http.Client, fields url.Values, extra url.Values) *http.Response {
	t.Helper()
	form := url.Values{}
	for k, v := range fields {
		form[k] = v
	}
	for k, v := range extra {
		form[k] = v
	}
	return env.PostForm(t, browser, "/device", form, nil, nil)
}

// enterCode opens the verification page and submits typed as the code.
func enterCode(t *testing.T, env *testenv.Env, browser *http.Client, typed string) *http.Response {
	t.Helper()
	resp := get(t, browser, env.URL+"/device")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /device: %d", resp.StatusCode)
	}
	_, fields := page(t, resp)
	if fields.Get("csrf_token") == "" || fields.Get("step") != "code" {
		t.Fatalf("code entry page has fields %v", fields)
	}
	return submit(t, env, browser, fields, url.Values{"user_code": {typed}})
}

// approveDevice drives the browser side for alice: code entry, login,
// consent with decision. It returns the final page.
func approveDevice(t *testing.T, env *testenv.Env, browser *http.Client, typed, decision string) string {
	t.Helper()
	resp := enterCode(t, env, browser, typed)
	body, fields := page(t, resp)
	if resp.StatusCode != http.StatusOK || fields.Get("step") != "login" {
		t.Fatalf("after code entry: %d, fields %v:\n%s", resp.StatusCode, fields, body)
	}
	resp = submit(t, env, browser, fields, url.Values{"username": {testenv.UserName}, "password": {testenv.UserPassword}})
	body, fields = page(t, resp)
	if resp.StatusCode != http.StatusOK || fields.Get("step") != "decide" {
		t.Fatalf("after login: %d, fields %v:\n%s", resp.StatusCode, fields, body)
	}
	// RFC 8628 §3.3.1, §5.4: the consent page names the client and shows
	// the code to compare with the device.
	if !strings.Contains(body, "Public Agent") || !strings.Contains(body, fields.Get("user_code")) {
		t.Errorf("consent page lacks the client name or the user code:\n%s", body)
	}
	resp = submit(t, env, browser, fields, url.Values{"decision": {decision}})
	body, _ = page(t, resp)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("after %s: %d:\n%s", decision, resp.StatusCode, body)
	}
	return body
}

var displayUserCode = regexp.MustCompile(`^[BCDFGHJKLMNPQRSTVWXZ]{4}-[BCDFGHJKLMNPQRSTVWXZ]{4}$`)

// TestDeviceFlow runs RFC 8628 end to end over HTTP, once with Bearer
// tokens and once with every poll carrying a DPoP proof.
func TestDeviceFlow(t *testing.T) {
	for _, dpop := range []bool{false, true} {
		name := "bearer"
		if dpop {
			name = "dpop"
		}
		t.Run(name, func(t *testing.T) {
			env, clk := startDevice(t, nil)
			header := func() http.Header {
				if dpop {
					return env.DPoPHeader(t, testenv.PublicClient, "/token")
				}
				return nil
			}
			db := deviceAuthorize(t, env, "openid profile")
			if len(db.DeviceCode) < 43 || !displayUserCode.MatchString(db.UserCode) {
				t.Errorf("device_code %q, user_code %q", db.DeviceCode, db.UserCode)
			}
			if db.VerificationURI != env.URL+"/device" || db.ExpiresIn != 600 || db.Interval != 5 {
				t.Errorf("response = %+v", db)
			}
			if u, err := url.Parse(db.VerificationURIComplete); err != nil || u.Query().Get("user_code") != db.UserCode {
				t.Errorf("verification_uri_complete = %q", db.VerificationURIComplete)
			}

			resp, tb := pollDevice(t, env, testenv.PublicClient, db.DeviceCode, header())
			wantPoll(t, resp, tb, "authorization_pending")
			// RFC 8628 §3.5: faster than the interval is slow_down, and
			// the interval grows by 5 s (to 10 s).
			resp, tb = pollDevice(t, env, testenv.PublicClient, db.DeviceCode, header())
			wantPoll(t, resp, tb, "slow_down")
			clk.Advance(6 * time.Second)
			resp, tb = pollDevice(t, env, testenv.PublicClient, db.DeviceCode, header())
			wantPoll(t, resp, tb, "slow_down")

			// The complete URI pre-fills the code but changes nothing
			// until the user confirms it (RFC 8628 §5.4).
			browser := testenv.NewBrowser()
			pre := get(t, browser, db.VerificationURIComplete)
			body, _ := page(t, pre)
			if pre.StatusCode != http.StatusOK || !strings.Contains(body, `value="`+db.UserCode+`"`) {
				t.Errorf("verification_uri_complete page (%d) does not pre-fill the code:\n%s", pre.StatusCode, body)
			}
			clk.Advance(15 * time.Second) // the interval is 15 s now
			resp, tb = pollDevice(t, env, testenv.PublicClient, db.DeviceCode, header())
			wantPoll(t, resp, tb, "authorization_pending")

			// The user types the code loosely: lower case, no dash.
			typed := strings.ToLower(strings.ReplaceAll(db.UserCode, "-", " "))
			if done := approveDevice(t, env, browser, typed, "approve"); !strings.Contains(done, "Device connected") {
				t.Errorf("done page:\n%s", done)
			}

			clk.Advance(15 * time.Second)
			resp, tb = pollDevice(t, env, testenv.PublicClient, db.DeviceCode, header())
			wantPoll(t, resp, tb, "")
			if tb.RefreshToken == "" || tb.IDToken == "" || tb.Scope != "openid profile" {
				t.Errorf("tokens = %+v, want refresh and ID tokens for openid profile", tb)
			}
			at := testenv.Claims(t, tb.AccessToken)
			if at["client_id"] != testenv.PublicClient || at["sub"] == nil || at["sub"] != testenv.Claims(t, tb.IDToken)["sub"] {
				t.Errorf("access token claims = %v", at)
			}
			cnf, _ := at["cnf"].(map[string]any)
			if dpop {
				if tb.TokenType != "DPoP" || cnf["jkt"] == nil {
					t.Errorf("token_type %q, cnf %v; want a DPoP-bound token", tb.TokenType, cnf)
				}
			} else if tb.TokenType != "Bearer" || cnf != nil {
				t.Errorf("token_type %q, cnf %v; want an unbound Bearer token", tb.TokenType, cnf)
			}
			// The token works at userinfo, with its proof when DPoP-bound.
			var proofs []string
			if dpop {
				proofs = []string{env.Proof(t, testenv.PublicClient, http.MethodGet, "/userinfo", tb.AccessToken, "")}
			}
			if ui := userinfoWith(t, env, tb.TokenType, tb.AccessToken, proofs); ui.StatusCode != http.StatusOK {
				t.Errorf("userinfo with the device grant's token: %d", ui.StatusCode)
			}

			// Tokens are issued once.
			clk.Advance(10 * time.Second)
			resp, tb = pollDevice(t, env, testenv.PublicClient, db.DeviceCode, header())
			wantPoll(t, resp, tb, "invalid_grant")
			// The used code is no longer accepted on the page either.
			body, _ = page(t, enterCode(t, env, testenv.NewBrowser(), db.UserCode))
			if !strings.Contains(body, "That code is not valid") {
				t.Errorf("a used code was accepted again:\n%s", body)
			}
		})
	}
}

// TestDeviceWrongCode checks that wrong codes reveal nothing and change
// nothing, and that repeated wrong codes from one address are refused
// (RFC 8628 §5.1).
func TestDeviceWrongCode(t *testing.T) {
	env, clk := startDevice(t, func(c *authserver.Config) { c.RateLimits.LoginPerIP = 4 })
	db := deviceAuthorize(t, env, "openid")
	used := deviceAuthorize(t, env, "openid")
	browser := testenv.NewBrowser()
	approveDevice(t, env, browser, used.UserCode, "deny")

	wrong := []string{"BBBB-BBBB", "not a code", used.UserCode}
	var bodies []string
	for _, code := range wrong {
		resp := enterCode(t, env, browser, code)
		body, fields := page(t, resp)
		if resp.StatusCode != http.StatusBadRequest || fields.Get("step") != "code" || !strings.Contains(body, "That code is not valid") {
			t.Fatalf("code %q: %d, fields %v:\n%s", code, resp.StatusCode, fields, body)
		}
		// Unknown, malformed and decided codes get the same page, but
		// for the echo of what was typed.
		bodies = append(bodies, strings.Replace(body, `value="`+code+`"`, `value=""`, 1))
	}
	for i := 1; i < len(bodies); i++ {
		if bodies[i] != bodies[0] {
			t.Errorf("the page for %q differs from the one for %q", wrong[i], wrong[0])
		}
	}
	resp, tb := pollDevice(t, env, testenv.PublicClient, db.DeviceCode, nil)
	wantPoll(t, resp, tb, "authorization_pending")

	// The fourth failure fills the window (limit 4, and the denial above
	// was a success); then even the right code is refused for now.
	resp = enterCode(t, env, browser, "CCCC-CCCC")
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("fourth wrong code: %d", resp.StatusCode)
	}
	resp = enterCode(t, env, browser, db.UserCode)
	body, _ := page(t, resp)
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" || strings.Contains(body, "Sign in") {
		t.Fatalf("right code after the limit: %d (Retry-After %q):\n%s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
	clk.Advance(5 * time.Second)
	resp, tb = pollDevice(t, env, testenv.PublicClient, db.DeviceCode, nil)
	wantPoll(t, resp, tb, "authorization_pending")
}

// TestDeviceDenied: a denial reaches the device as access_denied, on
// every later poll too.
func TestDeviceDenied(t *testing.T) {
	env, clk := startDevice(t, nil)
	db := deviceAuthorize(t, env, "openid")
	if done := approveDevice(t, env, testenv.NewBrowser(), db.UserCode, "deny"); !strings.Contains(done, "Request denied") {
		t.Errorf("done page:\n%s", done)
	}
	for range 2 {
		resp, tb := pollDevice(t, env, testenv.PublicClient, db.DeviceCode, nil)
		wantPoll(t, resp, tb, "access_denied")
		clk.Advance(5 * time.Second)
	}
}

// TestDeviceRevokedBeforePoll: an approval whose grant is revoked before
// the device polls (a consent revoked, a client deleted: the
// Grants.RevokeAll cascade) yields no tokens. The grant is recorded with
// the approval, so the cascade reaches it.
func TestDeviceRevokedBeforePoll(t *testing.T) {
	env, _ := startDevice(t, nil)
	db := deviceAuthorize(t, env, "openid")
	approveDevice(t, env, testenv.NewBrowser(), db.UserCode, "approve")
	u, err := env.Store.Users.GetByUsername(t.Context(), testenv.UserName)
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Store.Grants.RevokeAll(t.Context(), testenv.PublicClient, u.Subject); err != nil {
		t.Fatal(err)
	}
	resp, tb := pollDevice(t, env, testenv.PublicClient, db.DeviceCode, nil)
	wantPoll(t, resp, tb, "invalid_grant")
}

// TestDeviceExpiry: past expires_in the device hears expired_token and the
// page no longer takes the code.
func TestDeviceExpiry(t *testing.T) {
	env, clk := startDevice(t, nil)
	db := deviceAuthorize(t, env, "openid")
	clk.Advance(time.Duration(db.ExpiresIn) * time.Second)
	resp, tb := pollDevice(t, env, testenv.PublicClient, db.DeviceCode, nil)
	wantPoll(t, resp, tb, "expired_token")
	r := enterCode(t, env, testenv.NewBrowser(), db.UserCode)
	if body, _ := page(t, r); r.StatusCode != http.StatusBadRequest || !strings.Contains(body, "That code is not valid") {
		t.Errorf("expired code on the page: %d:\n%s", r.StatusCode, body)
	}
}

// TestDeviceAuthorizationRejects covers the device authorization endpoint's
// refusals and the client binding of the device code at the token
// endpoint.
func TestDeviceAuthorizationRejects(t *testing.T) {
	env, clk := startDevice(t, nil)
	t.Run("fail/grant_not_registered", func(t *testing.T) {
		resp := env.PostForm(t, nil, "/device_authorization", env.AssertionForm(t, testenv.FAPIClient), nil, nil)
		wantError(t, resp, http.StatusBadRequest, "unauthorized_client")
	})
	t.Run("fail/scope_not_registered", func(t *testing.T) {
		resp := env.PostForm(t, nil, "/device_authorization", url.Values{"client_id": {testenv.PublicClient}, "scope": {"api"}}, nil, nil)
		wantError(t, resp, http.StatusBadRequest, "invalid_scope")
	})
	t.Run("fail/unknown_client", func(t *testing.T) {
		resp := env.PostForm(t, nil, "/device_authorization", url.Values{"client_id": {"nobody"}}, nil, nil)
		wantError(t, resp, http.StatusUnauthorized, "invalid_client")
	})
	t.Run("fail/confidential_without_secret", func(t *testing.T) {
		resp := env.PostForm(t, nil, "/device_authorization", url.Values{"client_id": {testenv.SecretClient}}, nil, nil)
		wantError(t, resp, http.StatusUnauthorized, "invalid_client")
	})
	t.Run("ok/confidential_basic", func(t *testing.T) {
		r, _ := http.NewRequest(http.MethodPost, "/", nil)
		r.SetBasicAuth(testenv.SecretClient, testenv.ClientSecret)
		var db deviceBody
		resp := env.PostForm(t, nil, "/device_authorization", url.Values{"scope": {"api"}}, http.Header{"Authorization": r.Header["Authorization"]}, &db)
		if resp.StatusCode != http.StatusOK || db.DeviceCode == "" {
			t.Fatalf("device authorization: %d %+v", resp.StatusCode, db)
		}
		if cc := resp.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("Cache-Control = %q, want no-store", cc)
		}
		// The device code is bound to the client it was issued to.
		resp, tb := pollDevice(t, env, testenv.PublicClient, db.DeviceCode, nil)
		wantPoll(t, resp, tb, "invalid_grant")
		clk.Advance(5 * time.Second)
		resp, tb = pollDevice(t, env, testenv.SecretClient, db.DeviceCode, nil)
		wantPoll(t, resp, tb, "authorization_pending")
	})
	t.Run("fail/unknown_device_code", func(t *testing.T) {
		resp, tb := pollDevice(t, env, testenv.PublicClient, testenv.RandomString(32), nil)
		wantPoll(t, resp, tb, "invalid_grant")
	})
	t.Run("fail/page_without_csrf", func(t *testing.T) {
		resp := env.PostForm(t, testenv.NewBrowser(), "/device", url.Values{"step": {"code"}, "user_code": {"BBBB-BBBB"}}, nil, nil)
		if resp.StatusCode != http.StatusForbidden {
			t.Errorf("form post without CSRF token: %d, want 403", resp.StatusCode)
		}
	})
	t.Run("ok/metadata", func(t *testing.T) {
		var md map[string]any
		resp := get(t, env.HTTP, env.URL+"/.well-known/oauth-authorization-server")
		b, _ := io.ReadAll(resp.Body)
		if err := json.Unmarshal(b, &md); err != nil {
			t.Fatal(err)
		}
		if md["device_authorization_endpoint"] != env.URL+"/device_authorization" {
			t.Errorf("device_authorization_endpoint = %v", md["device_authorization_endpoint"])
		}
		grants, _ := md["grant_types_supported"].([]any)
		found := false
		for _, g := range grants {
			found = found || g == deviceGrant
		}
		if !found {
			t.Errorf("grant_types_supported = %v lacks the device grant", grants)
		}
	})
}
