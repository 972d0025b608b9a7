package authorize

import (
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bulwarkauth/bulwark/internal/oauth"
	"github.com/bulwarkauth/bulwark/internal/store"
	"github.com/google/go-cmp/cmp"
)

// push stores a pushed request for client with query changed by kv.
func (e *env) push(t *testing.T, client string, kv ...string) string {
	t.Helper()
	res, err := e.svc.Push(context.Background(), e.clients[client], PushRequest{Params: query(kv...)})
	if err != nil {
		t.Fatalf("Push: %v", err)
	}
	return res.RequestURI
}

// begin starts an interaction from a pushed request_uri.
func (e *env) begin(t *testing.T, client, requestURI string) *oauth.Interaction {
	t.Helper()
	in, err := e.svc.Begin(context.Background(), url.Values{"client_id": {client}, "request_uri": {requestURI}})
	if err != nil {
		t.Fatalf("Begin: %v", err)
	}
	return in
}

// parseLocation splits a redirect into the URI it goes to and its query.
func parseLocation(t *testing.T, loc string) (string, url.Values) {
	t.Helper()
	base, raw, _ := strings.Cut(loc, "?")
	q, err := url.ParseQuery(raw)
	if err != nil {
		t.Fatalf("location %q: %v", loc, err)
	}
	return base, q
}

func TestPush(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	res, err := e.svc.Push(ctx, e.clients[fapiID], PushRequest{Params: query()})
	if err != nil {
		t.Fatal(err)
	}
	// RFC 9126 §2.2 and FAPI 2.0 SP §5.3.2.2-12: expires_in below 600.
	if !strings.HasPrefix(res.RequestURI, oauth.RequestURIPrefix) || res.ExpiresIn != 60 {
		t.Errorf("response = %+v", res)
	}
	// FAPI 2.0 SP §5.4.1-4: at least 128 bits; these carry 256.
	if n := len(strings.TrimPrefix(res.RequestURI, oauth.RequestURIPrefix)); n < 43 {
		t.Errorf("request_uri random part is %d characters", n)
	}
	rec, err := e.st.Requests.Get(ctx, store.Hash(res.RequestURI))
	if err != nil || rec.ClientID != fapiID {
		t.Fatalf("stored request = %+v, %v", rec, err)
	}
	if _, err := e.st.Requests.Get(ctx, res.RequestURI); err == nil {
		t.Error("request_uri stored in the clear")
	}
	res2, err := e.svc.Push(ctx, e.clients[fapiID], PushRequest{Params: query()})
	if err != nil || res2.RequestURI == res.RequestURI {
		t.Errorf("second push: %+v, %v", res2, err)
	}
	// PAR errors are JSON errors, never pages or redirects.
	_, err = e.svc.Push(ctx, e.clients[fapiID], PushRequest{Params: query("code_challenge_method", "plain")})
	if errCode(t, err) != oauth.ErrInvalidRequest || isPage(err) {
		t.Errorf("plain PKCE at PAR: %v", err)
	}
	if _, ok := asRedirect(err); ok {
		t.Error("PAR error rendered as redirect")
	}
}

// TestBegin covers the authorization endpoint: PAR resolution (RFC 9126
// §4), PAR enforcement (FAPI 2.0 SP §5.3.2.2-3) and where errors go
// (RFC 9700 §4.11.2).
func TestBegin(t *testing.T) {
	type want struct {
		code     string
		page     bool
		redirect string // redirect URI an error is sent to
	}
	tests := []struct {
		name  string
		setup func(t *testing.T, e *env) url.Values
		want  want
	}{
		{"ok/pushed", func(t *testing.T, e *env) url.Values {
			return url.Values{"client_id": {fapiID}, "request_uri": {e.push(t, fapiID)}}
		}, want{}},
		{"ok/pushed_59s_later", func(t *testing.T, e *env) url.Values {
			ru := e.push(t, fapiID)
			e.clock.Advance(59 * time.Second)
			return url.Values{"client_id": {fapiID}, "request_uri": {ru}}
		}, want{}},
		{"ok/standard_direct", func(t *testing.T, e *env) url.Values {
			return query("client_id", publicID)
		}, want{}},
		{"fail/client_id_missing", func(t *testing.T, e *env) url.Values {
			return url.Values{"request_uri": {e.push(t, fapiID)}}
		}, want{code: oauth.ErrInvalidRequest, page: true}},
		{"fail/client_unknown", func(t *testing.T, e *env) url.Values {
			return url.Values{"client_id": {"ghost"}, "request_uri": {e.push(t, fapiID)}}
		}, want{code: oauth.ErrInvalidClient, page: true}},
		{"fail/request_uri_other_client", func(t *testing.T, e *env) url.Values {
			return url.Values{"client_id": {publicID}, "request_uri": {e.push(t, fapiID)}}
		}, want{code: oauth.ErrInvalidRequestURI, page: true}},
		{"fail/request_uri_unknown", func(t *testing.T, e *env) url.Values {
			return url.Values{"client_id": {fapiID}, "request_uri": {oauth.RequestURIPrefix + "unknown"}}
		}, want{code: oauth.ErrInvalidRequestURI, page: true}},
		{"fail/request_uri_not_urn", func(t *testing.T, e *env) url.Values {
			ru := e.push(t, fapiID)
			return url.Values{"client_id": {fapiID}, "request_uri": {strings.TrimPrefix(ru, oauth.RequestURIPrefix)}}
		}, want{code: oauth.ErrInvalidRequestURI, page: true}},
		{"fail/request_uri_too_long", func(t *testing.T, e *env) url.Values {
			return url.Values{"client_id": {fapiID}, "request_uri": {oauth.RequestURIPrefix + strings.Repeat("a", 300)}}
		}, want{code: oauth.ErrInvalidRequestURI, page: true}},
		{"fail/request_uri_expired_60s", func(t *testing.T, e *env) url.Values {
			ru := e.push(t, fapiID)
			e.clock.Advance(60 * time.Second)
			return url.Values{"client_id": {fapiID}, "request_uri": {ru}}
		}, want{code: oauth.ErrInvalidRequestURI, page: true}},
		{"fail/interaction_handle_as_request_uri", func(t *testing.T, e *env) url.Values {
			in := e.begin(t, fapiID, e.push(t, fapiID))
			return url.Values{"client_id": {fapiID}, "request_uri": {in.Handle}}
		}, want{code: oauth.ErrInvalidRequestURI, page: true}},
		{"fail/direct_interaction_handle_as_request_uri", func(t *testing.T, e *env) url.Values {
			in, err := e.svc.Begin(context.Background(), query("client_id", publicID))
			if err != nil {
				t.Fatal(err)
			}
			return url.Values{"client_id": {publicID}, "request_uri": {in.Handle}}
		}, want{code: oauth.ErrInvalidRequestURI, page: true}},
		{"fail/fapi2_without_par", func(t *testing.T, e *env) url.Values {
			return query("client_id", fapiID)
		}, want{code: oauth.ErrInvalidRequest, redirect: appURI}},
		{"fail/fapi2_without_par_unregistered_redirect", func(t *testing.T, e *env) url.Values {
			return query("client_id", fapiID, "redirect_uri", "https://evil.example/cb")
		}, want{code: oauth.ErrInvalidRequest, page: true}},
		{"fail/fapi2_without_par_no_redirect", func(t *testing.T, e *env) url.Values {
			return query("client_id", fapiID, "redirect_uri", "")
		}, want{code: oauth.ErrInvalidRequest, page: true}},
		{"fail/fapi2_without_par_state_too_long", func(t *testing.T, e *env) url.Values {
			return query("client_id", fapiID, "state", maxState+"x")
		}, want{code: oauth.ErrInvalidRequest, page: true}},
		{"fail/standard_direct_pkce_plain", func(t *testing.T, e *env) url.Values {
			return query("client_id", publicID, "code_challenge_method", "plain")
		}, want{code: oauth.ErrInvalidRequest, redirect: appURI}},
		{"fail/standard_direct_unregistered_redirect", func(t *testing.T, e *env) url.Values {
			return query("client_id", publicID, "redirect_uri", "https://evil.example/cb", "code_challenge", "")
		}, want{code: oauth.ErrInvalidRequest, page: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			q := tt.setup(t, e)
			in, err := e.svc.Begin(context.Background(), q)
			if tt.want.code == "" {
				if err != nil {
					t.Fatalf("Begin: %v", err)
				}
				c := e.clients[q.Get("client_id")]
				if in.ClientID != c.ID || !strings.HasPrefix(in.Handle, oauth.RequestURIPrefix) || in.Handle == q.Get("request_uri") || in.MaxAge != -1 {
					t.Errorf("interaction = %+v", in)
				}
				if _, err := e.svc.Load(context.Background(), in.Handle); err != nil {
					t.Errorf("Load(handle): %v", err)
				}
				return
			}
			if got := errCode(t, err); got != tt.want.code {
				t.Fatalf("code = %q, want %q (%v)", got, tt.want.code, err)
			}
			re, isRedirect := asRedirect(err)
			if isPage(err) != tt.want.page || isRedirect != (tt.want.redirect != "") {
				t.Fatalf("page=%v redirect=%v, want %+v (%v)", isPage(err), isRedirect, tt.want, err)
			}
			if isRedirect {
				base, rq := parseLocation(t, re.Location)
				// RFC 9207 §2: iss on error responses too.
				if base != tt.want.redirect || rq.Get("error") != tt.want.code || rq.Get("iss") != testIssuer || rq.Get("state") != q.Get("state") {
					t.Errorf("location = %s", re.Location)
				}
			}
		})
	}
}

func TestBeginReload(t *testing.T) {
	e := newEnv(t)
	ru := e.push(t, fapiID)
	// FAPI 2.0 SP §5.3.2.2 Note 3: loading the page does not use up the
	// request_uri.
	a := e.begin(t, fapiID, ru)
	b := e.begin(t, fapiID, ru)
	if a.Handle == b.Handle {
		t.Error("two visits share an interaction handle")
	}
	want := &oauth.Interaction{ClientID: fapiID, ClientName: "FAPI App", Scopes: oauth.Scopes{"openid"}, MaxAge: -1}
	if diff := cmp.Diff(want, a, cmpIgnoreHandle); diff != "" {
		t.Errorf("interaction (-want +got):\n%s", diff)
	}
}

var cmpIgnoreHandle = cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".Handle" }, cmp.Ignore())

// TestComplete issues a code and checks what it stands for and where it
// goes: code, state and iss (RFC 9207) on the registered redirect URI.
func TestComplete(t *testing.T) {
	tests := []struct {
		name     string
		client   string
		kv       []string
		redirect string // where the code must go
	}{
		{"ok/fapi2", fapiID, []string{"nonce", nonce384, "scope", "openid profile"}, appURI},
		{"ok/long_state", fapiID, []string{"state", longState}, appURI},
		{"ok/no_state", fapiID, []string{"state", ""}, appURI},
		{"ok/loopback_port", fapiID, []string{"redirect_uri", "http://127.0.0.1:49152/cb"}, "http://127.0.0.1:49152/cb"},
		{"ok/registered_query_kept", oneID, []string{"redirect_uri", oneURI}, oneURI},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			ctx := context.Background()
			q := query(tt.kv...)
			ru := e.push(t, tt.client, tt.kv...)
			in := e.begin(t, tt.client, ru)
			authTime := e.clock.Now().Add(-time.Minute)
			loc, err := e.svc.Complete(ctx, in.Handle, oauth.Approval{Subject: "user-1", AuthTime: authTime, Scopes: in.Scopes})
			if err != nil {
				t.Fatalf("Complete: %v", err)
			}
			if !strings.HasPrefix(loc, tt.redirect+"?") && !strings.HasPrefix(loc, tt.redirect+"&") {
				t.Fatalf("location %q does not go to %q", loc, tt.redirect)
			}
			_, rq := parseLocation(t, loc)
			wantKeys := []string{"code", "iss"}
			if q.Get("state") != "" {
				wantKeys = append(wantKeys, "state")
			}
			if u, _ := url.Parse(tt.redirect); u.RawQuery != "" {
				for k := range u.Query() {
					wantKeys = append(wantKeys, k)
				}
			}
			var keys []string
			for k := range rq {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			slices.Sort(wantKeys)
			if diff := cmp.Diff(wantKeys, keys); diff != "" {
				t.Errorf("response parameters (-want +got):\n%s", diff)
			}
			if rq.Get("iss") != testIssuer || rq.Get("state") != q.Get("state") {
				t.Errorf("iss = %q, state intact = %v", rq.Get("iss"), rq.Get("state") == q.Get("state"))
			}
			code := rq.Get("code")
			if len(code) < 43 {
				t.Fatalf("code %q too short", code)
			}
			rec, err := e.st.Codes.Consume(ctx, store.Hash(code))
			if err != nil {
				t.Fatalf("code not stored under its hash: %v", err)
			}
			if rec.ClientID != tt.client || rec.GrantID == "" || !rec.ExpiresAt.Equal(e.clock.Now().Add(60*time.Second)) {
				t.Errorf("code record = %+v", rec)
			}
			var d oauth.CodeData
			if err := json.Unmarshal(rec.Params, &d); err != nil {
				t.Fatal(err)
			}
			want := oauth.CodeData{
				RedirectURI: tt.redirect, CodeChallenge: challenge, Subject: "user-1", AuthTime: authTime,
				Scopes: in.Scopes, Nonce: q.Get("nonce"),
			}
			if diff := cmp.Diff(want, d); diff != "" {
				t.Errorf("code data (-want +got):\n%s", diff)
			}
		})
	}
}

// TestRequestURISingleUse: a request_uri yields at most one code
// (RFC 9126 §7.3, FAPI 2.0 SP §5.3.2.2 Note 3), and an interaction
// completes once.
func TestRequestURISingleUse(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	ru := e.push(t, fapiID)
	first := e.begin(t, fapiID, ru)
	second := e.begin(t, fapiID, ru) // another tab
	approval := oauth.Approval{Subject: "user-1", AuthTime: e.clock.Now(), Scopes: first.Scopes}
	if _, err := e.svc.Complete(ctx, first.Handle, approval); err != nil {
		t.Fatal(err)
	}
	// The same interaction again: a page, never a second code.
	loc, err := e.svc.Complete(ctx, first.Handle, approval)
	if errCode(t, err) != oauth.ErrInvalidRequest || loc != "" {
		t.Errorf("second Complete = %q, %v", loc, err)
	}
	// The other tab: the client hears invalid_request_uri, with iss.
	loc, err = e.svc.Complete(ctx, second.Handle, approval)
	if err != nil {
		t.Fatal(err)
	}
	base, q := parseLocation(t, loc)
	if base != appURI || q.Get("error") != oauth.ErrInvalidRequestURI || q.Get("iss") != testIssuer || q.Get("state") != "st-1" || q.Has("code") {
		t.Errorf("second tab location = %s", loc)
	}
	// The request_uri itself is gone.
	_, err = e.svc.Begin(ctx, url.Values{"client_id": {fapiID}, "request_uri": {ru}})
	if errCode(t, err) != oauth.ErrInvalidRequestURI || !isPage(err) {
		t.Errorf("Begin after use = %v", err)
	}
	if _, err := e.svc.Load(ctx, first.Handle); err == nil {
		t.Error("Load of a completed interaction succeeded")
	}
}

// TestCompleteAfterPARExpiry: expires_in bounds reaching the authorization
// endpoint, not the login itself.
func TestCompleteAfterPARExpiry(t *testing.T) {
	e := newEnv(t)
	in := e.begin(t, fapiID, e.push(t, fapiID))
	e.clock.Advance(5 * time.Minute)
	loc, err := e.svc.Complete(context.Background(), in.Handle, oauth.Approval{Subject: "u", AuthTime: e.clock.Now()})
	if err != nil {
		t.Fatal(err)
	}
	if _, q := parseLocation(t, loc); q.Get("code") == "" {
		t.Errorf("location = %s", loc)
	}
}

func TestDeny(t *testing.T) {
	tests := []struct {
		name string
		err  *oauth.Error
		code string
	}{
		{"ok/access_denied", nil, oauth.ErrAccessDenied},
		{"ok/login_required", oauth.New(oauth.ErrLoginRequired, "not logged in"), oauth.ErrLoginRequired},
		{"ok/consent_required", oauth.New(oauth.ErrConsentRequired, ""), oauth.ErrConsentRequired},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			ctx := context.Background()
			ru := e.push(t, fapiID, "state", longState)
			in := e.begin(t, fapiID, ru)
			loc, err := e.svc.Deny(ctx, in.Handle, tt.err)
			if err != nil {
				t.Fatal(err)
			}
			base, q := parseLocation(t, loc)
			// RFC 9207 §2 (ISS-1): iss on the error response as well.
			if base != appURI || q.Get("error") != tt.code || q.Get("iss") != testIssuer || q.Get("state") != longState || q.Has("code") {
				t.Errorf("location = %.200s", loc)
			}
			// Denying consumes the request.
			if _, err := e.svc.Complete(ctx, in.Handle, oauth.Approval{Subject: "u"}); err == nil {
				t.Error("Complete after Deny succeeded")
			}
			if _, err := e.svc.Begin(ctx, url.Values{"client_id": {fapiID}, "request_uri": {ru}}); errCode(t, err) != oauth.ErrInvalidRequestURI {
				t.Errorf("Begin after Deny = %v", err)
			}
		})
	}
}

func TestLoadInvalidHandles(t *testing.T) {
	e := newEnv(t)
	for _, h := range []string{"", "x", oauth.RequestURIPrefix, oauth.RequestURIPrefix + "unknown", oauth.RequestURIPrefix + strings.Repeat("a", 300)} {
		_, err := e.svc.Load(context.Background(), h)
		if errCode(t, err) != oauth.ErrInvalidRequest {
			t.Errorf("Load(%.40q) = %v", h, err)
		}
		if _, err := e.svc.Complete(context.Background(), h, oauth.Approval{Subject: "u"}); err == nil {
			t.Errorf("Complete(%.40q) succeeded", h)
		}
		if loc, err := e.svc.Deny(context.Background(), h, nil); err == nil || loc != "" {
			t.Errorf("Deny(%.40q) = %q, %v", h, loc, err)
		}
	}
}

// TestCompleteConcurrent: of many completions of one interaction, exactly
// one issues a code.
func TestCompleteConcurrent(t *testing.T) {
	e := newEnv(t)
	in := e.begin(t, fapiID, e.push(t, fapiID))
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := 0
	for range 20 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			loc, err := e.svc.Complete(context.Background(), in.Handle, oauth.Approval{Subject: "u"})
			if err != nil {
				return
			}
			if strings.Contains(loc, "?code=") {
				mu.Lock()
				codes++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if codes != 1 {
		t.Errorf("%d codes issued, want 1", codes)
	}
}
