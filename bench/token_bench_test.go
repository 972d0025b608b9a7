package bench

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bulwarkauth/bulwark/internal/dpop"
	"github.com/bulwarkauth/bulwark/internal/oauth"
	"github.com/bulwarkauth/bulwark/internal/testenv"
)

// latencies collects per-request durations and reports p50/p99 and
// requests/s as benchmark metrics next to ns/op.
type latencies struct {
	mu  sync.Mutex
	all []time.Duration
}

func (l *latencies) add(d time.Duration) {
	l.mu.Lock()
	l.all = append(l.all, d)
	l.mu.Unlock()
}

func (l *latencies) report(b *testing.B, elapsed time.Duration) {
	slices.Sort(l.all)
	if len(l.all) == 0 {
		return
	}
	b.ReportMetric(float64(len(l.all))/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(l.all[len(l.all)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(l.all[len(l.all)*99/100].Microseconds())/1000, "p99-ms")
}

func transport() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 10 * time.Second}
}

// BenchmarkTokenClientCredentials measures POST /token with
// client_credentials, private_key_jwt and a DPoP proof against the real
// server on loopback HTTP and embedded SQLite (assertion and proof jti
// replay checks included); the answer is a DPoP-bound token. Assertions
// and proofs are signed before the timer starts: each is single-use. A
// proof is accepted for 60 s after its iat, so keep -benchtime well under
// a minute.
func BenchmarkTokenClientCredentials(b *testing.B) {
	env := testenv.Start(b, testenv.Options{SQLite: true})
	// One untimed request checks that the token is DPoP-bound; the timed
	// ones only check the status, so the client adds little to allocs/op.
	form := env.AssertionForm(b, testenv.FAPIClient)
	form.Set("grant_type", "client_credentials")
	var tr oauth.TokenResponse
	r := env.PostForm(b, nil, "/token", form, env.DPoPHeader(b, testenv.FAPIClient, "/token"), &tr)
	if r.StatusCode != http.StatusOK || !strings.EqualFold(tr.TokenType, oauth.TokenTypeDPoP) {
		b.Fatalf("token: status %d, token_type %q", r.StatusCode, tr.TokenType)
	}
	type prepared struct {
		body  []byte
		proof string
	}
	reqs := make([]prepared, b.N)
	for i := range reqs {
		reqs[i] = prepared{
			body: []byte(url.Values{
				"grant_type":            {"client_credentials"},
				"client_id":             {testenv.FAPIClient},
				"client_assertion_type": {oauth.ClientAssertionTypeJWT},
				"client_assertion":      {env.Assertion(b, testenv.FAPIClient, nil)},
			}.Encode()),
			proof: env.Proof(b, testenv.FAPIClient, http.MethodPost, "/token", "", ""),
		}
	}
	hc := transport()
	var next atomic.Int64
	var lat latencies
	b.SetParallelism(16)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			i := next.Add(1) - 1
			t0 := time.Now()
			req, err := http.NewRequest(http.MethodPost, env.URL+"/token", bytes.NewReader(reqs[i].body))
			if err != nil {
				b.Error(err)
				return
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set(dpop.HeaderName, reqs[i].proof)
			resp, err := hc.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
			lat.add(time.Since(t0))
		}
	})
	b.StopTimer()
	lat.report(b, time.Since(start))
}

var hidden = regexp.MustCompile(`name="(csrf_token|handle)" value="([^"]*)"`)

// BenchmarkAuthorizationCodeFlow measures one whole FAPI 2.0 flow for a
// user with a session and remembered consent: PAR (private_key_jwt) →
// GET /authorize (303 with code) → POST /token (private_key_jwt, PKCE,
// DPoP proof). That is five signature checks or signatures per flow: two
// assertions and one proof verified, access and ID token signed. Proofs
// are signed before the timer starts, like assertions, so keep -benchtime
// well under a minute.
func BenchmarkAuthorizationCodeFlow(b *testing.B) {
	env := testenv.Start(b, testenv.Options{SQLite: true})
	browser := testenv.NewBrowser()
	// Log in and consent once so every iteration is a returning user.
	verifier, challenge := testenv.PKCE()
	par := env.AssertionForm(b, testenv.FAPIClient)
	for k, v := range map[string]string{"response_type": "code", "redirect_uri": testenv.RedirectURI, "scope": "openid profile",
		"code_challenge": challenge, "code_challenge_method": "S256", "state": "s"} {
		par.Set(k, v)
	}
	var pr struct {
		RequestURI string `json:"request_uri"`
	}
	env.PostForm(b, nil, "/par", par, nil, &pr)
	resp, err := browser.Get(env.URL + "/authorize?" + url.Values{"client_id": {testenv.FAPIClient}, "request_uri": {pr.RequestURI}}.Encode())
	if err != nil {
		b.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	f := url.Values{"username": {testenv.UserName}, "password": {testenv.UserPassword}}
	for _, m := range hidden.FindAllStringSubmatch(string(page), -1) {
		f.Set(m[1], strings.ReplaceAll(m[2], "&#43;", "+"))
	}
	resp = env.PostForm(b, browser, "/login", f, nil, nil)
	page, _ = io.ReadAll(resp.Body)
	c := url.Values{"decision": {"approve"}}
	for _, m := range hidden.FindAllStringSubmatch(string(page), -1) {
		c.Set(m[1], strings.ReplaceAll(m[2], "&#43;", "+"))
	}
	if r := env.PostForm(b, browser, "/consent", c, nil, nil); r.StatusCode != http.StatusSeeOther {
		b.Fatalf("consent: %d", r.StatusCode)
	}
	_ = verifier

	type prepared struct {
		par, tok url.Values
		proof    string
	}
	preps := make([]prepared, b.N)
	for i := range preps {
		par := env.AssertionForm(b, testenv.FAPIClient)
		for k, v := range map[string]string{"response_type": "code", "redirect_uri": testenv.RedirectURI, "scope": "openid profile",
			"code_challenge": challenge, "code_challenge_method": "S256", "state": "s"} {
			par.Set(k, v)
		}
		tok := env.AssertionForm(b, testenv.FAPIClient)
		tok.Set("grant_type", "authorization_code")
		tok.Set("redirect_uri", testenv.RedirectURI)
		tok.Set("code_verifier", verifier)
		preps[i] = prepared{par, tok, env.Proof(b, testenv.FAPIClient, http.MethodPost, "/token", "", "")}
	}
	var lat latencies
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		var pr struct {
			RequestURI string `json:"request_uri"`
		}
		if r := env.PostForm(b, nil, "/par", preps[i].par, nil, &pr); r.StatusCode != http.StatusCreated {
			b.Fatalf("par: %d", r.StatusCode)
		}
		resp, err := browser.Get(env.URL + "/authorize?" + url.Values{"client_id": {testenv.FAPIClient}, "request_uri": {pr.RequestURI}}.Encode())
		if err != nil || resp.StatusCode != http.StatusSeeOther {
			b.Fatalf("authorize: %v %d", err, resp.StatusCode)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		loc, _ := url.Parse(resp.Header.Get("Location"))
		preps[i].tok.Set("code", loc.Query().Get("code"))
		var tr oauth.TokenResponse
		if r := env.PostForm(b, nil, "/token", preps[i].tok, http.Header{dpop.HeaderName: {preps[i].proof}}, &tr); r.StatusCode != http.StatusOK || !strings.EqualFold(tr.TokenType, oauth.TokenTypeDPoP) {
			b.Fatalf("token: %d, token_type %q", r.StatusCode, tr.TokenType)
		}
		lat.add(time.Since(t0))
	}
	b.StopTimer()
	lat.report(b, time.Since(start))
}
