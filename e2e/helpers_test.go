package e2e_test

import (
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/bulwarkauth/bulwark/internal/testenv"
)

// flow is one authorization code flow in progress.
type flow struct {
	Verifier, Challenge string
	State, Nonce        string
	RequestURI          string
}

// errorBody is an RFC 6749 §5.2 error response.
type errorBody struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

type tokenBody struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	ExpiresIn    int    `json:"expires_in"`
	RefreshToken string `json:"refresh_token"`
	IDToken      string `json:"id_token"`
	Scope        string `json:"scope"`
	errorBody
}

// push sends a PAR request for client with the usual parameters, applying
// mutate to the form first, and returns the response.
func push(t *testing.T, env *testenv.Env, client string, mutate func(url.Values)) (*flow, *http.Response, map[string]any) {
	t.Helper()
	f := &flow{State: testenv.RandomString(12), Nonce: testenv.RandomString(12)}
	f.Verifier, f.Challenge = testenv.PKCE()
	form := env.AssertionForm(t, client)
	form.Set("response_type", "code")
	form.Set("redirect_uri", testenv.RedirectURI)
	form.Set("scope", "openid profile email")
	form.Set("state", f.State)
	form.Set("nonce", f.Nonce)
	form.Set("code_challenge", f.Challenge)
	form.Set("code_challenge_method", "S256")
	if mutate != nil {
		mutate(form)
	}
	var body map[string]any
	resp := env.PostForm(t, nil, "/par", form, nil, &body)
	if ru, ok := body["request_uri"].(string); ok {
		f.RequestURI = ru
	}
	return f, resp, body
}

var hiddenInput = regexp.MustCompile(`name="(csrf_token|handle)" value="([^"]*)"`)

// formFields extracts the hidden csrf_token and handle of a rendered page.
func formFields(t *testing.T, resp *http.Response) (csrf, handle string) {
	t.Helper()
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, m := range hiddenInput.FindAllStringSubmatch(string(b), -1) {
		v := htmlUnescape(m[2])
		if m[1] == "csrf_token" {
			csrf = v
		} else {
			handle = v
		}
	}
	if csrf == "" || handle == "" {
		t.Fatalf("page (%d) has no form:\n%s", resp.StatusCode, b)
	}
	return csrf, handle
}

func htmlUnescape(s string) string {
	return strings.NewReplacer("&#43;", "+", "&amp;", "&", "&#34;", `"`, "&#39;", "'", "&lt;", "<", "&gt;", ">").Replace(s)
}

func get(t *testing.T, c *http.Client, u string) *http.Response {
	t.Helper()
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

// authorizeURL is the front-channel URL for a pushed request.
func authorizeURL(env *testenv.Env, client, requestURI string) string {
	return env.URL + "/authorize?" + url.Values{"client_id": {client}, "request_uri": {requestURI}}.Encode()
}

// login drives the login page shown for u and returns the response to the
// login post (a consent page or a redirect).
func login(t *testing.T, env *testenv.Env, browser *http.Client, u, username, password string) *http.Response {
	t.Helper()
	resp := get(t, browser, u)
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("authorize: status %d, location %q: %s", resp.StatusCode, resp.Header.Get("Location"), b)
	}
	csrf, handle := formFields(t, resp)
	return env.PostForm(t, browser, "/login", url.Values{
		"csrf_token": {csrf}, "handle": {handle}, "username": {username}, "password": {password},
	}, nil, nil)
}

// consent answers a consent page with decision.
func consent(t *testing.T, env *testenv.Env, browser *http.Client, page *http.Response, decision string) *http.Response {
	t.Helper()
	if page.StatusCode != http.StatusOK {
		t.Fatalf("expected consent page, got %d (Location %q)", page.StatusCode, page.Header.Get("Location"))
	}
	csrf, handle := formFields(t, page)
	return env.PostForm(t, browser, "/consent", url.Values{"csrf_token": {csrf}, "handle": {handle}, "decision": {decision}}, nil, nil)
}

// callback parses the redirect to the client.
func callback(t *testing.T, resp *http.Response) url.Values {
	t.Helper()
	if resp.StatusCode != http.StatusSeeOther {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("want 303 to the client, got %d: %s", resp.StatusCode, b)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatal(err)
	}
	return loc.Query()
}

// authorize runs a whole front channel for a pushed request as alice and
// returns the callback parameters.
func authorize(t *testing.T, env *testenv.Env, client string, f *flow) url.Values {
	t.Helper()
	browser := testenv.NewBrowser()
	resp := login(t, env, browser, authorizeURL(env, client, f.RequestURI), testenv.UserName, testenv.UserPassword)
	if resp.StatusCode == http.StatusSeeOther {
		// Consent was remembered from an earlier authorization.
		return callback(t, resp)
	}
	return callback(t, consent(t, env, browser, resp, "approve"))
}

// redeem exchanges a code at the token endpoint as client.
func redeem(t *testing.T, env *testenv.Env, client, code, verifier string) (*http.Response, tokenBody) {
	t.Helper()
	form := env.AssertionForm(t, client)
	form.Set("grant_type", "authorization_code")
	form.Set("code", code)
	form.Set("redirect_uri", testenv.RedirectURI)
	form.Set("code_verifier", verifier)
	var tb tokenBody
	resp := env.PostForm(t, nil, "/token", form, senderConstraint(t, env, client), &tb)
	return resp, tb
}

// senderConstraint returns the DPoP header a fapi2 client must send to
// the token endpoint (FAPI 2.0 SP §5.3.2.1-4: no Bearer tokens), nil for
// the others.
func senderConstraint(t *testing.T, env *testenv.Env, client string) http.Header {
	t.Helper()
	if client == testenv.FAPIClient || client == testenv.FAPIClient2 {
		return env.DPoPHeader(t, client, "/token")
	}
	return nil
}

func header(t *testing.T, jwt string) map[string]any {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(jwt, ".")[0])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(b, &m)
	return m
}

func introspect(t *testing.T, env *testenv.Env, client, tok string) map[string]any {
	t.Helper()
	form := env.AssertionForm(t, client)
	form.Set("token", tok)
	var out map[string]any
	resp := env.PostForm(t, nil, "/introspect", form, nil, &out)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("introspect: %d %v", resp.StatusCode, out)
	}
	return out
}

func wantError(t *testing.T, resp *http.Response, status int, codes ...string) {
	t.Helper()
	b, _ := io.ReadAll(resp.Body)
	var eb errorBody
	json.Unmarshal(b, &eb)
	if resp.StatusCode != status {
		t.Errorf("status = %d, want %d (body %s)", resp.StatusCode, status, b)
	}
	for _, c := range codes {
		if eb.Error == c {
			return
		}
	}
	t.Errorf("error = %q, want one of %v (body %s)", eb.Error, codes, b)
}
