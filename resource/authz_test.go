package resource

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

var splitTests = []struct {
	name, value   string
	scheme, token string
	reason        string
}{
	{"ok/dpop", "DPoP abc.def.ghi", schemeDPoP, "abc.def.ghi", ""},
	{"ok/lower case", "dpop abc", schemeDPoP, "abc", ""},
	{"ok/upper case", "DPOP abc", schemeDPoP, "abc", ""},
	{"ok/bearer mixed case", "bEaReR a-b_c~d+e/f==", schemeBearer, "a-b_c~d+e/f==", ""},
	{"ok/extra spaces", "  Bearer   abc  ", schemeBearer, "abc", ""},
	{"fail/basic", "Basic dXNlcjpwYXNz", "", "", ReasonNoCredentials},
	{"fail/scheme only", "Bearer", schemeBearer, "", ReasonMalformedAuth},
	{"fail/empty", "", "", "", ReasonMalformedAuth},
	{"fail/two tokens", "Bearer a b", schemeBearer, "", ReasonMalformedAuth},
	{"fail/comma joined", "DPoP a, Bearer b", schemeDPoP, "", ReasonMultipleAuth},
	{"fail/padding inside", "Bearer a=b", schemeBearer, "", ReasonMalformedAuth},
	{"fail/only padding", "Bearer ==", schemeBearer, "", ReasonMalformedAuth},
	{"fail/non-ascii", "Bearer ä", schemeBearer, "", ReasonMalformedAuth},
	{"fail/tab inside token", "Bearer a\tb", schemeBearer, "", ReasonMalformedAuth},
	{"fail/too long", "Bearer " + strings.Repeat("a", MaxTokenSize+1), schemeBearer, "", ReasonMalformedAuth},
}

func TestSplitAuthorization(t *testing.T) {
	for _, tt := range splitTests {
		t.Run(tt.name, func(t *testing.T) {
			a, reason := splitAuthorization(tt.value)
			if reason != tt.reason || a.scheme != tt.scheme || a.token != tt.token {
				t.Errorf("splitAuthorization(%q) = %+v, %q; want {%s %s}, %q", tt.value, a, reason, tt.scheme, tt.token, tt.reason)
			}
		})
	}
}

// FuzzSplitAuthorization: any header value either yields a Bearer or DPoP
// token68 that parses back to itself, or a reason; never a panic.
func FuzzSplitAuthorization(f *testing.F) {
	for _, tt := range splitTests {
		f.Add(tt.value)
	}
	f.Fuzz(func(t *testing.T, value string) {
		a, reason := splitAuthorization(value)
		if reason != "" {
			if a.token != "" {
				t.Fatalf("%q: token %q with reason %q", value, a.token, reason)
			}
			return
		}
		if a.scheme != schemeBearer && a.scheme != schemeDPoP || !isToken68(a.token) || len(a.token) > MaxTokenSize {
			t.Fatalf("%q: accepted %+v", value, a)
		}
		if b, r := splitAuthorization(a.scheme + " " + a.token); r != "" || b != a {
			t.Fatalf("%q: round trip %+v, %q", value, b, r)
		}
	})
}

// FuzzCheck drives the whole pipeline with hostile Authorization and DPoP
// values: Check never panics, never accepts (the issuer is unreachable, so
// no key verifies anything), and always answers with a status of
// RFC 6750 §3.1 or a fail-closed 5xx, and well-formed challenges.
func FuzzCheck(f *testing.F) {
	for _, tt := range splitTests {
		f.Add(tt.value, "")
	}
	f.Add("DPoP eyJhbGciOiJFUzI1NiIsInR5cCI6ImF0K2p3dCJ9.e30.c2ln", "not.a.jwt")
	f.Add("DPoP x", "eyJ0eXAiOiJkcG9wK2p3dCJ9.e30.AA")
	f.Add("Bearer opaque", "")
	v := &Verifier{
		Issuer: "http://127.0.0.1:1", Audiences: []string{"https://api.example"}, BaseURL: "https://api.example",
		Replay: NewMemoryReplayCache(), AllowBearer: true,
	}
	f.Fuzz(func(t *testing.T, auth, proof string) {
		r := httptest.NewRequest(http.MethodGet, "/x", nil)
		r.Header["Authorization"] = []string{auth}
		if proof != "" {
			r.Header["Dpop"] = []string{proof}
		}
		tok, err := v.Check(r)
		if err == nil {
			t.Fatalf("accepted %q: %+v", auth, tok)
		}
		e, ok := err.(*Error)
		if !ok {
			t.Fatalf("error %T", err)
		}
		switch e.Status {
		case 400, 401, 503:
		default:
			t.Fatalf("status %d for %q", e.Status, auth)
		}
		for _, c := range e.Header.Values("Www-Authenticate") {
			if strings.ContainsAny(c, "\r\n") {
				t.Fatalf("challenge %q", c)
			}
		}
	})
}
