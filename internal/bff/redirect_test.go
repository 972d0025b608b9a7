package bff

import (
	"net/url"
	"strings"
	"testing"
)

var returnPaths = []struct {
	rd string
	ok bool
}{
	{"", true}, {"/", true}, {"/app/page?x=1&y=%2F", true}, {"/a#frag", true}, {"/%2F%2Fevil.example", false},
	{"//evil.example", false}, {"///evil.example", false}, {"/\\evil.example", false}, {"\\/evil.example", false},
	{"https://evil.example", false}, {"http:evil.example", false}, {"javascript:alert(1)", false},
	{"evil.example", false}, {"/\t/evil.example", false}, {"/\r\n/evil.example", false}, {"/x\x00", false},
	{" /x", false}, {"/x y", false}, {"/caf\u00e9", false}, {"/" + strings.Repeat("a", maxReturnPath), false},
}

// TestLocalPath is the table of return paths (CL-4).
func TestLocalPath(t *testing.T) {
	for _, tc := range returnPaths {
		t.Run(url.PathEscape(tc.rd), func(t *testing.T) {
			got, ok := localPath(tc.rd)
			if ok != tc.ok {
				t.Fatalf("localPath(%q) = %q, %v; want ok %v", tc.rd, got, ok, tc.ok)
			}
		})
	}
}

// FuzzLocalPath checks the invariant: an accepted path, resolved the way
// a browser resolves a Location header against the BFF's origin, stays on
// that origin, and holds no backslash or control character a browser
// might rewrite.
func FuzzLocalPath(f *testing.F) {
	for _, tc := range returnPaths {
		f.Add(tc.rd)
	}
	base, _ := url.Parse("https://bff.example/current/page")
	f.Fuzz(func(t *testing.T, rd string) {
		got, ok := localPath(rd)
		if !ok {
			return
		}
		if strings.ContainsAny(got, "\\\t\r\n") || strings.HasPrefix(got, "//") {
			t.Fatalf("accepted %q", got)
		}
		ref, err := url.Parse(got)
		if err != nil {
			t.Fatalf("accepted unparsable %q", got)
		}
		if u := base.ResolveReference(ref); u.Host != "bff.example" || u.Scheme != "https" {
			t.Fatalf("%q leaves the site: %s", got, u)
		}
	})
}
