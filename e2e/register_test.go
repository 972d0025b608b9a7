package e2e_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"io"
	"net/http"
	"testing"

	"github.com/bulwarkauth/bulwark/internal/admin"
	"github.com/bulwarkauth/bulwark/internal/authserver"
	"github.com/bulwarkauth/bulwark/internal/oauth"
	"github.com/bulwarkauth/bulwark/internal/testenv"
)

// register posts raw metadata to /register with an optional initial
// access token.
func register(t *testing.T, env *testenv.Env, body, token string) (*http.Response, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, env.URL+"/register", bytes.NewReader([]byte(body)))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := env.HTTP.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var out map[string]any
	json.Unmarshal(b, &out)
	resp.Body = io.NopCloser(bytes.NewReader(b))
	return resp, out
}

func TestRegistrationErrors(t *testing.T) {
	env := startAdmin(t, admin.RegistrationOpen)
	for _, tc := range []struct{ name, body, code string }{
		{"not_json", `{"redirect_uris": [`, "invalid_client_metadata"},
		{"not_object", `["x"]`, "invalid_client_metadata"},
		{"wrong_type", `{"redirect_uris": "https://a.example/cb"}`, "invalid_client_metadata"},
		{"http_redirect", `{"redirect_uris": ["http://app.example/cb"], "token_endpoint_auth_method": "none"}`, "invalid_redirect_uri"},
		{"fragment_redirect", `{"redirect_uris": ["https://app.example/cb#x"], "token_endpoint_auth_method": "none"}`, "invalid_redirect_uri"},
		{"no_redirect", `{"token_endpoint_auth_method": "none"}`, "invalid_redirect_uri"},
		{"public_client_credentials", `{"grant_types": ["client_credentials"], "token_endpoint_auth_method": "none"}`, "invalid_client_metadata"},
		{"implicit", `{"redirect_uris": ["https://app.example/cb"], "response_types": ["token"]}`, "invalid_client_metadata"},
		{"password_grant", `{"grant_types": ["password"]}`, "invalid_client_metadata"},
		{"admin_scope", `{"grant_types": ["client_credentials"], "scope": "bulwark:admin"}`, "invalid_client_metadata"},
		{"mtls_under_standard", `{"grant_types": ["client_credentials"], "token_endpoint_auth_method": "tls_client_auth", "tls_client_auth_san_dns": "a.example"}`, "invalid_client_metadata"},
		{"pkjwt_without_keys", `{"grant_types": ["client_credentials"], "token_endpoint_auth_method": "private_key_jwt"}`, "invalid_client_metadata"},
		{"software_statement", `{"software_statement": "eyJ.x.y"}`, "invalid_software_statement"},
	} {
		t.Run("fail/"+tc.name, func(t *testing.T) {
			resp, _ := register(t, env, tc.body, "")
			wantError(t, resp, 400, tc.code)
		})
	}
}

func TestRegistrationModes(t *testing.T) {
	t.Run("disabled", func(t *testing.T) {
		env := startAdmin(t, admin.RegistrationDisabled)
		if resp, _ := register(t, env, `{"grant_types":["client_credentials"]}`, ""); resp.StatusCode != 404 && resp.StatusCode != 405 {
			t.Errorf("disabled registration: %d", resp.StatusCode)
		}
		var md map[string]any
		resp := get(t, env.HTTP, env.URL+"/.well-known/openid-configuration")
		json.NewDecoder(resp.Body).Decode(&md)
		if _, ok := md["registration_endpoint"]; ok {
			t.Error("registration_endpoint advertised while disabled")
		}
	})
	t.Run("initial_access_token", func(t *testing.T) {
		const initial = "initial-access-token-0123456789abcdef"
		env := startAdmin(t, admin.RegistrationInitialToken, func(c *authserver.Config) {
			c.Admin.Registration.InitialTokenHashes = [][32]byte{sha256.Sum256([]byte(initial))}
		})
		body := `{"grant_types":["client_credentials"]}`
		resp, _ := register(t, env, body, "")
		wantError(t, resp, 401, oauth.ErrInvalidToken)
		resp, _ = register(t, env, body, "wrong-token")
		wantError(t, resp, 401, oauth.ErrInvalidToken)
		if resp, out := register(t, env, body, initial); resp.StatusCode != 201 {
			t.Errorf("with the initial token: %d %v", resp.StatusCode, out)
		}
		var md map[string]any
		resp = get(t, env.HTTP, env.URL+"/.well-known/openid-configuration")
		json.NewDecoder(resp.Body).Decode(&md)
		if md["registration_endpoint"] != env.Issuer+"/register" {
			t.Errorf("registration_endpoint = %v", md["registration_endpoint"])
		}
	})
}

func TestRegisteredClientFlows(t *testing.T) {
	env := startAdmin(t, admin.RegistrationOpen)

	// A confidential client registers and gets a token for itself.
	resp, conf := register(t, env, `{"client_name":"Agent","grant_types":["client_credentials"],"scope":"api"}`, "")
	if resp.StatusCode != 201 || conf["client_secret"] == nil || conf["registration_access_token"] == nil {
		t.Fatalf("register: %d %v", resp.StatusCode, conf)
	}
	if conf["token_endpoint_auth_method"] != "client_secret_basic" || conf["client_secret_expires_at"] != float64(0) {
		t.Errorf("registration response: %v", conf)
	}
	id, sec, rat := conf["client_id"].(string), conf["client_secret"].(string), conf["registration_access_token"].(string)
	r, tb := clientToken(t, env, id, sec, "")
	wantStatus(t, r, 200)
	if testenv.Claims(t, tb.AccessToken)["client_id"] != id {
		t.Error("token not issued to the registered client")
	}

	// A public client registers and completes the code flow with PKCE.
	resp, pub := register(t, env, `{"client_name":"CLI","token_endpoint_auth_method":"none","redirect_uris":["http://127.0.0.1:40123/cb"],"grant_types":["authorization_code","refresh_token"],"scope":"openid offline_access"}`, "")
	if resp.StatusCode != 201 || pub["client_secret"] != nil {
		t.Fatalf("register public: %d %v", resp.StatusCode, pub)
	}
	ptb, _ := publicLogin(t, env, pub["client_id"].(string), "http://127.0.0.1:40123/cb")
	if ptb.AccessToken == "" || ptb.RefreshToken == "" {
		t.Fatalf("code flow: %+v", ptb)
	}

	// RFC 7592: read, update and delete with the registration access
	// token; without it, or with another client's, 401.
	cfgURL := conf["registration_client_uri"].(string)
	if cfgURL != env.Issuer+"/register/"+id {
		t.Errorf("registration_client_uri = %s", cfgURL)
	}
	path := "/register/" + id
	for name, auth := range map[string]string{
		"none": "", "wrong": "Bearer not-the-token", "other_client": "Bearer " + pub["registration_access_token"].(string), "admin": bearerAdmin,
	} {
		t.Run("fail/"+name, func(t *testing.T) {
			wantError(t, call(t, env, http.MethodGet, path, auth, nil, nil), 401, oauth.ErrInvalidToken)
			wantError(t, call(t, env, http.MethodPut, path, auth, map[string]any{"client_id": id}, nil), 401, oauth.ErrInvalidToken)
			wantError(t, call(t, env, http.MethodDelete, path, auth, nil, nil), 401, oauth.ErrInvalidToken)
		})
	}
	wantError(t, call(t, env, http.MethodGet, "/register/nobody", "Bearer "+rat, nil, nil), 401, oauth.ErrInvalidToken)
	var read map[string]any
	wantStatus(t, call(t, env, http.MethodGet, path, "Bearer "+rat, nil, &read), 200)
	if read["client_name"] != "Agent" || read["client_secret"] != nil || read["registration_access_token"] != nil {
		t.Errorf("read: %v", read)
	}
	var upd map[string]any
	wantStatus(t, call(t, env, http.MethodPut, path, "Bearer "+rat, map[string]any{
		"client_id": id, "client_name": "Agent 2", "grant_types": []string{"client_credentials"}, "scope": "api",
	}, &upd), 200)
	if upd["client_name"] != "Agent 2" {
		t.Errorf("update: %v", upd)
	}
	wantError(t, call(t, env, http.MethodPut, path, "Bearer "+rat, map[string]any{"client_id": "someone-else", "grant_types": []string{"client_credentials"}}, nil), 400, "invalid_client_metadata")
	wantError(t, call(t, env, http.MethodPut, path, "Bearer "+rat, map[string]any{"client_id": id, "client_secret": "not-it", "grant_types": []string{"client_credentials"}}, nil), 400, "invalid_client_metadata")
	if r, _ := clientToken(t, env, id, sec, ""); r.StatusCode != 200 {
		t.Errorf("secret after update: %d", r.StatusCode)
	}
	// The admin API shows it as dynamic and may manage it.
	var v admin.ClientView
	wantStatus(t, call(t, env, http.MethodGet, "/admin/clients/"+id, bearerAdmin, nil, &v), 200)
	if !v.Dynamic || v.Static {
		t.Errorf("admin view: %+v", v)
	}
	wantStatus(t, call(t, env, http.MethodDelete, path, "Bearer "+rat, nil, nil), 204)
	wantError(t, call(t, env, http.MethodGet, path, "Bearer "+rat, nil, nil), 401, oauth.ErrInvalidToken)
	if r, _ := clientToken(t, env, id, sec, ""); r.StatusCode != 401 {
		t.Errorf("deleted client still authenticates: %d", r.StatusCode)
	}
}
