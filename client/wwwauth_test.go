package client_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/bulwarkauth/bulwark/client"
)

var challengeTests = []struct {
	name string
	in   []string
	want []client.Challenge
}{
	{"ok/empty", []string{""}, nil},
	{"ok/scheme only", []string{"DPoP"}, []client.Challenge{{Scheme: "DPoP"}}},
	{
		"ok/dpop nonce (RFC 9449 §9)",
		[]string{`DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof"`},
		[]client.Challenge{{Scheme: "DPoP", Params: map[string]string{"error": "use_dpop_nonce", "error_description": "Resource server requires nonce in DPoP proof"}}},
	},
	{
		"ok/two challenges in one header",
		[]string{`Bearer realm="api", error=invalid_token, DPoP algs="ES256 PS256", error="use_dpop_nonce"`},
		[]client.Challenge{
			{Scheme: "Bearer", Params: map[string]string{"realm": "api", "error": "invalid_token"}},
			{Scheme: "DPoP", Params: map[string]string{"algs": "ES256 PS256", "error": "use_dpop_nonce"}},
		},
	},
	{
		"ok/two headers",
		[]string{`Bearer realm="a"`, `dpop error="use_dpop_nonce"`},
		[]client.Challenge{
			{Scheme: "Bearer", Params: map[string]string{"realm": "a"}},
			{Scheme: "dpop", Params: map[string]string{"error": "use_dpop_nonce"}},
		},
	},
	{
		"ok/quoted escapes and commas",
		[]string{`Bearer error_description="a \"quoted\", comma", ERROR = "invalid_token"`},
		[]client.Challenge{{Scheme: "Bearer", Params: map[string]string{"error_description": `a "quoted", comma`, "error": "invalid_token"}}},
	},
	{
		"ok/token68 then another scheme",
		[]string{`Negotiate abc123==, Basic realm="x"`},
		[]client.Challenge{{Scheme: "Negotiate"}, {Scheme: "Basic", Params: map[string]string{"realm": "x"}}},
	},
	{
		"ok/empty list elements",
		[]string{` , ,Basic, ,DPoP error="x"`},
		[]client.Challenge{{Scheme: "Basic"}, {Scheme: "DPoP", Params: map[string]string{"error": "x"}}},
	},
	{
		"ok/unterminated quote",
		[]string{`DPoP error="use_dpop_nonce`},
		[]client.Challenge{{Scheme: "DPoP", Params: map[string]string{"error": "use_dpop_nonce"}}},
	},
	{
		"ok/garbage is skipped",
		[]string{`=== , DPoP error="e" junk junk, Bearer`},
		[]client.Challenge{{Scheme: "DPoP", Params: map[string]string{"error": "e"}}, {Scheme: "Bearer"}},
	},
}

func TestParseChallenges(t *testing.T) {
	for _, tt := range challengeTests {
		t.Run(tt.name, func(t *testing.T) {
			got := client.ParseChallenges(tt.in)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ParseChallenges(%q) (-want +got):\n%s", tt.in, diff)
			}
		})
	}
}

// FuzzParseChallenges feeds the table and arbitrary headers to the parser:
// it must never panic, and must stay bounded.
func FuzzParseChallenges(f *testing.F) {
	for _, tt := range challengeTests {
		f.Add(strings.Join(tt.in, "\n"))
	}
	f.Fuzz(func(t *testing.T, s string) {
		chs := client.ParseChallenges(strings.Split(s, "\n"))
		for _, ch := range chs {
			if ch.Scheme == "" {
				t.Fatalf("empty scheme from %q", s)
			}
			if len(ch.Params) > 32 {
				t.Fatalf("%d params", len(ch.Params))
			}
		}
	})
}
