package oauth_test

import (
	"crypto/sha256"
	"encoding/base64"
	"strings"
	"testing"

	"github.com/bulwarkauth/bulwark/internal/oauth"
)

// s256 is the S256 code_challenge of RFC 7636 §4.2, computed here
// independently of VerifyPKCE.
func s256(verifier string) string {
	sum := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// validVerifier is RFC 7636 §4.1 "code-verifier = 43*128unreserved".
func validVerifier(v string) bool {
	if len(v) < 43 || len(v) > 128 {
		return false
	}
	for _, c := range []byte(v) {
		if !strings.ContainsRune("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~", rune(c)) {
			return false
		}
	}
	return true
}

const (
	// RFC 7636 Appendix B.
	rfcVerifier  = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
	rfcChallenge = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
)

type pkceCase struct {
	name      string
	challenge string
	verifier  string
	want      bool
}

func pkceCases() []pkceCase {
	v42 := strings.Repeat("a", 42)
	v43 := strings.Repeat("a", 43)
	v128 := strings.Repeat("Az09-._~", 16)
	v129 := v128 + "a"
	withChar := func(c string) string { return rfcVerifier[:42] + c }
	return []pkceCase{
		{"ok/rfc7636_appendix_b", rfcChallenge, rfcVerifier, true},
		{"ok/43_chars", s256(v43), v43, true},
		{"ok/128_chars_all_unreserved_classes", s256(v128), v128, true},
		{"fail/wrong_verifier", rfcChallenge, withChar("l"), false},
		{"fail/42_chars", s256(v42), v42, false},
		{"fail/129_chars", s256(v129), v129, false},
		{"fail/empty_verifier", s256(""), "", false},
		{"fail/empty_challenge", "", rfcVerifier, false},
		// RFC 7636 §4.2: FAPI 2.0 and Bulwark accept only S256; a
		// challenge equal to the verifier (plain) must not verify.
		{"fail/plain", rfcVerifier, rfcVerifier, false},
		{"fail/challenge_padded", rfcChallenge + "=", rfcVerifier, false},
		{"fail/challenge_std_base64", strings.NewReplacer("-", "+", "_", "/").Replace(rfcChallenge), rfcVerifier, false},
		{"fail/challenge_prefix", rfcChallenge[:42], rfcVerifier, false},
		{"fail/challenge_case", strings.ToLower(rfcChallenge), rfcVerifier, false},
		{"fail/challenge_hex", "75d7f2fa1d6e9aa8fe17efd1c8baee8b91b5da3c7afc5b0e00ed3aa54c5fac8a", rfcVerifier, false},
		{"fail/char_plus", s256(withChar("+")), withChar("+"), false},
		{"fail/char_slash", s256(withChar("/")), withChar("/"), false},
		{"fail/char_equals", s256(withChar("=")), withChar("="), false},
		{"fail/char_space", s256(withChar(" ")), withChar(" "), false},
		{"fail/char_percent", s256(withChar("%")), withChar("%"), false},
		{"fail/char_nul", s256(withChar("\x00")), withChar("\x00"), false},
		{"fail/char_non_ascii", s256(rfcVerifier[:41] + "é"), rfcVerifier[:41] + "é", false},
	}
}

// TestVerifyPKCE checks S256 verification (RFC 7636 §4.6) and the verifier
// grammar (§4.1): 43 to 128 unreserved characters. The failing cases carry
// the verifier's correct S256 challenge, so they fail on the rule named.
func TestVerifyPKCE(t *testing.T) {
	if got := s256(rfcVerifier); got != rfcChallenge {
		t.Fatalf("test helper s256 = %s, want the RFC value %s", got, rfcChallenge)
	}
	for _, tc := range pkceCases() {
		t.Run(tc.name, func(t *testing.T) {
			if got := oauth.VerifyPKCE(tc.challenge, tc.verifier); got != tc.want {
				t.Errorf("VerifyPKCE(%q, %q) = %v, want %v", tc.challenge, tc.verifier, got, tc.want)
			}
		})
	}
}

// FuzzVerifyPKCE: VerifyPKCE never panics and accepts exactly when the
// verifier is well-formed and the challenge is its S256 transform.
func FuzzVerifyPKCE(f *testing.F) {
	for _, tc := range pkceCases() {
		f.Add(tc.challenge, tc.verifier)
	}
	f.Fuzz(func(t *testing.T, challenge, verifier string) {
		want := validVerifier(verifier) && challenge == s256(verifier)
		if got := oauth.VerifyPKCE(challenge, verifier); got != want {
			t.Fatalf("VerifyPKCE(%q, %q) = %v, want %v", challenge, verifier, got, want)
		}
		if got, want := oauth.VerifyPKCE(s256(verifier), verifier), validVerifier(verifier); got != want {
			t.Fatalf("VerifyPKCE(S256(v), %q) = %v, want %v", verifier, got, want)
		}
	})
}

func BenchmarkVerifyPKCE(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if !oauth.VerifyPKCE(rfcChallenge, rfcVerifier) {
			b.Fatal("RFC 7636 vector rejected")
		}
	}
}
