package authorize

import (
	"strings"
	"testing"
)

// userCodeTests double as the fuzz seeds of FuzzNormalizeUserCode.
var userCodeTests = []struct {
	name, in, want string
	ok             bool
}{
	{"ok/display_form", "WDJB-MJHT", "WDJBMJHT", true},
	{"ok/no_dash", "WDJBMJHT", "WDJBMJHT", true},
	{"ok/lower_case", "wdjb-mjht", "WDJBMJHT", true},
	{"ok/mixed_case", "wDjB-mJhT", "WDJBMJHT", true},
	{"ok/spaces", " WDJB MJHT ", "WDJBMJHT", true},
	{"ok/tabs_newlines", "\tWDJB\r\nMJHT\n", "WDJBMJHT", true},
	{"ok/many_dashes", "W-D-J-B-M-J-H-T", "WDJBMJHT", true},
	{"ok/dash_only_around", "--WDJBMJHT--", "WDJBMJHT", true},
	{"fail/empty", "", "", false},
	{"fail/only_separators", " - - ", "", false},
	{"fail/too_short", "WDJB-MJH", "", false},
	{"fail/too_long", "WDJB-MJHTB", "", false},
	{"fail/vowel", "WDJB-MJHA", "", false},
	{"fail/digit", "WDJB-MJH1", "", false},
	{"fail/zero_for_o", "WDJB-0JHT", "", false},
	{"fail/punctuation", "WDJB.MJHT", "", false},
	{"fail/underscore", "WDJB_MJHT", "", false},
	{"fail/long_s", "WDJB-MJH\u017f", "", false},    // upper-cases to S in Unicode
	{"fail/kelvin", "WDJB-MJH\u212a", "", false},    // KELVIN SIGN lower-cases to k
	{"fail/fullwidth", "\uff37DJB-MJHT", "", false}, // FULLWIDTH W
	{"fail/nbsp", "WDJB\u00a0MJHT", "", false},
	{"fail/nul", "WDJB\x00MJHT", "", false},
	{"fail/oversized", strings.Repeat(" ", 60) + "WDJBMJHT", "", false},
}

func TestNormalizeUserCode(t *testing.T) {
	for _, tt := range userCodeTests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := NormalizeUserCode(tt.in)
			if got != tt.want || ok != tt.ok {
				t.Errorf("NormalizeUserCode(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
			}
		})
	}
}

// FuzzNormalizeUserCode checks the normaliser's contract on any input: a
// result is eight letters of the alphabet, is its own normal form, and
// survives the display form; anything else is refused with "".
func FuzzNormalizeUserCode(f *testing.F) {
	for _, tt := range userCodeTests {
		f.Add(tt.in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, ok := NormalizeUserCode(in)
		if !ok {
			if got != "" {
				t.Fatalf("refused %q but returned %q", in, got)
			}
			return
		}
		if len(in) > maxUserCodeInput {
			t.Fatalf("accepted %d bytes of input", len(in))
		}
		if len(got) != userCodeLength || strings.Trim(got, userCodeAlphabet) != "" {
			t.Fatalf("NormalizeUserCode(%q) = %q: not %d alphabet letters", in, got, userCodeLength)
		}
		for _, form := range []string{got, FormatUserCode(got), strings.ToLower(FormatUserCode(got))} {
			if again, ok := NormalizeUserCode(form); !ok || again != got {
				t.Fatalf("NormalizeUserCode(%q) = %q, %v; want %q", form, again, ok, got)
			}
		}
	})
}

func TestNewUserCode(t *testing.T) {
	counts := map[rune]int{}
	seen := map[string]bool{}
	const n = 2000
	for range n {
		c := newUserCode()
		if norm, ok := NormalizeUserCode(c); !ok || norm != c {
			t.Fatalf("newUserCode() = %q, which is not in normal form", c)
		}
		if seen[c] {
			t.Fatalf("newUserCode() repeated %q within %d draws", c, n)
		}
		seen[c] = true
		for _, r := range c {
			counts[r]++
		}
	}
	// Every letter of the alphabet shows up, none far more often than the
	// others: 16 000 letters over 20 is 800 each; a modulo-biased or
	// truncated alphabet shows here.
	if len(counts) != len(userCodeAlphabet) {
		t.Errorf("%d distinct letters, want %d", len(counts), len(userCodeAlphabet))
	}
	for r, c := range counts {
		if c < 600 || c > 1000 {
			t.Errorf("letter %c drawn %d times of %d, want about 800", r, c, n*userCodeLength)
		}
	}
}

func TestFormatUserCode(t *testing.T) {
	if got := FormatUserCode("WDJBMJHT"); got != "WDJB-MJHT" {
		t.Errorf("FormatUserCode = %q, want WDJB-MJHT", got)
	}
}
