package e2e_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/bulwarkauth/bulwark/internal/admin"
	"github.com/bulwarkauth/bulwark/internal/authserver"
	"github.com/bulwarkauth/bulwark/internal/dpop"
	"github.com/bulwarkauth/bulwark/internal/oauth"
	"github.com/bulwarkauth/bulwark/internal/testenv"
)

// withAdminScope lets FAPIClient (private_key_jwt, DPoP) ask for the
// admin scope, for DPoP-bound admin access tokens.
func withAdminScope(c *authserver.Config) {
	for i := range c.Clients {
		if c.Clients[i].Client.ID == testenv.FAPIClient {
			c.Clients[i].Client.Scopes = c.Clients[i].Client.Scopes.Union(oauth.NewScopes(admin.DefaultScope))
		}
	}
}

// dpopAdminToken is a client_credentials token of FAPIClient with the
// admin scope, bound to its DPoP key.
func dpopAdminToken(t *testing.T, env *testenv.Env) string {
	t.Helper()
	form := env.AssertionForm(t, testenv.FAPIClient)
	form.Set("grant_type", oauth.GrantClientCredentials)
	form.Set("scope", admin.DefaultScope)
	var tb tokenBody
	resp := env.PostForm(t, nil, "/token", form, env.DPoPHeader(t, testenv.FAPIClient, "/token"), &tb)
	if resp.StatusCode != http.StatusOK || tb.TokenType != "DPoP" {
		t.Fatalf("DPoP admin token: %d %+v", resp.StatusCode, tb)
	}
	return tb.AccessToken
}

// dpopCall calls GET base+path with a DPoP-bound token and a proof whose
// htu is htuBase+path.
func dpopCall(t *testing.T, env *testenv.Env, base, htuBase, path, at string) *http.Response {
	t.Helper()
	proof := env.ProofURL(t, testenv.FAPIClient, http.MethodGet, htuBase+path, at, "")
	return callAt(t, env, base, http.MethodGet, path, "DPoP "+at, http.Header{dpop.HeaderName: {proof}}, nil, nil)
}

func TestAdminListener(t *testing.T) {
	env := startAdminWith(t, testenv.Options{AdminListener: true}, admin.RegistrationOpen)
	if env.AdminURL == "" || env.AdminURL == env.URL {
		t.Fatalf("admin listener URL %q (main %q)", env.AdminURL, env.URL)
	}
	_, scoped := clientToken(t, env, adminClient, adminClientSecret, admin.DefaultScope)
	user, _ := publicLogin(t, env, testenv.PublicClient, testenv.LoopbackURI)
	paths := []string{"/admin/clients", "/admin/users", "/admin/audit", "/admin/keys", "/admin/sessions?subject=x"}

	t.Run("main_listener_has_no_admin_api", func(t *testing.T) {
		for _, p := range paths {
			for _, auth := range []string{bearerAdmin, "Bearer " + scoped.AccessToken} {
				wantStatus(t, callAt(t, env, env.URL, http.MethodGet, p, auth, nil, nil, nil), http.StatusNotFound)
			}
		}
		wantStatus(t, callAt(t, env, env.URL, http.MethodPost, "/admin/keys/rotate", bearerAdmin, nil, map[string]string{}, nil), http.StatusNotFound)
		wantStatus(t, callAt(t, env, env.URL, http.MethodDelete, "/admin/clients/"+adminClient, bearerAdmin, nil, nil, nil), http.StatusNotFound)
	})
	t.Run("admin_listener_serves_it", func(t *testing.T) {
		for _, p := range paths {
			wantStatus(t, callAt(t, env, env.AdminURL, http.MethodGet, p, bearerAdmin, nil, nil, nil), http.StatusOK)
			wantStatus(t, callAt(t, env, env.AdminURL, http.MethodGet, p, "Bearer "+scoped.AccessToken, nil, nil, nil), http.StatusOK)
			wantError(t, callAt(t, env, env.AdminURL, http.MethodGet, p, "", nil, nil, nil), http.StatusUnauthorized, oauth.ErrInvalidToken)
			wantError(t, callAt(t, env, env.AdminURL, http.MethodGet, p, "Bearer "+user.AccessToken, nil, nil, nil), http.StatusForbidden, oauth.ErrInsufficientScope)
		}
		// A write goes through and is audited like on the main listener.
		var created admin.ClientView
		wantStatus(t, callAt(t, env, env.AdminURL, http.MethodPost, "/admin/clients", bearerAdmin, nil, map[string]any{
			"client_id": "robot-admin-listener", "token_endpoint_auth_method": "client_secret_basic", "grant_types": []string{"client_credentials"}, "scopes": []string{"api"},
		}, &created), http.StatusCreated)
		if r, _ := clientToken(t, env, created.ID, created.Secret, ""); r.StatusCode != http.StatusOK {
			t.Errorf("client created on the admin listener cannot get a token: %d", r.StatusCode)
		}
		var log admin.Page[admin.AuditView]
		wantStatus(t, callAt(t, env, env.AdminURL, http.MethodGet, "/admin/audit?action=client.create", bearerAdmin, nil, nil, &log), http.StatusOK)
		if len(log.Items) != 1 {
			t.Errorf("client.create events: %+v", log.Items)
		}
	})
	t.Run("admin_listener_serves_only_the_admin_api", func(t *testing.T) {
		// Registration is for clients and stays on the main listener.
		resp, out := register(t, env, `{"grant_types":["client_credentials"],"scope":"api"}`, "")
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("register on the main listener: %d %v", resp.StatusCode, out)
		}
		wantStatus(t, callAt(t, env, env.AdminURL, http.MethodPost, "/register", "", nil, map[string]any{"grant_types": []string{"client_credentials"}}, nil), http.StatusNotFound)
		wantStatus(t, callAt(t, env, env.AdminURL, http.MethodGet, "/register/"+out["client_id"].(string), "Bearer "+out["registration_access_token"].(string), nil, nil, nil), http.StatusNotFound)
		for _, p := range []string{"/.well-known/openid-configuration", "/jwks", "/account", "/authorize"} {
			wantStatus(t, callAt(t, env, env.AdminURL, http.MethodGet, p, "", nil, nil, nil), http.StatusNotFound)
		}
		wantStatus(t, callAt(t, env, env.AdminURL, http.MethodPost, "/token", "", nil, nil, nil), http.StatusNotFound)
	})
}

// TestAdminListenerBasePath: an admin.base_url with a path moves the
// admin API under that path on the admin listener.
func TestAdminListenerBasePath(t *testing.T) {
	env := startAdminWith(t, testenv.Options{AdminListener: true}, "", withAdminScope, func(c *authserver.Config) {
		c.Admin.BaseURL += "/ops"
	})
	wantStatus(t, callAt(t, env, env.AdminURL, http.MethodGet, "/ops/admin/clients", bearerAdmin, nil, nil, nil), http.StatusOK)
	wantStatus(t, callAt(t, env, env.AdminURL, http.MethodGet, "/admin/clients", bearerAdmin, nil, nil, nil), http.StatusNotFound)
	at := dpopAdminToken(t, env)
	wantStatus(t, dpopCall(t, env, env.AdminURL, env.AdminURL, "/ops/admin/keys", at), http.StatusOK)
	wantError(t, dpopCall(t, env, env.AdminURL, env.Issuer, "/ops/admin/keys", at), http.StatusUnauthorized, oauth.ErrInvalidDPoPProof)
	// The htu is the request's URL: a proof that drops the base path
	// does not fit.
	proof := env.ProofURL(t, testenv.FAPIClient, http.MethodGet, env.AdminURL+"/admin/keys", at, "")
	wantError(t, callAt(t, env, env.AdminURL, http.MethodGet, "/ops/admin/keys", "DPoP "+at, http.Header{dpop.HeaderName: {proof}}, nil, nil),
		http.StatusUnauthorized, oauth.ErrInvalidDPoPProof)
}

func TestAdminDPoPHTU(t *testing.T) {
	// Somewhere the admin API is not: a proof naming it must fail.
	const elsewhere = "https://admin.elsewhere.example"
	for _, tc := range []struct {
		name string
		opts testenv.Options
		// mutate adjusts the configuration after testenv's.
		mutate func(*authserver.Config)
		// base is where the call goes; good and bad the htu origins of
		// an accepted and a refused proof.
		base, good, bad func(env *testenv.Env) string
	}{
		{
			name: "admin_listener_with_base_url", opts: testenv.Options{AdminListener: true},
			base: adminURLOf, good: adminURLOf, bad: issuerOf,
		},
		{
			// Without admin.base_url the issuer's origin stays the htu,
			// for a proxy that keeps the issuer's host.
			name: "admin_listener_default_htu", opts: testenv.Options{AdminListener: true},
			mutate: func(c *authserver.Config) { c.Admin.BaseURL = "" },
			base:   adminURLOf, good: issuerOf, bad: adminURLOf,
		},
		{
			name: "main_listener", base: issuerOf, good: issuerOf,
			bad: func(*testenv.Env) string { return elsewhere },
		},
		{
			// admin.base_url means nothing without admin.listen.
			name:   "main_listener_ignores_base_url",
			mutate: func(c *authserver.Config) { c.Admin.BaseURL = elsewhere },
			base:   issuerOf, good: issuerOf, bad: func(*testenv.Env) string { return elsewhere },
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mutate := []func(*authserver.Config){withAdminScope}
			if tc.mutate != nil {
				mutate = append(mutate, tc.mutate)
			}
			env := startAdminWith(t, tc.opts, "", mutate...)
			at := dpopAdminToken(t, env)
			base := tc.base(env)
			for _, p := range []string{"/admin/clients", "/admin/keys"} {
				wantStatus(t, dpopCall(t, env, base, tc.good(env), p, at), http.StatusOK)
				resp := dpopCall(t, env, base, tc.bad(env), p, at)
				wantError(t, resp, http.StatusUnauthorized, oauth.ErrInvalidDPoPProof)
				if !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "DPoP ") {
					t.Errorf("challenge %q", resp.Header.Get("WWW-Authenticate"))
				}
			}
			// The bound token is not a Bearer token anywhere.
			wantError(t, callAt(t, env, base, http.MethodGet, "/admin/clients", "Bearer "+at, nil, nil, nil), http.StatusUnauthorized, oauth.ErrInvalidToken)
			// A proof for another path of the right origin fails too.
			wantError(t, dpopCall(t, env, base, tc.good(env)+"/x", "/admin/clients", at), http.StatusUnauthorized, oauth.ErrInvalidDPoPProof)
			// A write with the bound token: its proof names POST.
			proof := env.ProofURL(t, testenv.FAPIClient, http.MethodPost, tc.good(env)+"/admin/users", at, "")
			wantStatus(t, callAt(t, env, base, http.MethodPost, "/admin/users", "DPoP "+at, http.Header{dpop.HeaderName: {proof}},
				map[string]any{"username": "dpop-" + url.PathEscape(tc.name), "password": "a-long-enough-password"}, nil), http.StatusCreated)
		})
	}
}

func adminURLOf(env *testenv.Env) string { return env.AdminURL }
func issuerOf(env *testenv.Env) string   { return env.Issuer }
