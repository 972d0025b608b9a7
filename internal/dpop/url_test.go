package dpop_test

import (
	"strings"
	"testing"

	"github.com/bulwarkauth/bulwark/internal/dpop"
)

var normalizeCases = []struct {
	name string
	in   string
	want string // empty: must fail
}{
	{"ok/already normal", "https://as.example/token", "https://as.example/token"},
	{"ok/upper-case scheme and host, default port", "HTTPS://AS.Example:443/token", "https://as.example/token"},
	{"ok/http default port", "http://as.example:80/token", "http://as.example/token"},
	{"ok/empty port", "https://as.example:/token", "https://as.example/token"},
	{"ok/other port kept", "https://as.example:8443/token", "https://as.example:8443/token"},
	{"ok/443 on http kept", "http://as.example:443/token", "http://as.example:443/token"},
	{"ok/query and fragment stripped", "https://as.example/token?a=b&c#frag", "https://as.example/token"},
	{"ok/fragment with question mark", "https://as.example/token#a?b", "https://as.example/token"},
	{"ok/empty path", "https://as.example", "https://as.example/"},
	{"ok/empty path with query", "https://as.example?x", "https://as.example/"},
	{"ok/path case kept", "https://as.example/Token", "https://as.example/Token"},
	{"ok/trailing slash kept", "https://as.example/token/", "https://as.example/token/"},
	{"ok/double slash kept", "https://as.example//token", "https://as.example//token"},
	{"ok/dot segments", "https://as.example/a/b/c/./../../g", "https://as.example/a/g"},
	{"ok/dot-dot above root", "https://as.example/../token", "https://as.example/token"},
	{"ok/trailing dot-dot", "https://as.example/a/b/..", "https://as.example/a/"},
	{"ok/encoded unreserved decoded", "https://as.example/%7Euser/%74oken", "https://as.example/~user/token"},
	{"ok/encoded dots removed", "https://as.example/a/%2E%2E/token", "https://as.example/token"},
	{"ok/escape hex upper-cased", "https://as.example/a%2fb", "https://as.example/a%2Fb"},
	{"ok/space escaped", "https://as.example/a b", "https://as.example/a%20b"},
	{"ok/ipv6", "https://[2001:DB8::1]:443/token", "https://[2001:db8::1]/token"},
	{"ok/ipv6 other port", "http://[::1]:8080/", "http://[::1]:8080/"},
	{"fail/relative", "/token", ""},
	{"fail/no scheme", "as.example/token", ""},
	{"fail/scheme relative", "//as.example/token", ""},
	{"fail/other scheme", "ftp://as.example/token", ""},
	{"fail/opaque", "https:as.example", ""},
	{"fail/no host", "https:///token", ""},
	{"fail/userinfo", "https://user@as.example/token", ""},
	{"fail/bad escape", "https://as.example/%zz", ""},
	{"fail/bad port", "https://as.example:x/token", ""},
	{"fail/ipv6 zone", "https://[fe80::1%25en0]/token", ""},
	{"fail/control character", "https://as.example/\x00", ""},
	{"fail/too long", "https://as.example/" + strings.Repeat("a", 5000), ""},
	{"fail/empty", "", ""},
}

func TestNormalizeURL(t *testing.T) {
	for _, tc := range normalizeCases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := dpop.NormalizeURL(tc.in)
			if tc.want == "" {
				if err == nil {
					t.Fatalf("NormalizeURL(%q) = %q, want an error", tc.in, got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("NormalizeURL(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
}

// FuzzNormalizeURL checks that NormalizeURL never panics, that its output
// is a fixed point, and that it never keeps a query or fragment.
func FuzzNormalizeURL(f *testing.F) {
	for _, tc := range normalizeCases {
		f.Add(tc.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := dpop.NormalizeURL(in)
		if err != nil {
			return
		}
		again, err := dpop.NormalizeURL(out)
		if err != nil || again != out {
			t.Fatalf("NormalizeURL(%q) = %q, but NormalizeURL(%q) = %q, %v", in, out, out, again, err)
		}
		if strings.ContainsAny(out, "?#") {
			t.Fatalf("NormalizeURL(%q) = %q keeps a query or fragment", in, out)
		}
	})
}
