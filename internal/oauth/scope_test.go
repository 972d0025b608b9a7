package oauth_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bulwarkauth/bulwark/internal/oauth"
)

type scopeCase struct {
	name string
	in   string
	want oauth.Scopes
	ok   bool
}

// scopeCases is the ParseScopes table; FuzzParseScopes is seeded from it.
// RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ), joined by
// single spaces. Bulwark is lenient about the joins (empty tokens from
// repeated spaces are dropped) and strict about the tokens.
var scopeCases = []scopeCase{
	{"ok/single", "openid", oauth.Scopes{"openid"}, true},
	{"ok/sorted", "profile openid email", oauth.Scopes{"email", "openid", "profile"}, true},
	{"ok/duplicates_removed", "openid email openid email", oauth.Scopes{"email", "openid"}, true},
	{"ok/empty", "", oauth.Scopes{}, true},
	{"ok/only_spaces", "   ", oauth.Scopes{}, true},
	{"ok/extra_spaces", "  openid   email ", oauth.Scopes{"email", "openid"}, true},
	{"ok/charset_edges", "! # [ ] ~ a:b https://api.example/read", oauth.Scopes{"!", "#", "[", "]", "a:b", "https://api.example/read", "~"}, true},
	{"ok/case_sensitive", "Openid openid", oauth.Scopes{"Openid", "openid"}, true},
	{"fail/double_quote", `openid "email"`, nil, false},
	{"fail/backslash", `openid a\b`, nil, false},
	{"fail/tab_separator", "openid\temail", nil, false},
	{"fail/newline", "openid\nemail", nil, false},
	{"fail/carriage_return", "openid\r", nil, false},
	{"fail/nul", "open\x00id", nil, false},
	{"fail/del", "openid\x7f", nil, false},
	{"fail/non_ascii", "ópenid", nil, false},
	{"fail/nbsp", "openid\u00a0email", nil, false},
	{"fail/invalid_utf8", "openid \xff", nil, false},
}

func TestParseScopes(t *testing.T) {
	for _, tc := range scopeCases {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := oauth.ParseScopes(tc.in)
			if ok != tc.ok {
				t.Fatalf("ParseScopes(%q) ok = %v, want %v", tc.in, ok, tc.ok)
			}
			if !ok {
				if got != nil {
					t.Errorf("rejected input returned %q", got)
				}
				return
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("ParseScopes(%q) (-want +got):\n%s", tc.in, diff)
			}
		})
	}
}

// scopeByteOK is RFC 6749 §3.3's scope-token character set.
func scopeByteOK(c byte) bool {
	return c == 0x21 || c >= 0x23 && c <= 0x5b || c >= 0x5d && c <= 0x7e
}

// FuzzParseScopes: ParseScopes never panics, accepts exactly the inputs
// made of scope-token characters and spaces, and returns a sorted,
// duplicate-free set of non-empty tokens that round-trips through String.
func FuzzParseScopes(f *testing.F) {
	for _, tc := range scopeCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, ok := oauth.ParseScopes(in)
		wantOK := true
		for i := 0; i < len(in); i++ {
			if in[i] != ' ' && !scopeByteOK(in[i]) {
				wantOK = false
			}
		}
		if ok != wantOK {
			t.Fatalf("ParseScopes(%q) ok = %v, want %v", in, ok, wantOK)
		}
		if !ok {
			return
		}
		if !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != len(got) {
			t.Fatalf("ParseScopes(%q) = %q: not a sorted set", in, got)
		}
		for _, s := range got {
			if s == "" || strings.Contains(s, " ") {
				t.Fatalf("ParseScopes(%q) has token %q", in, s)
			}
		}
		for _, tok := range strings.Fields(in) {
			if !got.Has(tok) {
				t.Fatalf("ParseScopes(%q) lost %q", in, tok)
			}
		}
		back, ok := oauth.ParseScopes(got.String())
		if !ok || !slices.Equal(back, got) {
			t.Fatalf("round trip %q -> %q -> %q (%v)", got, got.String(), back, ok)
		}
		if !got.SubsetOf(back) || !back.SubsetOf(got) {
			t.Fatalf("round trip is not the same set")
		}
	})
}

// TestScopesSet checks the set operations consent and grants rely on.
func TestScopesSet(t *testing.T) {
	requested := oauth.NewScopes("openid", "email", "openid")
	allowed := oauth.Scopes{"profile", "openid", "email", "accounts"} // unsorted, as from configuration
	if want := (oauth.Scopes{"email", "openid"}); !slices.Equal(requested, want) {
		t.Fatalf("NewScopes = %q, want %q", requested, want)
	}
	if requested.String() != "email openid" {
		t.Errorf("String() = %q", requested.String())
	}
	tests := []struct {
		name string
		s, o oauth.Scopes
		want bool
	}{
		{"ok/subset", requested, allowed, true},
		{"ok/empty_subset", oauth.Scopes{}, allowed, true},
		{"ok/nil_subset", nil, nil, true},
		{"ok/equal", allowed, allowed, true},
		{"fail/extra_scope", oauth.NewScopes("openid", "admin"), allowed, false},
		{"fail/superset", allowed, requested, false},
		{"fail/into_empty", requested, nil, false},
		{"fail/case", oauth.Scopes{"OpenID"}, allowed, false},
		{"fail/prefix", oauth.Scopes{"open"}, allowed, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.s.SubsetOf(tc.o); got != tc.want {
				t.Errorf("%q.SubsetOf(%q) = %v, want %v", tc.s, tc.o, got, tc.want)
			}
		})
	}
	u := requested.Union(oauth.Scopes{"profile", "email"})
	if want := (oauth.Scopes{"email", "openid", "profile"}); !slices.Equal(u, want) {
		t.Errorf("Union = %q, want %q", u, want)
	}
	if !slices.Equal(requested, oauth.Scopes{"email", "openid"}) {
		t.Errorf("Union modified its receiver: %q", requested)
	}
	if oauth.Scopes(nil).Has("") || requested.Has("") {
		t.Error("Has(\"\") = true")
	}
}

// TestScopesJSON pins the JSON form used in stored codes and consents.
func TestScopesJSON(t *testing.T) {
	b, err := json.Marshal(oauth.NewScopes("openid", "email"))
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `["email","openid"]` {
		t.Errorf("Marshal = %s", b)
	}
	var s oauth.Scopes
	if err := json.Unmarshal(b, &s); err != nil || !slices.Equal(s, oauth.Scopes{"email", "openid"}) {
		t.Errorf("Unmarshal = %q, %v", s, err)
	}
}

func BenchmarkParseScopes(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := oauth.ParseScopes("openid profile email accounts payments offline_access"); !ok {
			b.Fatal("rejected")
		}
	}
}
