package e2e_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/bulwarkauth/bulwark/internal/admin"
	"github.com/bulwarkauth/bulwark/internal/authserver"
	"github.com/bulwarkauth/bulwark/internal/clients"
	"github.com/bulwarkauth/bulwark/internal/dpop"
	"github.com/bulwarkauth/bulwark/internal/jose"
	"github.com/bulwarkauth/bulwark/internal/oauth"
	"github.com/bulwarkauth/bulwark/internal/testenv"
)

// startFAPI2Registration starts open registration under the fapi2 profile.
func startFAPI2Registration(t *testing.T) *testenv.Env {
	t.Helper()
	return startAdmin(t, admin.RegistrationOpen, func(c *authserver.Config) { c.Admin.Registration.Profile = clients.ProfileFAPI2 })
}

// fapi2Metadata is registration metadata for a private_key_jwt client
// with key's public JWKS, applying mutate first.
func fapi2Metadata(t *testing.T, key *jose.PrivateKey, mutate func(map[string]any)) string {
	t.Helper()
	m := map[string]any{
		"client_name":                "FAPI agent",
		"token_endpoint_auth_method": oauth.AuthPrivateKeyJWT,
		"jwks":                       map[string]any{"keys": []any{key.Public()}},
		"redirect_uris":              []string{testenv.RedirectURI},
		"grant_types":                []string{oauth.GrantAuthorizationCode, oauth.GrantRefreshToken, oauth.GrantClientCredentials},
		"scope":                      "openid profile email api",
	}
	if mutate != nil {
		mutate(m)
	}
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRegisterFAPI2ClientFlows(t *testing.T) {
	env := startFAPI2Registration(t)
	key, err := jose.GenerateKey(jose.ES256)
	if err != nil {
		t.Fatal(err)
	}
	resp, reg := register(t, env, fapi2Metadata(t, key, nil), "")
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("register: %d %v", resp.StatusCode, reg)
	}
	if reg["client_secret"] != nil || reg["token_endpoint_auth_method"] != oauth.AuthPrivateKeyJWT {
		t.Fatalf("registration response: %v", reg)
	}
	id := reg["client_id"].(string)
	env.Keys[id] = key // the registrant signs its assertions with it
	var view admin.ClientView
	wantStatus(t, call(t, env, http.MethodGet, "/admin/clients/"+id, bearerAdmin, nil, &view), http.StatusOK)
	if view.ProfileName != clients.ProfileFAPI2 || !view.Dynamic {
		t.Errorf("admin view of the registered client: %+v", view)
	}

	// PAR + PKCE + login + consent, then the code for DPoP-bound tokens.
	f, resp, body := push(t, env, id, nil)
	if resp.StatusCode != http.StatusCreated || f.RequestURI == "" {
		t.Fatalf("PAR: %d %v", resp.StatusCode, body)
	}
	cb := authorize(t, env, id, f)
	if cb.Get("iss") != env.Issuer || cb.Get("state") != f.State || cb.Get("code") == "" {
		t.Fatalf("callback: %v", cb)
	}
	code := func(proof http.Header, verifier string) (*http.Response, tokenBody) {
		form := env.AssertionForm(t, id)
		form.Set("grant_type", oauth.GrantAuthorizationCode)
		form.Set("code", cb.Get("code"))
		form.Set("redirect_uri", testenv.RedirectURI)
		form.Set("code_verifier", verifier)
		var tb tokenBody
		return env.PostForm(t, nil, "/token", form, proof, &tb), tb
	}
	// FAPI 2.0 SP §5.3.2.1-4: no Bearer tokens, so no DPoP proof, no
	// token (refused before the code is consumed).
	if r, tb := code(nil, f.Verifier); r.StatusCode == http.StatusOK {
		t.Fatalf("fapi2 registered client got a token without a DPoP proof: %+v", tb)
	}
	r, tb := code(env.DPoPHeader(t, id, "/token"), f.Verifier)
	if r.StatusCode != http.StatusOK || tb.TokenType != "DPoP" || tb.IDToken == "" || tb.RefreshToken == "" {
		t.Fatalf("code redemption: %d %+v", r.StatusCode, tb)
	}
	jkt := env.DPoPKey(t, id).Public().Thumbprint()
	if cnf, _ := testenv.Claims(t, tb.AccessToken)["cnf"].(map[string]any); cnf["jkt"] != jkt {
		t.Errorf("access token cnf = %v, want jkt %s", cnf, jkt)
	}
	if testenv.Claims(t, tb.IDToken)["aud"] != id {
		t.Errorf("ID token aud = %v", testenv.Claims(t, tb.IDToken)["aud"])
	}
	// The bound token works at userinfo with a proof, not as Bearer.
	userinfoDPoP := func(auth string, withProof bool) int {
		req, _ := http.NewRequest(http.MethodGet, env.URL+"/userinfo", nil)
		req.Header.Set("Authorization", auth)
		if withProof {
			req.Header.Set(dpop.HeaderName, env.Proof(t, id, http.MethodGet, "/userinfo", tb.AccessToken, ""))
		}
		resp, err := env.HTTP.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := userinfoDPoP("DPoP "+tb.AccessToken, true); got != http.StatusOK {
		t.Errorf("userinfo with DPoP: %d", got)
	}
	if got := userinfoDPoP("Bearer "+tb.AccessToken, false); got != http.StatusUnauthorized {
		t.Errorf("userinfo with the bound token as Bearer: %d", got)
	}
	// Refresh with a proof of the same key.
	form := env.AssertionForm(t, id)
	form.Set("grant_type", oauth.GrantRefreshToken)
	form.Set("refresh_token", tb.RefreshToken)
	var rtb tokenBody
	if r := env.PostForm(t, nil, "/token", form, env.DPoPHeader(t, id, "/token"), &rtb); r.StatusCode != http.StatusOK || rtb.TokenType != "DPoP" {
		t.Errorf("refresh: %d %+v", r.StatusCode, rtb)
	}

	// Introspection answers the token's own client (it names no other
	// audience).
	if got := introspect(t, env, id, rtb.AccessToken); got["active"] != true {
		t.Errorf("refreshed access token: %v", got)
	}
	// A second use of the code fails and revokes its grant (RFC 6749
	// §4.1.2).
	if r, _ := code(env.DPoPHeader(t, id, "/token"), f.Verifier); r.StatusCode != http.StatusBadRequest {
		t.Errorf("code replay: %d", r.StatusCode)
	}
	if got := introspect(t, env, id, rtb.AccessToken); got["active"] != false {
		t.Errorf("token of a replayed code's grant: %v", got)
	}
	// PKCE: a second flow (consent remembered) with a wrong verifier.
	f2, resp, body := push(t, env, id, nil)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("second PAR: %d %v", resp.StatusCode, body)
	}
	cb = authorize(t, env, id, f2)
	if r, tb := code(env.DPoPHeader(t, id, "/token"), testenv.RandomString(32)); r.StatusCode != http.StatusBadRequest || tb.Error != oauth.ErrInvalidGrant {
		t.Errorf("wrong PKCE verifier: %d %+v", r.StatusCode, tb)
	}

	// client_credentials: DPoP-bound as well, refused without a proof.
	cc := func(proof http.Header) (*http.Response, tokenBody) {
		form := env.AssertionForm(t, id)
		form.Set("grant_type", oauth.GrantClientCredentials)
		form.Set("scope", "api")
		var tb tokenBody
		return env.PostForm(t, nil, "/token", form, proof, &tb), tb
	}
	if r, ctb := cc(env.DPoPHeader(t, id, "/token")); r.StatusCode != http.StatusOK || ctb.TokenType != "DPoP" || ctb.RefreshToken != "" {
		t.Errorf("client_credentials: %d %+v", r.StatusCode, ctb)
	} else if got := introspect(t, env, id, ctb.AccessToken); got["active"] != true || got["client_id"] != id {
		t.Errorf("introspection of the client_credentials token: %v", got)
	}
	if r, ctb := cc(nil); r.StatusCode == http.StatusOK {
		t.Errorf("client_credentials without DPoP: %+v", ctb)
	}
	// Another key's assertion does not authenticate the client.
	other, _ := jose.GenerateKey(jose.ES256)
	env.Keys[id] = other
	if r, _ := cc(env.DPoPHeader(t, id, "/token")); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("assertion by an unregistered key: %d", r.StatusCode)
	}
}

func TestRegisterFAPI2Refusals(t *testing.T) {
	env := startFAPI2Registration(t)
	key, err := jose.GenerateKey(jose.ES256)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		mutate func(map[string]any)
		code   string
	}{
		{"client_secret_basic", func(m map[string]any) {
			m["token_endpoint_auth_method"] = oauth.AuthClientSecretBasic
			delete(m, "jwks")
		}, "invalid_client_metadata"},
		{"client_secret_post", func(m map[string]any) { m["token_endpoint_auth_method"] = oauth.AuthClientSecretPost }, "invalid_client_metadata"},
		// RFC 7591 §2: an omitted method means client_secret_basic.
		{"method_omitted", func(m map[string]any) { delete(m, "token_endpoint_auth_method") }, "invalid_client_metadata"},
		{"public_client", func(m map[string]any) {
			m["token_endpoint_auth_method"] = oauth.AuthNone
			m["grant_types"] = []string{oauth.GrantAuthorizationCode}
			delete(m, "jwks")
		}, "invalid_client_metadata"},
		{"http_redirect", func(m map[string]any) { m["redirect_uris"] = []string{"http://app.example/cb"} }, "invalid_redirect_uri"},
		{"http_redirect_among_https", func(m map[string]any) {
			m["redirect_uris"] = []string{testenv.RedirectURI, "http://app.example/cb"}
		}, "invalid_redirect_uri"},
		// The registration policy asks https of every fapi2 redirect
		// URI, loopback included.
		{"http_loopback_redirect", func(m map[string]any) { m["redirect_uris"] = []string{"http://127.0.0.1:4000/cb"} }, "invalid_redirect_uri"},
		{"custom_scheme_redirect", func(m map[string]any) { m["redirect_uris"] = []string{"com.example.app:/cb"} }, "invalid_redirect_uri"},
		{"no_redirect_for_code", func(m map[string]any) { delete(m, "redirect_uris") }, "invalid_redirect_uri"},
		{"private_key_jwt_without_keys", func(m map[string]any) { delete(m, "jwks") }, "invalid_client_metadata"},
	} {
		t.Run("fail/"+tc.name, func(t *testing.T) {
			resp, out := register(t, env, fapi2Metadata(t, key, tc.mutate), "")
			wantError(t, resp, http.StatusBadRequest, tc.code)
			if out["client_id"] != nil {
				t.Errorf("a refused registration returned a client: %v", out)
			}
		})
	}
	// Nothing was stored by the refusals.
	var p admin.Page[admin.ClientView]
	wantStatus(t, call(t, env, http.MethodGet, "/admin/clients?limit=100", bearerAdmin, nil, &p), http.StatusOK)
	for _, c := range p.Items {
		if c.Dynamic {
			t.Errorf("refused registration left client %+v", c)
		}
	}
	// The same metadata with none of the faults registers.
	if resp, out := register(t, env, fapi2Metadata(t, key, nil), ""); resp.StatusCode != http.StatusCreated {
		t.Errorf("control registration: %d %v", resp.StatusCode, out)
	}
}
