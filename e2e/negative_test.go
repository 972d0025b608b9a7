package e2e_test

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/bulwarkauth/bulwark/internal/authserver"
	"github.com/bulwarkauth/bulwark/internal/dpop"
	"github.com/bulwarkauth/bulwark/internal/oauth"
	"github.com/bulwarkauth/bulwark/internal/testenv"
)

// TestPARRejects covers the PAR negative tests of the FAPI 2.0 conformance
// suite (checklist §5.3) and RFC 9126.
func TestPARRejects(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	aud := func(v any) func(url.Values) {
		return func(f url.Values) {
			f.Set("client_assertion", env.Assertion(t, testenv.FAPIClient, func(c map[string]any) { c["aud"] = v }))
		}
	}
	tests := []struct {
		name   string
		mutate func(url.Values)
		status int
		codes  []string
	}{
		{"fail/no_client_auth", func(f url.Values) { f.Del("client_assertion"); f.Del("client_assertion_type") }, 401, []string{"invalid_client"}},
		{"fail/request_uri_in_body", func(f url.Values) { f.Set("request_uri", "urn:x") }, 400, []string{"invalid_request"}},
		{"fail/pkce_plain", func(f url.Values) { f.Set("code_challenge_method", "plain") }, 400, []string{"invalid_request"}},
		{"fail/pkce_missing", func(f url.Values) { f.Del("code_challenge"); f.Del("code_challenge_method") }, 400, []string{"invalid_request"}},
		{"fail/response_type_token", func(f url.Values) { f.Set("response_type", "token") }, 400, []string{"unsupported_response_type"}},
		{"fail/response_type_code_id_token", func(f url.Values) { f.Set("response_type", "code id_token") }, 400, []string{"unsupported_response_type"}},
		{"fail/redirect_uri_missing", func(f url.Values) { f.Del("redirect_uri") }, 400, []string{"invalid_request"}},
		{"fail/redirect_uri_unregistered", func(f url.Values) { f.Set("redirect_uri", "https://app.example/cb/other") }, 400, []string{"invalid_request"}},
		{"fail/redirect_uri_case", func(f url.Values) { f.Set("redirect_uri", "HTTPS://app.example/cb") }, 400, []string{"invalid_request"}},
		{"fail/redirect_uri_http", func(f url.Values) { f.Set("redirect_uri", "http://app.example/cb") }, 400, []string{"invalid_request"}},
		{"fail/scope_not_allowed", func(f url.Values) { f.Set("scope", "openid admin") }, 400, []string{"invalid_scope"}},
		{"fail/aud_array", aud([]string{env.URL, "https://other.example"}), 401, []string{"invalid_client"}},
		{"fail/aud_par_url", aud(env.URL + "/par"), 401, []string{"invalid_client"}},
		{"fail/aud_token_url", aud(env.URL + "/token"), 401, []string{"invalid_client"}},
		{"fail/aud_other_server", aud("https://other.example"), 401, []string{"invalid_client"}},
		{"fail/assertion_nbf_61s_future", func(f url.Values) {
			now := time.Now().Unix()
			f.Set("client_assertion", env.Assertion(t, testenv.FAPIClient, func(c map[string]any) { c["iat"], c["nbf"], c["exp"] = now+61, now+61, now+121 }))
		}, 401, []string{"invalid_client"}},
		{"ok/assertion_nbf_8s_future", func(f url.Values) {
			now := time.Now().Unix()
			f.Set("client_assertion", env.Assertion(t, testenv.FAPIClient, func(c map[string]any) { c["iat"], c["nbf"] = now+8, now+8 }))
		}, 201, nil},
		{"fail/assertion_expired_5min", func(f url.Values) {
			now := time.Now().Unix()
			f.Set("client_assertion", env.Assertion(t, testenv.FAPIClient, func(c map[string]any) { c["iat"], c["exp"] = now-360, now-300 }))
		}, 401, []string{"invalid_client"}},
		{"fail/assertion_no_sub", func(f url.Values) {
			f.Set("client_assertion", env.Assertion(t, testenv.FAPIClient, func(c map[string]any) { delete(c, "sub") }))
		}, 401, []string{"invalid_client"}},
		{"fail/assertion_no_jti", func(f url.Values) {
			f.Set("client_assertion", env.Assertion(t, testenv.FAPIClient, func(c map[string]any) { delete(c, "jti") }))
		}, 401, []string{"invalid_client"}},
		{"fail/assertion_no_exp", func(f url.Values) {
			f.Set("client_assertion", env.Assertion(t, testenv.FAPIClient, func(c map[string]any) { delete(c, "exp") }))
		}, 401, []string{"invalid_client"}},
		{"fail/assertion_wrong_key", func(f url.Values) {
			a := env.Assertion(t, testenv.FAPIClient2, func(c map[string]any) {
				c["iss"], c["sub"] = testenv.FAPIClient, testenv.FAPIClient
			})
			f.Set("client_assertion", a)
		}, 401, []string{"invalid_client"}},
		{"fail/assertion_alg_none", func(f url.Values) {
			a := env.Assertion(t, testenv.FAPIClient, nil)
			parts := strings.Split(a, ".")
			f.Set("client_assertion", "eyJhbGciOiJub25lIn0."+parts[1]+".")
		}, 401, []string{"invalid_client"}},
		{"fail/assertion_tampered", func(f url.Values) {
			a := []byte(env.Assertion(t, testenv.FAPIClient, nil))
			a[len(a)-5] ^= 1
			f.Set("client_assertion", string(a))
		}, 401, []string{"invalid_client"}},
		{"fail/wrong_assertion_type", func(f url.Values) { f.Set("client_assertion_type", "urn:x") }, 401, []string{"invalid_client"}},
		{"fail/duplicate_parameter", func(f url.Values) { f.Add("scope", "openid") }, 400, []string{"invalid_request"}},
		{"fail/two_auth_methods", func(f url.Values) { f.Set("client_secret", "x") }, 400, []string{"invalid_request"}},
		{"fail/request_object", func(f url.Values) { f.Set("request", "eyJ.eyJ.x") }, 400, []string{"request_not_supported", "invalid_request"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mutate := tt.mutate
			_, resp, body := push(t, env, testenv.FAPIClient, mutate)
			if tt.status == 201 {
				if resp.StatusCode != 201 {
					t.Fatalf("status %d, body %v", resp.StatusCode, body)
				}
				return
			}
			if resp.StatusCode != tt.status {
				t.Errorf("status = %d, want %d (%v)", resp.StatusCode, tt.status, body)
			}
			found := false
			for _, c := range tt.codes {
				found = found || body["error"] == c
			}
			if !found {
				t.Errorf("error = %v, want %v", body["error"], tt.codes)
			}
			if tt.status == 401 && resp.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("401 without WWW-Authenticate")
			}
		})
	}
}

// TestPARMethodAndSize: RFC 9126 §2.3 (405 for other methods, 413 for
// oversized bodies).
func TestPARMethodAndSize(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	req, _ := http.NewRequest(http.MethodPut, env.URL+"/par", strings.NewReader("a=b"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("PUT /par: %d", resp.StatusCode)
	}
	big := env.AssertionForm(t, testenv.FAPIClient)
	big.Set("state", strings.Repeat("x", 100<<10))
	wantError(t, env.PostForm(t, nil, "/par", big, nil, nil), http.StatusRequestEntityTooLarge, "invalid_request")
	r := env.PostForm(t, nil, "/token", url.Values{}, http.Header{"Content-Type": {"application/json"}}, nil)
	wantError(t, r, http.StatusBadRequest, "invalid_request")
}

// TestAuthorizeRejects covers the authorization endpoint's refusals: never
// a redirect before client_id and redirect_uri are validated (RFC 9700
// §4.11.2), PAR required for fapi2, request_uri bound to its client.
func TestAuthorizeRejects(t *testing.T) {
	env := testenv.Start(t, testenv.Options{})
	f, _, _ := push(t, env, testenv.FAPIClient, nil)
	_, challenge := testenv.PKCE()
	direct := url.Values{"client_id": {testenv.FAPIClient}, "response_type": {"code"}, "redirect_uri": {testenv.RedirectURI},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"}, "scope": {"openid"}, "state": {"st"}}
	tests := []struct {
		name string
		q    url.Values
		// redirect: "" means an error page (no Location); otherwise the
		// error code expected in the redirect.
		redirect string
	}{
		{"fail/unknown_client", url.Values{"client_id": {"nobody"}, "request_uri": {f.RequestURI}}, ""},
		{"fail/no_client_id", url.Values{"request_uri": {f.RequestURI}}, ""},
		{"fail/request_uri_of_other_client", url.Values{"client_id": {testenv.FAPIClient2}, "request_uri": {f.RequestURI}}, ""},
		{"fail/unknown_request_uri", url.Values{"client_id": {testenv.FAPIClient}, "request_uri": {"urn:ietf:params:oauth:request_uri:nope"}}, ""},
		{"fail/fapi2_without_par", direct, "invalid_request"},
		{"fail/fapi2_without_par_bad_redirect", func() url.Values {
			q := url.Values{}
			for k, v := range direct {
				q[k] = v
			}
			q.Set("redirect_uri", "https://evil.example/cb")
			return q
		}(), ""},
		{"fail/public_unregistered_redirect", url.Values{"client_id": {testenv.PublicClient}, "response_type": {"code"}, "redirect_uri": {"https://evil.example/cb"},
			"code_challenge": {challenge}, "code_challenge_method": {"S256"}}, ""},
		{"fail/public_missing_pkce", url.Values{"client_id": {testenv.PublicClient}, "response_type": {"code"}, "redirect_uri": {testenv.RedirectURI}, "state": {"st"}}, "invalid_request"},
		{"fail/public_pkce_plain", url.Values{"client_id": {testenv.PublicClient}, "response_type": {"code"}, "redirect_uri": {testenv.RedirectURI},
			"code_challenge": {challenge}, "code_challenge_method": {"plain"}, "state": {"st"}}, "invalid_request"},
		{"fail/public_response_type_token", url.Values{"client_id": {testenv.PublicClient}, "response_type": {"token"}, "redirect_uri": {testenv.RedirectURI},
			"code_challenge": {challenge}, "code_challenge_method": {"S256"}, "state": {"st"}}, "unsupported_response_type"},
		{"fail/localhost_port_not_exempt", url.Values{"client_id": {testenv.PublicClient}, "response_type": {"code"}, "redirect_uri": {"http://localhost:4000/cb"},
			"code_challenge": {challenge}, "code_challenge_method": {"S256"}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp := get(t, testenv.NewBrowser(), env.URL+"/authorize?"+tt.q.Encode())
			loc := resp.Header.Get("Location")
			if tt.redirect == "" {
				if loc != "" || resp.StatusCode < 400 {
					t.Fatalf("want an error page, got %d Location %q", resp.StatusCode, loc)
				}
				b, _ := io.ReadAll(resp.Body)
				if !strings.Contains(string(b), "Something went wrong") {
					t.Errorf("error page body: %s", b)
				}
				return
			}
			if resp.StatusCode != http.StatusSeeOther {
				t.Fatalf("want 303, got %d", resp.StatusCode)
			}
			u, _ := url.Parse(loc)
			q := u.Query()
			if q.Get("error") != tt.redirect || q.Get("iss") != env.URL || q.Get("state") != "st" || q.Has("code") {
				t.Errorf("error redirect = %s", loc)
			}
			if !strings.HasPrefix(loc, tt.q.Get("redirect_uri")+"?") {
				t.Errorf("redirected to %s", loc)
			}
		})
	}
}

// TestTokenRejects covers the token endpoint's refusals for codes.
func TestTokenRejects(t *testing.T) {
	var now time.Time
	clock := func() time.Time {
		if now.IsZero() {
			return time.Now()
		}
		return now
	}
	env := testenv.Start(t, testenv.Options{Config: func(c *authserver.Config) { c.Now = clock }})
	newCode := func(t *testing.T) (*flow, string) {
		f, _, _ := push(t, env, testenv.FAPIClient, nil)
		return f, authorize(t, env, testenv.FAPIClient, f).Get("code")
	}
	t.Run("fail/code_of_other_client", func(t *testing.T) {
		f, code := newCode(t)
		resp, _ := redeem(t, env, testenv.FAPIClient2, code, f.Verifier)
		wantError(t, resp, http.StatusBadRequest, "invalid_grant")
	})
	t.Run("fail/pkce_verifier_missing", func(t *testing.T) {
		_, code := newCode(t)
		resp, _ := redeem(t, env, testenv.FAPIClient, code, "")
		wantError(t, resp, http.StatusBadRequest, "invalid_grant")
	})
	t.Run("fail/pkce_verifier_wrong", func(t *testing.T) {
		_, code := newCode(t)
		v, _ := testenv.PKCE()
		resp, _ := redeem(t, env, testenv.FAPIClient, code, v)
		wantError(t, resp, http.StatusBadRequest, "invalid_grant")
	})
	t.Run("fail/redirect_uri_mismatch", func(t *testing.T) {
		f, code := newCode(t)
		form := env.AssertionForm(t, testenv.FAPIClient)
		form.Set("grant_type", "authorization_code")
		form.Set("code", code)
		form.Set("redirect_uri", testenv.LoopbackURI)
		form.Set("code_verifier", f.Verifier)
		wantError(t, env.PostForm(t, nil, "/token", form, env.DPoPHeader(t, testenv.FAPIClient, "/token"), nil), http.StatusBadRequest, "invalid_grant")
	})
	t.Run("fail/client_id_mismatch", func(t *testing.T) {
		f, code := newCode(t)
		form := env.AssertionForm(t, testenv.FAPIClient)
		form.Set("client_id", testenv.FAPIClient2)
		form.Set("grant_type", "authorization_code")
		form.Set("code", code)
		form.Set("code_verifier", f.Verifier)
		wantError(t, env.PostForm(t, nil, "/token", form, nil, nil), http.StatusUnauthorized, "invalid_client")
	})
	t.Run("fail/code_expired_61s", func(t *testing.T) {
		f, code := newCode(t)
		now = time.Now().Add(61 * time.Second)
		defer func() { now = time.Time{} }()
		form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "code_verifier": {f.Verifier},
			"client_id": {testenv.FAPIClient}, "client_assertion_type": {oauth.ClientAssertionTypeJWT},
			"client_assertion": {env.Assertion(t, testenv.FAPIClient, func(c map[string]any) {
				c["iat"], c["exp"] = now.Unix(), now.Unix()+60
			})}}
		proof, err := dpop.NewProof(env.DPoPKey(t, testenv.FAPIClient), dpop.ProofParams{Method: http.MethodPost, URL: env.URL + "/token", Now: now})
		if err != nil {
			t.Fatal(err)
		}
		wantError(t, env.PostForm(t, nil, "/token", form, http.Header{"DPoP": {proof}}, nil), http.StatusBadRequest, "invalid_grant")
	})
	t.Run("fail/request_uri_expired", func(t *testing.T) {
		f, _, _ := push(t, env, testenv.FAPIClient, nil)
		now = time.Now().Add(61 * time.Second)
		defer func() { now = time.Time{} }()
		resp := get(t, testenv.NewBrowser(), authorizeURL(env, testenv.FAPIClient, f.RequestURI))
		if resp.StatusCode == http.StatusOK || resp.Header.Get("Location") != "" {
			t.Errorf("expired request_uri: %d %q", resp.StatusCode, resp.Header.Get("Location"))
		}
	})
	t.Run("fail/assertion_replayed", func(t *testing.T) {
		a := env.Assertion(t, testenv.FAPIClient, nil)
		form := url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {oauth.ClientAssertionTypeJWT}, "client_assertion": {a}}
		if r := env.PostForm(t, nil, "/token", form, env.DPoPHeader(t, testenv.FAPIClient, "/token"), nil); r.StatusCode != http.StatusOK {
			t.Fatalf("first use: %d", r.StatusCode)
		}
		wantError(t, env.PostForm(t, nil, "/token", form, env.DPoPHeader(t, testenv.FAPIClient, "/token"), nil), http.StatusUnauthorized, "invalid_client")
	})
	t.Run("fail/secret_client_wrong_secret", func(t *testing.T) {
		r := env.PostForm(t, nil, "/token", url.Values{"grant_type": {"client_credentials"}},
			http.Header{"Authorization": {basic(testenv.SecretClient, "wrong-secret-0123456789")}}, nil)
		wantError(t, r, http.StatusUnauthorized, "invalid_client")
		if !strings.HasPrefix(r.Header.Get("WWW-Authenticate"), "Basic") {
			t.Errorf("WWW-Authenticate = %q", r.Header.Get("WWW-Authenticate"))
		}
	})
	t.Run("ok/secret_client_credentials", func(t *testing.T) {
		var tb tokenBody
		r := env.PostForm(t, nil, "/token", url.Values{"grant_type": {"client_credentials"}, "scope": {"api"}},
			http.Header{"Authorization": {basic(testenv.SecretClient, testenv.ClientSecret)}}, &tb)
		if r.StatusCode != http.StatusOK || tb.Scope != "api" || tb.RefreshToken != "" || tb.IDToken != "" {
			t.Errorf("client_credentials: %d %+v", r.StatusCode, tb)
		}
	})
	t.Run("fail/fapi2_secret_post", func(t *testing.T) {
		r := env.PostForm(t, nil, "/token", url.Values{"grant_type": {"client_credentials"}, "client_id": {testenv.FAPIClient}, "client_secret": {"anything-at-all-0123"}}, nil, nil)
		wantError(t, r, http.StatusUnauthorized, "invalid_client")
	})
	t.Run("fail/unknown_grant", func(t *testing.T) {
		form := env.AssertionForm(t, testenv.FAPIClient)
		form.Set("grant_type", "urn:example:nope")
		wantError(t, env.PostForm(t, nil, "/token", form, nil, nil), http.StatusBadRequest, "unsupported_grant_type")
	})
}

func basic(id, secret string) string {
	req, _ := http.NewRequest("GET", "/", nil)
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	return req.Header.Get("Authorization")
}
