package e2e_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/bulwarkauth/bulwark/internal/admin"
	"github.com/bulwarkauth/bulwark/internal/authserver"
	"github.com/bulwarkauth/bulwark/internal/clients"
	"github.com/bulwarkauth/bulwark/internal/oauth"
	"github.com/bulwarkauth/bulwark/internal/testenv"
)

const (
	adminToken        = "admin-token-0123456789-abcdefghijklmnop"
	adminClient       = "admin-robot"
	adminClientSecret = "admin-robot-secret-0123456789"
)

// startAdmin starts a server with an admin token, a client that may get
// the admin scope, and registration in mode (empty: disabled).
func startAdmin(t *testing.T, mode string, mutate ...func(*authserver.Config)) *testenv.Env {
	t.Helper()
	return startAdminWith(t, testenv.Options{}, mode, mutate...)
}

// startAdminWith is startAdmin with further Start options (opts.Config
// is replaced; use mutate).
func startAdminWith(t *testing.T, opts testenv.Options, mode string, mutate ...func(*authserver.Config)) *testenv.Env {
	t.Helper()
	opts.Config = func(c *authserver.Config) {
		c.Admin.TokenHashes = append(c.Admin.TokenHashes, admin.HashToken(adminToken))
		c.Admin.Registration = admin.Registration{
			Mode: mode, Profile: clients.ProfileStandard, Scopes: oauth.NewScopes("openid", "profile", "email", "offline_access", "api"),
			ClientURI: c.Issuer + "/register",
		}
		c.Clients = append(c.Clients, authserver.StaticClient{Secret: adminClientSecret, Client: clients.Client{
			ID: adminClient, ProfileName: clients.ProfileStandard, AuthMethod: oauth.AuthClientSecretBasic,
			GrantTypes: []string{oauth.GrantClientCredentials}, Scopes: oauth.NewScopes(admin.DefaultScope, "api"),
		}})
		for _, m := range mutate {
			m(c)
		}
	}
	return testenv.Start(t, opts)
}

// call sends a JSON request with an Authorization header (none when auth
// is empty) and decodes the JSON answer into out.
func call(t *testing.T, env *testenv.Env, method, path, auth string, body, out any) *http.Response {
	t.Helper()
	return callAt(t, env, env.URL, method, path, auth, nil, body, out)
}

// callAt is call to base (such as env.AdminURL) with extra headers.
func callAt(t *testing.T, env *testenv.Env, base, method, path, auth string, hdr http.Header, body, out any) *http.Response {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := env.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if out != nil && len(b) > 0 && resp.StatusCode < 300 {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s %s: decode: %v: %s", method, path, err, b)
		}
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp
}

func wantStatus(t *testing.T, resp *http.Response, status int) {
	t.Helper()
	if resp.StatusCode != status {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("%s %s: status %d, want %d: %s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, status, b)
	}
}

const bearerAdmin = "Bearer " + adminToken

// clientToken gets a client_credentials token with client_secret_basic.
func clientToken(t *testing.T, env *testenv.Env, id, secret, scope string) (*http.Response, tokenBody) {
	t.Helper()
	form := url.Values{"grant_type": {"client_credentials"}}
	if scope != "" {
		form.Set("scope", scope)
	}
	req, _ := http.NewRequest(http.MethodPost, env.URL+"/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(url.QueryEscape(id), url.QueryEscape(secret))
	resp, err := env.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tb tokenBody
	b, _ := io.ReadAll(resp.Body)
	json.Unmarshal(b, &tb)
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp, tb
}

// publicLogin runs the standard public client's code flow as alice and
// returns its tokens and the browser (with its session).
func publicLogin(t *testing.T, env *testenv.Env, client, redirect string) (tokenBody, *http.Client) {
	t.Helper()
	verifier, challenge := testenv.PKCE()
	q := url.Values{
		"client_id": {client}, "response_type": {"code"}, "redirect_uri": {redirect},
		"scope": {"openid offline_access"}, "state": {"s1"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"},
	}
	browser := testenv.NewBrowser()
	page := login(t, env, browser, env.URL+"/authorize?"+q.Encode(), testenv.UserName, testenv.UserPassword)
	cb := callback(t, consent(t, env, browser, page, "approve"))
	form := url.Values{"grant_type": {"authorization_code"}, "client_id": {client}, "code": {cb.Get("code")},
		"redirect_uri": {redirect}, "code_verifier": {verifier}}
	var tb tokenBody
	if r := env.PostForm(t, nil, "/token", form, nil, &tb); r.StatusCode != http.StatusOK {
		t.Fatalf("token: %d %+v", r.StatusCode, tb)
	}
	return tb, browser
}

func refreshPublic(t *testing.T, env *testenv.Env, client, rt string) *http.Response {
	t.Helper()
	return env.PostForm(t, nil, "/token", url.Values{"grant_type": {"refresh_token"}, "client_id": {client}, "refresh_token": {rt}}, nil, nil)
}

func userinfo(t *testing.T, env *testenv.Env, at string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, env.URL+"/userinfo", nil)
	req.Header.Set("Authorization", "Bearer "+at)
	resp, err := env.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func TestAdminAuthorization(t *testing.T) {
	env := startAdmin(t, "")
	_, scoped := clientToken(t, env, adminClient, adminClientSecret, admin.DefaultScope)
	_, unscoped := clientToken(t, env, adminClient, adminClientSecret, "api")
	_, other := clientToken(t, env, testenv.SecretClient, testenv.ClientSecret, "")
	user, _ := publicLogin(t, env, testenv.PublicClient, testenv.LoopbackURI)
	for _, tc := range []struct {
		name, auth string
		status     int
		code       string
	}{
		{"fail/no_token", "", 401, oauth.ErrInvalidToken},
		{"fail/bad_admin_token", "Bearer not-the-admin-token-0123456789abcdef", 401, oauth.ErrInvalidToken},
		{"fail/basic_scheme", "Basic " + adminToken, 401, oauth.ErrInvalidToken},
		{"fail/token_without_admin_scope", "Bearer " + unscoped.AccessToken, 403, oauth.ErrInsufficientScope},
		{"fail/other_client_token", "Bearer " + other.AccessToken, 403, oauth.ErrInsufficientScope},
		{"fail/user_token", "Bearer " + user.AccessToken, 403, oauth.ErrInsufficientScope},
		{"fail/refresh_token_as_access", "Bearer " + user.RefreshToken, 401, oauth.ErrInvalidToken},
		{"ok/admin_token", bearerAdmin, 200, ""},
		{"ok/admin_scope_token", "Bearer " + scoped.AccessToken, 200, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, path := range []string{"/admin/clients", "/admin/users", "/admin/audit", "/admin/keys"} {
				resp := call(t, env, http.MethodGet, path, tc.auth, nil, nil)
				if tc.code == "" {
					wantStatus(t, resp, tc.status)
					continue
				}
				wantError(t, resp, tc.status, tc.code)
				if tc.status == 401 && resp.Header.Get("WWW-Authenticate") == "" {
					t.Errorf("%s: 401 without WWW-Authenticate", path)
				}
			}
		})
	}
	// Write routes refuse the same way.
	wantError(t, call(t, env, http.MethodDelete, "/admin/clients/"+testenv.PublicClient, "Bearer "+user.AccessToken, nil, nil), 403, oauth.ErrInsufficientScope)
	wantError(t, call(t, env, http.MethodPost, "/admin/keys/rotate", "", nil, nil), 401, oauth.ErrInvalidToken)
	// Refusals are audited.
	var log admin.Page[admin.AuditView]
	wantStatus(t, call(t, env, http.MethodGet, "/admin/audit?action=admin.auth_failed", bearerAdmin, nil, &log), 200)
	if len(log.Items) == 0 {
		t.Error("no admin.auth_failed events")
	}
}

func TestAdminClients(t *testing.T) {
	env := startAdmin(t, "")
	// Create: the secret comes back once.
	var created admin.ClientView
	body := map[string]any{
		"client_id": "robot-1", "client_name": "Robot", "profile": "standard", "token_endpoint_auth_method": "client_secret_basic",
		"grant_types": []string{"client_credentials"}, "scopes": []string{"api"}, "access_token_audience": []string{testenv.ResourceClient},
	}
	wantStatus(t, call(t, env, http.MethodPost, "/admin/clients", bearerAdmin, body, &created), 201)
	if created.Secret == "" || created.Static || created.ID != "robot-1" {
		t.Fatalf("created = %+v", created)
	}
	wantError(t, call(t, env, http.MethodPost, "/admin/clients", bearerAdmin, body, nil), 409, "conflict")
	resp, tb := clientToken(t, env, "robot-1", created.Secret, "")
	wantStatus(t, resp, 200)
	if got := introspect(t, env, testenv.ResourceClient, tb.AccessToken); got["active"] != true {
		t.Fatalf("token of the new client: %v", got)
	}

	// Get never shows the secret; the list pages.
	var got admin.ClientView
	wantStatus(t, call(t, env, http.MethodGet, "/admin/clients/robot-1", bearerAdmin, nil, &got), 200)
	if got.Secret != "" || got.Name != "Robot" {
		t.Errorf("get = %+v", got)
	}
	seen := map[string]bool{}
	next, pages := "", 0
	for {
		var p admin.Page[admin.ClientView]
		wantStatus(t, call(t, env, http.MethodGet, "/admin/clients?limit=3&after="+url.QueryEscape(next), bearerAdmin, nil, &p), 200)
		pages++
		for _, c := range p.Items {
			if seen[c.ID] {
				t.Fatalf("client %s on two pages", c.ID)
			}
			seen[c.ID] = true
			if c.ID == testenv.PublicClient && !c.Static {
				t.Error("configured client not marked static")
			}
		}
		if p.Next == "" {
			break
		}
		next = p.Next
	}
	if !seen["robot-1"] || !seen[testenv.PublicClient] || pages < 2 {
		t.Errorf("listing saw %d clients in %d pages", len(seen), pages)
	}
	wantError(t, call(t, env, http.MethodGet, "/admin/clients?limit=0", bearerAdmin, nil, nil), 400, oauth.ErrInvalidRequest)

	// Validation: the profile rules of static configuration.
	for name, bad := range map[string]map[string]any{
		"fapi2_secret":  {"client_id": "bad-1", "profile": "fapi2", "token_endpoint_auth_method": "client_secret_basic", "grant_types": []string{"client_credentials"}},
		"fapi2_public":  {"client_id": "bad-2", "profile": "fapi2", "token_endpoint_auth_method": "none", "redirect_uris": []string{"https://x.example/cb"}},
		"public_cc":     {"client_id": "bad-3", "token_endpoint_auth_method": "none", "grant_types": []string{"client_credentials"}},
		"no_redirect":   {"client_id": "bad-4", "token_endpoint_auth_method": "none"},
		"pkjwt_no_keys": {"client_id": "bad-5", "token_endpoint_auth_method": "private_key_jwt", "grant_types": []string{"client_credentials"}},
	} {
		t.Run("fail/"+name, func(t *testing.T) {
			wantError(t, call(t, env, http.MethodPost, "/admin/clients", bearerAdmin, bad, nil), 400, "invalid_client_metadata", "invalid_redirect_uri")
		})
	}
	wantError(t, call(t, env, http.MethodPost, "/admin/clients", bearerAdmin, "not an object", nil), 400, oauth.ErrInvalidRequest)

	// Update keeps the secret; static clients are read-only.
	body["client_name"] = "Robot Two"
	var upd admin.ClientView
	wantStatus(t, call(t, env, http.MethodPut, "/admin/clients/robot-1", bearerAdmin, body, &upd), 200)
	if upd.Name != "Robot Two" || upd.Secret != "" {
		t.Errorf("update = %+v", upd)
	}
	wantStatus(t, func() *http.Response { r, _ := clientToken(t, env, "robot-1", created.Secret, ""); return r }(), 200)
	wantError(t, call(t, env, http.MethodPut, "/admin/clients/"+testenv.PublicClient, bearerAdmin, map[string]any{"token_endpoint_auth_method": "none"}, nil), 409, "read_only")
	wantError(t, call(t, env, http.MethodDelete, "/admin/clients/"+testenv.PublicClient, bearerAdmin, nil, nil), 409, "read_only")
	wantError(t, call(t, env, http.MethodGet, "/admin/clients/nobody", bearerAdmin, nil, nil), 404, "not_found")

	// Rotate: the old secret stops, the new one works.
	var rot admin.ClientView
	wantStatus(t, call(t, env, http.MethodPost, "/admin/clients/robot-1/secret", bearerAdmin, nil, &rot), 200)
	if rot.Secret == "" || rot.Secret == created.Secret {
		t.Fatalf("rotate = %+v", rot)
	}
	if r, _ := clientToken(t, env, "robot-1", rot.Secret, ""); r.StatusCode != 200 {
		t.Errorf("new secret: %d", r.StatusCode)
	}
	if r, _ := clientToken(t, env, "robot-1", created.Secret, ""); r.StatusCode != 401 {
		t.Errorf("old secret after rotation: %d", r.StatusCode)
	}

	// Delete: the client's tokens stop introspecting as active.
	wantStatus(t, call(t, env, http.MethodDelete, "/admin/clients/robot-1", bearerAdmin, nil, nil), 204)
	if got := introspect(t, env, testenv.ResourceClient, tb.AccessToken); got["active"] != false {
		t.Errorf("token of a deleted client: %v", got)
	}
	wantError(t, call(t, env, http.MethodGet, "/admin/clients/robot-1", bearerAdmin, nil, nil), 404, "not_found")
	// Its ID cannot come back while its tokens live: a new robot-1 would
	// make them active again (they belong to no grant).
	wantError(t, call(t, env, http.MethodPost, "/admin/clients", bearerAdmin, body, nil), 409, "conflict")
	if got := introspect(t, env, testenv.ResourceClient, tb.AccessToken); got["active"] != false {
		t.Errorf("token of a deleted client after a refused re-creation: %v", got)
	}

	// The audit log has each action and no secret.
	resp = call(t, env, http.MethodGet, "/admin/audit?limit=100", bearerAdmin, nil, nil)
	wantStatus(t, resp, 200)
	b, _ := io.ReadAll(resp.Body)
	for _, action := range []string{"client.create", "client.update", "client.rotate_secret", "client.delete", "client.auth_failed"} {
		if !strings.Contains(string(b), `"`+action+`"`) {
			t.Errorf("audit log has no %s", action)
		}
	}
	if strings.Contains(string(b), created.Secret) || strings.Contains(string(b), rot.Secret) || strings.Contains(string(b), adminToken) {
		t.Error("audit log contains a secret")
	}
}

func TestAdminConsentsUsersSessions(t *testing.T) {
	env := startAdmin(t, "")
	tb, browser := publicLogin(t, env, testenv.PublicClient, testenv.LoopbackURI)
	sub := testenv.Claims(t, tb.AccessToken)["sub"].(string)

	var cs admin.Page[admin.ConsentView]
	wantStatus(t, call(t, env, http.MethodGet, "/admin/consents?subject="+url.QueryEscape(sub), bearerAdmin, nil, &cs), 200)
	if len(cs.Items) != 1 || cs.Items[0].ClientID != testenv.PublicClient {
		t.Fatalf("consents of alice: %+v", cs)
	}
	wantStatus(t, call(t, env, http.MethodGet, "/admin/consents?client_id="+testenv.PublicClient, bearerAdmin, nil, &cs), 200)
	if len(cs.Items) != 1 || cs.Items[0].Subject != sub {
		t.Fatalf("consents of the client: %+v", cs)
	}
	wantError(t, call(t, env, http.MethodGet, "/admin/consents", bearerAdmin, nil, nil), 400, oauth.ErrInvalidRequest)
	if userinfo(t, env, tb.AccessToken) != 200 {
		t.Fatal("userinfo before revocation")
	}

	// Revoking the consent revokes the grant's tokens.
	q := "subject=" + url.QueryEscape(sub) + "&client_id=" + testenv.PublicClient
	wantStatus(t, call(t, env, http.MethodDelete, "/admin/consents?"+q, bearerAdmin, nil, nil), 204)
	wantError(t, refreshPublic(t, env, testenv.PublicClient, tb.RefreshToken), 400, oauth.ErrInvalidGrant)
	if got := userinfo(t, env, tb.AccessToken); got != 401 {
		t.Errorf("userinfo after consent revocation: %d", got)
	}
	wantError(t, call(t, env, http.MethodDelete, "/admin/consents?"+q, bearerAdmin, nil, nil), 404, "not_found")

	// Sessions: alice's browser has one; ending it signs her out.
	var ss admin.Page[admin.SessionView]
	wantStatus(t, call(t, env, http.MethodGet, "/admin/sessions?subject="+url.QueryEscape(sub), bearerAdmin, nil, &ss), 200)
	if len(ss.Items) != 1 {
		t.Fatalf("sessions: %+v", ss)
	}
	wantStatus(t, call(t, env, http.MethodDelete, "/admin/sessions/"+ss.Items[0].ID, bearerAdmin, nil, nil), 204)
	if page := get(t, browser, env.URL+"/account"); !strings.Contains(readAll(page), `action="/account/login"`) {
		t.Error("ended session still signed in")
	}

	// Users: create, log in, disable (login fails, sessions end), enable,
	// reset the password.
	var u admin.UserView
	wantStatus(t, call(t, env, http.MethodPost, "/admin/users", bearerAdmin, map[string]any{"username": "carol", "password": "carol-password-1", "claims": map[string]any{"email": "c@example.com"}}, &u), 201)
	wantError(t, call(t, env, http.MethodPost, "/admin/users", bearerAdmin, map[string]any{"username": "dave", "password": "short"}, nil), 400, oauth.ErrInvalidRequest)
	wantError(t, call(t, env, http.MethodPost, "/admin/users", bearerAdmin, map[string]any{"username": "carol", "password": "carol-password-1"}, nil), 409, "conflict")
	carol := accountLogin(t, env, "carol", "carol-password-1")
	if carol == nil {
		t.Fatal("carol cannot log in")
	}
	wantStatus(t, call(t, env, http.MethodPost, "/admin/users/"+u.Subject+"/disable", bearerAdmin, nil, &u), 200)
	if !u.Disabled {
		t.Error("not disabled")
	}
	if page := get(t, carol, env.URL+"/account"); !strings.Contains(readAll(page), `action="/account/login"`) {
		t.Error("disabled user's session still works")
	}
	if accountLogin(t, env, "carol", "carol-password-1") != nil {
		t.Error("disabled user logged in")
	}
	wantStatus(t, call(t, env, http.MethodPost, "/admin/users/"+u.Subject+"/enable", bearerAdmin, nil, nil), 200)
	wantStatus(t, call(t, env, http.MethodPost, "/admin/users/"+u.Subject+"/password", bearerAdmin, map[string]any{"password": "carol-new-password"}, nil), 204)
	if accountLogin(t, env, "carol", "carol-password-1") != nil || accountLogin(t, env, "carol", "carol-new-password") == nil {
		t.Error("password reset did not take")
	}
	var us admin.Page[admin.UserView]
	wantStatus(t, call(t, env, http.MethodGet, "/admin/users?limit=1", bearerAdmin, nil, &us), 200)
	if len(us.Items) != 1 || us.Next == "" {
		t.Errorf("users page: %+v", us)
	}
	wantError(t, call(t, env, http.MethodGet, "/admin/users/nobody", bearerAdmin, nil, nil), 404, "not_found")

	// Keys: rotation adds one key per algorithm.
	var before, after admin.Page[admin.KeyView]
	wantStatus(t, call(t, env, http.MethodGet, "/admin/keys", bearerAdmin, nil, &before), 200)
	var rot admin.Rotation
	wantStatus(t, call(t, env, http.MethodPost, "/admin/keys/rotate", bearerAdmin, map[string]string{"publish_ahead": "1m", "retire_after": "1h"}, &rot), 200)
	wantStatus(t, call(t, env, http.MethodGet, "/admin/keys", bearerAdmin, nil, &after), 200)
	if len(rot.Added) == 0 || len(after.Items) != len(before.Items)+len(rot.Added) {
		t.Errorf("rotation: %d keys before, %d added, %d after", len(before.Items), len(rot.Added), len(after.Items))
	}
	wantError(t, call(t, env, http.MethodPost, "/admin/keys/rotate", bearerAdmin, map[string]string{"publish_ahead": "soon"}, nil), 400, oauth.ErrInvalidRequest)
	b, _ := json.Marshal(after)
	if strings.Contains(string(b), `"d"`) {
		t.Error("key listing shows private key material")
	}
}

func readAll(r *http.Response) string {
	b, _ := io.ReadAll(r.Body)
	r.Body.Close()
	return string(b)
}

// accountLogin signs in at the account page and returns the browser, or
// nil when the login was refused.
func accountLogin(t *testing.T, env *testenv.Env, username, password string) *http.Client {
	t.Helper()
	browser := testenv.NewBrowser()
	page := get(t, browser, env.URL+"/account")
	csrf := csrfOf(t, readAll(page))
	resp := env.PostForm(t, browser, "/account/login", url.Values{"csrf_token": {csrf}, "username": {username}, "password": {password}}, nil, nil)
	if resp.StatusCode != http.StatusSeeOther {
		return nil
	}
	return browser
}

func csrfOf(t *testing.T, page string) string {
	t.Helper()
	for _, m := range hiddenInput.FindAllStringSubmatch(page, -1) {
		if m[1] == "csrf_token" {
			return htmlUnescape(m[2])
		}
	}
	t.Fatalf("no csrf_token in page:\n%s", page)
	return ""
}

func TestAccountSelfServiceJSON(t *testing.T) {
	env := startAdmin(t, "")
	tb, browser := publicLogin(t, env, testenv.PublicClient, testenv.LoopbackURI)
	var apps struct {
		Applications []oauth.Application `json:"applications"`
		CSRF         string              `json:"csrf_token"`
	}
	resp := get(t, browser, env.URL+"/account/applications")
	json.NewDecoder(resp.Body).Decode(&apps)
	resp.Body.Close()
	if len(apps.Applications) != 1 || apps.Applications[0].ClientID != testenv.PublicClient || apps.CSRF == "" {
		t.Fatalf("applications: %+v", apps)
	}
	del := func(csrf string, c *http.Client) *http.Response {
		req, _ := http.NewRequest(http.MethodDelete, env.URL+"/account/applications?client_id="+testenv.PublicClient, nil)
		if csrf != "" {
			req.Header.Set("X-CSRF-Token", csrf)
		}
		r, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	wantError(t, del("", browser), 403, oauth.ErrInvalidRequest)
	wantError(t, del("wrong", browser), 403, oauth.ErrInvalidRequest)
	if r := get(t, testenv.NewBrowser(), env.URL+"/account/applications"); r.StatusCode != 401 {
		t.Errorf("without a session: %d", r.StatusCode)
	}
	if r := del(apps.CSRF, browser); r.StatusCode != 204 {
		t.Fatalf("delete: %d", r.StatusCode)
	}
	wantError(t, refreshPublic(t, env, testenv.PublicClient, tb.RefreshToken), 400, oauth.ErrInvalidGrant)
	resp = get(t, browser, env.URL+"/account/applications")
	json.NewDecoder(resp.Body).Decode(&apps)
	resp.Body.Close()
	if len(apps.Applications) != 0 {
		t.Errorf("after revocation: %+v", apps.Applications)
	}
}
