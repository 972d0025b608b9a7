package authorize

import (
	"errors"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/bulwarkauth/bulwark/internal/oauth"
)

// registeredURIs are the redirect URIs MatchRedirectURI is tested against.
var registeredURIs = []string{
	"https://app.example/cb",
	"https://app.example/q?x=1",
	"http://127.0.0.1/cb",
	"http://[::1]:8080/cb",
	"http://127.0.0.1",
	"http://[::1]",
	"http://localhost/cb",
	"https://127.0.0.1/secure",
	"http://127.0.0.2/cb",
	"com.example.app:/oauth",
}

var matchCases = []struct {
	name string
	uri  string
	want bool
}{
	{"ok/exact_https", "https://app.example/cb", true},
	{"ok/exact_with_query", "https://app.example/q?x=1", true},
	{"ok/exact_private_scheme", "com.example.app:/oauth", true},
	{"ok/exact_localhost", "http://localhost/cb", true},
	{"ok/exact_https_loopback", "https://127.0.0.1/secure", true},
	{"ok/exact_127_0_0_2", "http://127.0.0.2/cb", true},
	{"ok/loopback_v4_any_port", "http://127.0.0.1:51000/cb", true},
	{"ok/loopback_v4_port_1", "http://127.0.0.1:1/cb", true},
	{"ok/loopback_v6_other_port", "http://[::1]:9/cb", true},
	{"ok/loopback_v6_no_port", "http://[::1]/cb", true},
	{"ok/loopback_no_path_port", "http://127.0.0.1:8000", true},

	{"fail/prefix", "https://app.example/cb/x", false},
	{"fail/shorter", "https://app.example/c", false},
	{"fail/trailing_slash", "https://app.example/cb/", false},
	{"fail/extra_query", "https://app.example/cb?x=1", false},
	{"fail/query_changed", "https://app.example/q?x=2", false},
	{"fail/query_extended", "https://app.example/q?x=1&y=2", false},
	{"fail/fragment", "https://app.example/cb#x", false},
	{"fail/empty_fragment", "https://app.example/cb#", false},
	{"fail/scheme_case", "HTTPS://app.example/cb", false},
	{"fail/host_case", "https://APP.example/cb", false},
	{"fail/path_case", "https://app.example/CB", false},
	{"fail/explicit_default_port", "https://app.example:443/cb", false},
	{"fail/userinfo", "https://user@app.example/cb", false},
	{"fail/percent_encoded_path", "https://app.example/%63b", false},
	{"fail/host_suffix", "https://app.example.evil/cb", false},
	{"fail/dot_segment", "https://app.example/x/../cb", false},
	{"fail/leading_space", " https://app.example/cb", false},
	{"fail/http_downgrade", "http://app.example/cb", false},
	{"fail/empty", "", false},
	{"fail/private_scheme_suffix", "com.example.app:/oauth/x", false},

	{"fail/localhost_port", "http://localhost:5000/cb", false},
	{"fail/https_loopback_port", "https://127.0.0.1:8443/secure", false},
	{"fail/loopback_other_path", "http://127.0.0.1:5/cb2", false},
	{"fail/loopback_path_suffix", "http://127.0.0.1:5/cb/x", false},
	{"fail/loopback_query", "http://127.0.0.1:5/cb?x=1", false},
	{"fail/loopback_fragment", "http://127.0.0.1:5/cb#x", false},
	{"fail/loopback_no_path_fragment", "http://127.0.0.1:5#frag", false},
	{"fail/loopback_no_path_fragment_v6", "http://[::1]:5#x", false},
	{"fail/loopback_no_path_query", "http://127.0.0.1:5?x", false},
	{"fail/loopback_not_registered_ip", "http://127.0.0.3:5/cb", false},
	{"fail/loopback_127_0_0_2_port", "http://127.0.0.2:5/cb", false},
	{"fail/loopback_v6_expanded", "http://[0:0:0:0:0:0:0:1]:9/cb", false},
	{"fail/loopback_v4_mapped", "http://[::ffff:127.0.0.1]:9/cb", false},
	{"fail/loopback_userinfo_trick", "http://127.0.0.1:5@evil.example/cb", false},
	{"fail/other_host_port", "http://evil.example:5/cb", false},
	{"fail/loopback_path_case", "http://[::1]:9/CB", false},
	{"fail/loopback_percent", "http://127.0.0.1:5/%63b", false},
	{"fail/loopback_scheme_case", "HTTP://127.0.0.1:5/cb", false},
	{"fail/loopback_decimal", "http://2130706433:5/cb", false},
	{"fail/loopback_short", "http://127.1:5/cb", false},
	{"fail/loopback_trailing_dot", "http://127.0.0.1.:5/cb", false},
	{"fail/loopback_zone", "http://[::1%25lo]:9/cb", false},
	{"fail/loopback_bad_port", "http://127.0.0.1:x/cb", false},
	{"fail/loopback_force_query", "http://127.0.0.1:5/cb?", false},
}

// TestMatchRedirectURI: exact string matching (RFC 9700 §2.1) with the one
// exception of the port of http://127.0.0.1 and http://[::1] redirect URIs
// (RFC 8252 §7.3); not localhost (RFC 8252 §8.3), not https.
func TestMatchRedirectURI(t *testing.T) {
	for _, tt := range matchCases {
		t.Run(tt.name, func(t *testing.T) {
			if got := MatchRedirectURI(registeredURIs, tt.uri); got != tt.want {
				t.Errorf("MatchRedirectURI(%q) = %v, want %v", tt.uri, got, tt.want)
			}
		})
	}
	if MatchRedirectURI(nil, "https://app.example/cb") {
		t.Error("matched against no registered URIs")
	}
}

// loopbackForm splits an http loopback URI into everything but its port.
var loopbackForm = regexp.MustCompile(`(?s)^http://([^/?#@]*@)?(127\.0\.0\.1|\[::1\])(:[0-9]*)?([/?].*)?$`)

// sameButPort is the fuzz oracle, written independently of the code under
// test: uri equals r, or both are loopback URIs that differ at most in port.
func sameButPort(r, uri string) bool {
	if r == uri {
		return true
	}
	a, b := loopbackForm.FindStringSubmatch(r), loopbackForm.FindStringSubmatch(uri)
	return a != nil && b != nil && a[1] == b[1] && a[2] == b[2] && a[4] == b[4]
}

// FuzzMatchRedirectURI: never panics, always accepts an exact match, and
// never accepts a URI that differs from every registered one in more than
// the port of a loopback IP literal.
func FuzzMatchRedirectURI(f *testing.F) {
	reg := strings.Join(registeredURIs, "\n")
	for _, tt := range matchCases {
		f.Add(reg, tt.uri)
		f.Add("http://127.0.0.1:1234", tt.uri)
	}
	f.Fuzz(func(t *testing.T, regs, uri string) {
		registered := strings.Split(regs, "\n")
		got := MatchRedirectURI(registered, uri)
		if slices.Contains(registered, uri) && !got {
			t.Fatalf("exact match of %q refused", uri)
		}
		if !got {
			return
		}
		for _, r := range registered {
			if sameButPort(r, uri) {
				return
			}
		}
		t.Fatalf("accepted %q, which differs from every registered URI %q by more than a loopback port", uri, registered)
	})
}

type validateCase struct {
	name   string
	client string
	pushed bool
	q      url.Values
	code   string // expected error code; "" means success
	// redirect says a failure at the authorization endpoint may be sent
	// to the redirect URI (it was validated first).
	redirect bool
	check    func(t *testing.T, q url.Values, p *Params)
}

// query returns a valid request for appURI changed by kv pairs; an empty
// value deletes the parameter.
func query(kv ...string) url.Values {
	q := url.Values{
		"response_type": {"code"}, "redirect_uri": {appURI}, "scope": {"openid"}, "state": {"st-1"},
		"code_challenge": {challenge}, "code_challenge_method": {"S256"},
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "" {
			q.Del(kv[i])
		} else {
			q.Set(kv[i], kv[i+1])
		}
	}
	return q
}

var (
	longState = strings.Repeat("s", 2000) + "-~._%20end"
	maxState  = strings.Repeat("S", MaxStateLength)
	nonce64   = strings.Repeat("n", 64)
	nonce384  = strings.Repeat("N", 383) + "é"
)

func intact(field string) func(*testing.T, url.Values, *Params) {
	return func(t *testing.T, q url.Values, p *Params) {
		got := map[string]string{"state": p.State, "nonce": p.Nonce}[field]
		if got != q.Get(field) {
			t.Errorf("%s changed: got %d bytes, want %d", field, len(got), len(q.Get(field)))
		}
	}
}

var validateCases = []validateCase{
	{name: "ok/fapi2_par", client: fapiID, pushed: true, q: query(), check: func(t *testing.T, q url.Values, p *Params) {
		want := Params{ClientID: fapiID, RedirectURI: appURI, Scopes: oauth.Scopes{"openid"}, State: "st-1", CodeChallenge: challenge, MaxAge: -1}
		if p.ClientID != want.ClientID || p.RedirectURI != want.RedirectURI || p.State != want.State ||
			p.CodeChallenge != want.CodeChallenge || p.MaxAge != want.MaxAge || p.Scopes.String() != want.Scopes.String() {
			t.Errorf("params = %+v, want %+v", p, want)
		}
	}},
	{name: "ok/fapi2_loopback_port", client: fapiID, pushed: true, q: query("redirect_uri", "http://127.0.0.1:49152/cb"), check: func(t *testing.T, q url.Values, p *Params) {
		if p.RedirectURI != "http://127.0.0.1:49152/cb" {
			t.Errorf("redirect_uri = %q", p.RedirectURI)
		}
	}},
	{name: "ok/client_id_matches", client: fapiID, pushed: true, q: query("client_id", fapiID)},
	{name: "ok/state_2000", client: fapiID, pushed: true, q: query("state", longState), check: intact("state")},
	{name: "ok/state_max", client: fapiID, pushed: true, q: query("state", maxState), check: intact("state")},
	{name: "ok/nonce_64", client: fapiID, pushed: true, q: query("nonce", nonce64), check: intact("nonce")},
	{name: "ok/nonce_384", client: fapiID, pushed: true, q: query("nonce", nonce384), check: intact("nonce")},
	{name: "ok/scopes_unsorted_client", client: fapiID, pushed: true, q: query("scope", "profile accounts openid"), check: func(t *testing.T, q url.Values, p *Params) {
		if p.Scopes.String() != "accounts openid profile" {
			t.Errorf("scopes = %q", p.Scopes)
		}
	}},
	{name: "ok/scope_absent", client: fapiID, pushed: true, q: query("scope", "")},
	{name: "ok/prompt_login_consent", client: fapiID, pushed: true, q: query("prompt", "login consent")},
	{name: "ok/max_age_0", client: fapiID, pushed: true, q: query("max_age", "0"), check: func(t *testing.T, q url.Values, p *Params) {
		if p.MaxAge != 0 {
			t.Errorf("max_age = %d", p.MaxAge)
		}
	}},
	{name: "ok/dpop_jkt", client: fapiID, pushed: true, q: query("dpop_jkt", challenge)},
	{name: "ok/resource", client: fapiID, pushed: true, q: query("resource", "https://api.example/")},
	{name: "ok/response_mode_query", client: fapiID, pushed: true, q: query("response_mode", "query")},
	{name: "ok/standard_direct", client: publicID, q: query("client_id", publicID)},
	{name: "ok/standard_single_redirect_default", client: oneID, q: query("redirect_uri", ""), check: func(t *testing.T, q url.Values, p *Params) {
		if p.RedirectURI != oneURI {
			t.Errorf("redirect_uri = %q, want the single registered %q", p.RedirectURI, oneURI)
		}
	}},
	{name: "ok/standard_par_single_redirect_default", client: oneID, pushed: true, q: query("redirect_uri", "")},

	{name: "fail/response_type_token", client: fapiID, pushed: true, q: query("response_type", "token"), code: oauth.ErrUnsupportedResponseType},
	{name: "fail/response_type_code_id_token", client: fapiID, pushed: true, q: query("response_type", "code id_token"), code: oauth.ErrUnsupportedResponseType},
	{name: "fail/response_type_upper", client: fapiID, pushed: true, q: query("response_type", "CODE"), code: oauth.ErrUnsupportedResponseType},
	{name: "fail/response_type_missing", client: fapiID, pushed: true, q: query("response_type", ""), code: oauth.ErrInvalidRequest},
	{name: "fail/pkce_missing", client: fapiID, pushed: true, q: query("code_challenge", "", "code_challenge_method", ""), code: oauth.ErrInvalidRequest},
	{name: "fail/pkce_plain", client: fapiID, pushed: true, q: query("code_challenge_method", "plain", "code_challenge", verifier), code: oauth.ErrInvalidRequest},
	{name: "fail/pkce_method_missing", client: fapiID, pushed: true, q: query("code_challenge_method", ""), code: oauth.ErrInvalidRequest},
	{name: "fail/pkce_method_lowercase", client: fapiID, pushed: true, q: query("code_challenge_method", "s256"), code: oauth.ErrInvalidRequest},
	{name: "fail/pkce_challenge_missing", client: fapiID, pushed: true, q: query("code_challenge", ""), code: oauth.ErrInvalidRequest},
	{name: "fail/pkce_challenge_short", client: fapiID, pushed: true, q: query("code_challenge", challenge[:42]), code: oauth.ErrInvalidRequest},
	{name: "fail/pkce_challenge_padded", client: fapiID, pushed: true, q: query("code_challenge", challenge+"="), code: oauth.ErrInvalidRequest},
	{name: "fail/pkce_challenge_std_alphabet", client: fapiID, pushed: true, q: query("code_challenge", "+"+challenge[1:]), code: oauth.ErrInvalidRequest},
	{name: "fail/request_uri_in_par", client: fapiID, pushed: true, q: query("request_uri", oauth.RequestURIPrefix+"x"), code: oauth.ErrInvalidRequest},
	{name: "fail/request_object", client: fapiID, pushed: true, q: query("request", "a.b.c"), code: "request_not_supported"},
	{name: "fail/client_id_mismatch", client: fapiID, pushed: true, q: query("client_id", publicID), code: oauth.ErrInvalidRequest},
	{name: "fail/fapi2_redirect_missing_single_registered", client: fapi1ID, pushed: true, q: query("redirect_uri", ""), code: oauth.ErrInvalidRequest},
	{name: "fail/redirect_missing_two_registered", client: publicID, pushed: true, q: query("redirect_uri", ""), code: oauth.ErrInvalidRequest},
	{name: "fail/redirect_unregistered", client: fapiID, pushed: true, q: query("redirect_uri", "https://evil.example/cb"), code: oauth.ErrInvalidRequest},
	{name: "fail/redirect_prefix", client: fapiID, pushed: true, q: query("redirect_uri", appURI+"/x"), code: oauth.ErrInvalidRequest},
	{name: "fail/redirect_http", client: fapiID, pushed: true, q: query("redirect_uri", "http://app.example/cb"), code: oauth.ErrInvalidRequest},
	{name: "fail/redirect_localhost_port", client: fapiID, pushed: true, q: query("redirect_uri", "http://localhost:8080/cb"), code: oauth.ErrInvalidRequest},
	{name: "fail/scope_not_allowed", client: fapiID, pushed: true, q: query("scope", "openid admin"), code: oauth.ErrInvalidScope},
	{name: "fail/scope_malformed", client: fapiID, pushed: true, q: query("scope", `openid "x"`), code: oauth.ErrInvalidScope},
	{name: "fail/state_too_long", client: fapiID, pushed: true, q: query("state", maxState+"x"), code: oauth.ErrInvalidRequest},
	{name: "fail/nonce_too_long", client: fapiID, pushed: true, q: query("nonce", strings.Repeat("n", MaxNonceLength+1)), code: oauth.ErrInvalidRequest},
	{name: "fail/prompt_unknown", client: fapiID, pushed: true, q: query("prompt", "sudo"), code: oauth.ErrInvalidRequest},
	{name: "fail/prompt_none_combined", client: fapiID, pushed: true, q: query("prompt", "none login"), code: oauth.ErrInvalidRequest},
	{name: "fail/max_age_negative", client: fapiID, pushed: true, q: query("max_age", "-1"), code: oauth.ErrInvalidRequest},
	{name: "fail/max_age_text", client: fapiID, pushed: true, q: query("max_age", "ten"), code: oauth.ErrInvalidRequest},
	{name: "fail/login_hint_long", client: fapiID, pushed: true, q: query("login_hint", strings.Repeat("h", 257)), code: oauth.ErrInvalidRequest},
	{name: "fail/dpop_jkt_short", client: fapiID, pushed: true, q: query("dpop_jkt", "abc"), code: oauth.ErrInvalidRequest},
	{name: "fail/resource_relative", client: fapiID, pushed: true, q: query("resource", "/api"), code: "invalid_target"},
	{name: "fail/resource_fragment", client: fapiID, pushed: true, q: query("resource", "https://api.example/#x"), code: "invalid_target"},
	{name: "fail/response_mode_fragment", client: fapiID, pushed: true, q: query("response_mode", "fragment"), code: oauth.ErrInvalidRequest},
	{name: "fail/response_mode_form_post", client: fapiID, pushed: true, q: query("response_mode", "form_post"), code: oauth.ErrInvalidRequest},
	{name: "fail/client_without_code_grant", client: ccID, pushed: true, q: query("scope", "api"), code: oauth.ErrUnauthorizedClient},

	// At the authorization endpoint, errors found after the redirect URI
	// was validated go to the client; earlier ones never do.
	{name: "fail/direct_pkce_plain", client: publicID, q: query("code_challenge_method", "plain"), code: oauth.ErrInvalidRequest, redirect: true},
	{name: "fail/direct_response_type_token", client: publicID, q: query("response_type", "token"), code: oauth.ErrUnsupportedResponseType, redirect: true},
	{name: "fail/direct_scope", client: publicID, q: query("scope", "admin"), code: oauth.ErrInvalidScope, redirect: true},
	{name: "fail/direct_nonce_too_long", client: publicID, q: query("nonce", strings.Repeat("n", MaxNonceLength+1)), code: oauth.ErrInvalidRequest, redirect: true},
	{name: "fail/direct_redirect_unregistered", client: publicID, q: query("redirect_uri", "https://evil.example/cb", "response_type", "token"), code: oauth.ErrInvalidRequest},
	{name: "fail/direct_redirect_missing", client: publicID, q: query("redirect_uri", "", "response_type", "token"), code: oauth.ErrInvalidRequest},
	{name: "fail/direct_state_too_long", client: publicID, q: query("state", maxState+"x", "response_type", "token"), code: oauth.ErrInvalidRequest},
	{name: "fail/direct_request_object", client: publicID, q: query("request", "a.b.c"), code: "request_not_supported"},
}

// TestValidate covers authorization request validation per profile
// (FAPI 2.0 SP §5.3.2.2, RFC 9126 §2.1, RFC 7636).
func TestValidate(t *testing.T) {
	e := newEnv(t)
	for _, tt := range validateCases {
		t.Run(tt.name, func(t *testing.T) {
			p, err := validate(e.clients[tt.client], tt.q, tt.pushed)
			if got := errCode(t, err); got != tt.code {
				t.Fatalf("code = %q, want %q (%v)", got, tt.code, err)
			}
			if err != nil {
				var re *redirectError
				isRedirect := errors.As(err, &re)
				if isRedirect != tt.redirect {
					t.Fatalf("redirectable = %v, want %v", isRedirect, tt.redirect)
				}
				if isRedirect && (re.redirectURI != tt.q.Get("redirect_uri") || re.state != tt.q.Get("state")) {
					t.Errorf("redirect error to %q with state %q", re.redirectURI, re.state)
				}
				return
			}
			if tt.check != nil {
				tt.check(t, tt.q, p)
			}
		})
	}
}

// FuzzValidate feeds random parameter maps to validate and checks that
// whatever it accepts is safe: a registered redirect URI, S256 PKCE,
// response_type=code, scopes within the client's, state and nonce intact.
// Failures never point at an unvalidated redirect URI.
func FuzzValidate(f *testing.F) {
	for _, tt := range validateCases {
		f.Add(uint8(slices.Index(clientIDs, tt.client)), tt.pushed, tt.q.Encode())
	}
	e := newEnv(f)
	f.Fuzz(func(t *testing.T, idx uint8, pushed bool, raw string) {
		c := e.clients[clientIDs[int(idx)%len(clientIDs)]]
		q, _ := url.ParseQuery(raw) // partial maps are maps too
		p, err := validate(c, q, pushed)
		if err != nil {
			if _, ok := oauth.As(err); !ok {
				t.Fatalf("error %v is not an *oauth.Error", err)
			}
			var re *redirectError
			if errors.As(err, &re) {
				if pushed {
					t.Fatal("PAR error marked for redirect")
				}
				if !MatchRedirectURI(c.RedirectURIs, re.redirectURI) || len(re.state) > MaxStateLength {
					t.Fatalf("error would be sent to unvalidated %q", re.redirectURI)
				}
			}
			return
		}
		switch {
		case !MatchRedirectURI(c.RedirectURIs, p.RedirectURI):
			t.Fatalf("accepted unregistered redirect_uri %q", p.RedirectURI)
		case q.Get("redirect_uri") != "" && p.RedirectURI != q.Get("redirect_uri"):
			t.Fatalf("redirect_uri changed from %q to %q", q.Get("redirect_uri"), p.RedirectURI)
		case c.Profile().RequirePAR && q.Get("redirect_uri") == "":
			t.Fatal("fapi2 request without redirect_uri accepted")
		case q.Get("response_type") != "code":
			t.Fatalf("accepted response_type %q", q.Get("response_type"))
		case q.Get("code_challenge_method") != "S256" || p.CodeChallenge != q.Get("code_challenge") || !validChallenge(p.CodeChallenge):
			t.Fatalf("accepted PKCE %q/%q", q.Get("code_challenge_method"), q.Get("code_challenge"))
		case !p.Scopes.SubsetOf(c.Scopes):
			t.Fatalf("accepted scopes %v beyond %v", p.Scopes, c.Scopes)
		case p.State != q.Get("state") || p.Nonce != q.Get("nonce"):
			t.Fatal("state or nonce altered")
		case pushed && (q.Has("request_uri") || q.Has("request")):
			t.Fatal("request_uri or request accepted at PAR")
		case p.ClientID != c.ID || !c.AllowsGrant(oauth.GrantAuthorizationCode):
			t.Fatalf("params for %q from client %q", p.ClientID, c.ID)
		}
	})
}
