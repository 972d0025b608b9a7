package e2e_test

import (
	"net/http"
	"net/url"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/bulwarkauth/bulwark/internal/oauth"
	"github.com/bulwarkauth/bulwark/internal/testenv"
)

const racers = 20

// race runs fn in racers goroutines released at once and counts successes.
func race(fn func() bool) int {
	var wg sync.WaitGroup
	var ok atomic.Int32
	start := make(chan struct{})
	for i := 0; i < racers; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			if fn() {
				ok.Add(1)
			}
		}()
	}
	close(start)
	wg.Wait()
	return int(ok.Load())
}

// TestConcurrentSingleUse: 20 parallel redemptions of one code, one
// request_uri, and one client assertion jti each succeed exactly once, on
// both the embedded SQLite store and the memory store.
func TestConcurrentSingleUse(t *testing.T) {
	for _, sqlite := range []bool{true, false} {
		name := "memory"
		if sqlite {
			name = "sqlite"
		}
		t.Run(name, func(t *testing.T) {
			env := testenv.Start(t, testenv.Options{SQLite: sqlite})

			t.Run("code", func(t *testing.T) {
				f, _, _ := push(t, env, testenv.FAPIClient, nil)
				code := authorize(t, env, testenv.FAPIClient, f).Get("code")
				// Each racer has its own assertion and DPoP proof, so only
				// the code is shared.
				type attempt struct {
					form url.Values
					h    http.Header
				}
				attempts := make(chan attempt, racers)
				for i := 0; i < racers; i++ {
					form := env.AssertionForm(t, testenv.FAPIClient)
					form.Set("grant_type", "authorization_code")
					form.Set("code", code)
					form.Set("code_verifier", f.Verifier)
					attempts <- attempt{form, env.DPoPHeader(t, testenv.FAPIClient, "/token")}
				}
				n := race(func() bool {
					a := <-attempts
					return env.PostForm(t, &http.Client{}, "/token", a.form, a.h, nil).StatusCode == http.StatusOK
				})
				if n != 1 {
					t.Errorf("%d redemptions of one code succeeded, want 1", n)
				}
			})

			t.Run("request_uri", func(t *testing.T) {
				f, _, _ := push(t, env, testenv.FAPIClient2, nil)
				// Every racer logs in in its own browser and holds a consent
				// page for the same request_uri; they all approve at once.
				type pending struct {
					browser *http.Client
					form    url.Values
				}
				ready := make(chan pending, racers)
				for i := 0; i < racers; i++ {
					b := testenv.NewBrowser()
					page := login(t, env, b, authorizeURL(env, testenv.FAPIClient2, f.RequestURI), testenv.UserName, testenv.UserPassword)
					csrf, handle := formFields(t, page)
					ready <- pending{b, url.Values{"csrf_token": {csrf}, "handle": {handle}, "decision": {"approve"}}}
				}
				n := race(func() bool {
					p := <-ready
					r := env.PostForm(t, p.browser, "/consent", p.form, nil, nil)
					if r.StatusCode != http.StatusSeeOther {
						return false
					}
					loc, _ := url.Parse(r.Header.Get("Location"))
					return loc.Query().Get("code") != ""
				})
				if n != 1 {
					t.Errorf("%d codes issued for one request_uri, want 1", n)
				}
			})

			t.Run("assertion_jti", func(t *testing.T) {
				a := env.Assertion(t, testenv.FAPIClient, nil)
				form := url.Values{"grant_type": {"client_credentials"}, "client_assertion_type": {oauth.ClientAssertionTypeJWT}, "client_assertion": {a}}
				proofs := make(chan http.Header, racers)
				for i := 0; i < racers; i++ {
					proofs <- env.DPoPHeader(t, testenv.FAPIClient, "/token")
				}
				n := race(func() bool {
					return env.PostForm(t, &http.Client{}, "/token", form, <-proofs, nil).StatusCode == http.StatusOK
				})
				if n != 1 {
					t.Errorf("%d uses of one assertion succeeded, want 1", n)
				}
			})
		})
	}
}
