package e2e_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/bulwarkauth/bulwark/internal/authserver"
	"github.com/bulwarkauth/bulwark/internal/testenv"
)

// raceClient is the dynamic public client of the cascade race tests;
// static clients cannot be deleted.
const raceClient = "race-app"

// createRaceClient creates raceClient through the admin API.
func createRaceClient(t *testing.T, env *testenv.Env) {
	t.Helper()
	wantStatus(t, call(t, env, http.MethodPost, "/admin/clients", bearerAdmin, map[string]any{
		"client_id": raceClient, "token_endpoint_auth_method": "none", "redirect_uris": []string{testenv.LoopbackURI},
		"grant_types": []string{"authorization_code", "refresh_token"}, "scopes": []string{"openid", "offline_access"},
	}, nil), http.StatusCreated)
}

// codeFor runs the code flow of raceClient as alice up to the callback
// (consent is remembered after the first time) and returns the code and
// its verifier.
func codeFor(t *testing.T, env *testenv.Env) (code, verifier string) {
	t.Helper()
	verifier, challenge := testenv.PKCE()
	q := url.Values{
		"client_id": {raceClient}, "response_type": {"code"}, "redirect_uri": {testenv.LoopbackURI},
		"scope": {"openid offline_access"}, "state": {"s"}, "code_challenge": {challenge}, "code_challenge_method": {"S256"},
	}
	browser := testenv.NewBrowser()
	resp := login(t, env, browser, env.URL+"/authorize?"+q.Encode(), testenv.UserName, testenv.UserPassword)
	if resp.StatusCode != http.StatusSeeOther {
		resp = consent(t, env, browser, resp, "approve")
	}
	return callback(t, resp).Get("code"), verifier
}

// tokenRaw posts form to the token endpoint without testing.T, for use
// off the test goroutine.
func tokenRaw(env *testenv.Env, form url.Values) (int, tokenBody, error) {
	resp, err := http.Post(env.URL+"/token", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
	if err != nil {
		return 0, tokenBody{}, err
	}
	defer resp.Body.Close()
	var tb tokenBody
	b, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(b, &tb); err != nil {
		return resp.StatusCode, tb, fmt.Errorf("token response %d: %s", resp.StatusCode, b)
	}
	return resp.StatusCode, tb, nil
}

// TestAdminCascadeRace runs refresh-token grants (each goroutine its own
// rotating chain) and code redemptions for one client while the admin API
// deletes the client or revokes the user's consent. Whatever the
// interleaving, once the cascade has answered no refresh token of the
// client works and none of its access tokens is active: a grant created
// or rotated concurrently is revoked with the others.
func TestAdminCascadeRace(t *testing.T) {
	const chains = 6
	for _, backend := range []struct {
		name string
		opts testenv.Options
	}{{"memory", testenv.Options{}}, {"sqlite", testenv.Options{SQLite: true}}} {
		for _, cascade := range []string{"delete_client", "revoke_consent"} {
			t.Run(backend.name+"/"+cascade, func(t *testing.T) {
				env := startAdminWith(t, backend.opts, "")
				createRaceClient(t, env)
				redeem := func(code, verifier string) url.Values {
					return url.Values{"grant_type": {"authorization_code"}, "client_id": {raceClient}, "code": {code},
						"redirect_uri": {testenv.LoopbackURI}, "code_verifier": {verifier}}
				}
				// The chains' first tokens, and codes left to redeem
				// during the cascade.
				var first []tokenBody
				for range chains {
					var tb tokenBody
					c, v := codeFor(t, env)
					if r := env.PostForm(t, nil, "/token", redeem(c, v), nil, &tb); r.StatusCode != http.StatusOK || tb.RefreshToken == "" {
						t.Fatalf("redeem: %d %+v", r.StatusCode, tb)
					}
					first = append(first, tb)
				}
				type pending struct{ code, verifier string }
				var waiting []pending
				// Codes issued before the cascade and redeemed during it:
				// their grants exist from issuance, so the cascade
				// revokes them too.
				for range 3 {
					c, v := codeFor(t, env)
					waiting = append(waiting, pending{c, v})
				}
				sub := testenv.Claims(t, first[0].AccessToken)["sub"].(string)

				var (
					mu        sync.Mutex
					issued    []tokenBody // every token answer, in any order
					problems  []string
					done      atomic.Bool // the cascade has answered
					started   sync.WaitGroup
					finished  sync.WaitGroup
					afterwork atomic.Int32 // requests sent after the cascade answered
				)
				fail := func(format string, args ...any) {
					mu.Lock()
					problems = append(problems, fmt.Sprintf(format, args...))
					mu.Unlock()
				}
				keep := func(tb tokenBody) {
					mu.Lock()
					issued = append(issued, tb)
					mu.Unlock()
				}
				started.Add(chains)
				for i := range chains {
					finished.Add(1)
					go func(rt string) {
						defer finished.Done()
						signalled := false
						// Refresh until refused; a chain still working
						// long after the cascade is a failure.
						for n := 0; n < 2000; n++ {
							after := done.Load()
							if after {
								afterwork.Add(1)
							}
							status, tb, err := tokenRaw(env, url.Values{"grant_type": {"refresh_token"}, "client_id": {raceClient}, "refresh_token": {rt}})
							if err != nil && status == 0 {
								fail("refresh: %v", err)
								break
							}
							if status != http.StatusOK {
								break
							}
							if after {
								fail("a refresh sent after the cascade answered succeeded")
							}
							keep(tb)
							rt = tb.RefreshToken
							if !signalled {
								signalled = true
								started.Done()
							}
						}
						if !signalled {
							started.Done()
						}
					}(first[i].RefreshToken)
				}
				for _, p := range waiting {
					finished.Add(1)
					go func(p pending) {
						defer finished.Done()
						started.Wait()
						after := done.Load()
						status, tb, err := tokenRaw(env, redeem(p.code, p.verifier))
						if err != nil && status == 0 {
							fail("redeem: %v", err)
							return
						}
						if status == http.StatusOK {
							if after {
								fail("a code redeemed after the cascade answered gave tokens")
							}
							keep(tb)
						}
					}(p)
				}
				// Every chain has rotated once: the cascade now races
				// their next refreshes and the code redemptions.
				started.Wait()
				if cascade == "delete_client" {
					wantStatus(t, call(t, env, http.MethodDelete, "/admin/clients/"+raceClient, bearerAdmin, nil, nil), http.StatusNoContent)
				} else {
					q := "subject=" + url.QueryEscape(sub) + "&client_id=" + raceClient
					wantStatus(t, call(t, env, http.MethodDelete, "/admin/consents?"+q, bearerAdmin, nil, nil), http.StatusNoContent)
				}
				done.Store(true)
				finished.Wait()
				for _, p := range problems {
					t.Error(p)
				}
				if afterwork.Load() == 0 {
					t.Log("no refresh was sent after the cascade answered")
				}

				// Afterwards: no refresh token works, no access token is
				// active, including those issued while it ran.
				all := append(first, issued...)
				t.Logf("%d token responses (%d during the race)", len(all), len(issued))
				for i, tb := range all {
					if r := refreshPublic(t, env, raceClient, tb.RefreshToken); r.StatusCode == http.StatusOK {
						t.Errorf("refresh token %d still works after the cascade", i)
					}
					if got := userinfo(t, env, tb.AccessToken); got != http.StatusUnauthorized {
						t.Errorf("access token %d: userinfo %d after the cascade", i, got)
					}
				}
				for _, p := range waiting {
					if r := env.PostForm(t, nil, "/token", redeem(p.code, p.verifier), nil, nil); r.StatusCode == http.StatusOK {
						t.Error("a code redeemed after the cascade gave tokens")
					}
				}
			})
		}
	}
}

// TestAdminRevokeConsentOutstandingCode: revoking a consent also voids
// the authorization codes issued under it and not yet redeemed. The grant
// is recorded with the code, so Grants.RevokeAll(client, subject) revokes
// it, and the token endpoint refuses the code.
func TestAdminRevokeConsentOutstandingCode(t *testing.T) {
	env := startAdmin(t, "")
	createRaceClient(t, env)
	code, verifier := codeFor(t, env)
	q := "subject=" + url.QueryEscape(authserver.SubjectFor(testenv.UserName)) + "&client_id=" + raceClient
	wantStatus(t, call(t, env, http.MethodDelete, "/admin/consents?"+q, bearerAdmin, nil, nil), http.StatusNoContent)
	var tb tokenBody
	r := env.PostForm(t, nil, "/token", url.Values{"grant_type": {"authorization_code"}, "client_id": {raceClient}, "code": {code},
		"redirect_uri": {testenv.LoopbackURI}, "code_verifier": {verifier}}, nil, &tb)
	if r.StatusCode == http.StatusOK {
		t.Errorf("a code issued before the consent was revoked gave tokens (userinfo %d)", userinfo(t, env, tb.AccessToken))
	}
}
