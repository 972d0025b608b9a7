package authorize

import (
	"crypto/rand"
	"fmt"
	"strings"

	"github.com/bulwarkauth/bulwark/internal/store"
)

// User codes follow RFC 8628 §6.1: eight characters from its example
// alphabet of 20 consonants, "BCDFGHJKLMNPQRSTVWXZ" (no vowels, so no
// words can form; no digits, so no 0/O or 1/I), shown as XXXX-XXXX. That
// is 20^8 ≈ 2^34.6 codes, which is enough only together with the rate limit
// on code entry (RFC 8628 §5.1: "it is recommended that the server
// rate-limit user code attempts") and the code's short life.
const (
	userCodeAlphabet = "BCDFGHJKLMNPQRSTVWXZ"
	userCodeLength   = 8
	// maxUserCodeInput bounds what NormalizeUserCode looks at; a real code
	// with generous spacing is far shorter.
	maxUserCodeInput = 64
)

// newUserCode returns a fresh user code in normalised form (eight capital
// letters, no dash), drawn uniformly from crypto/rand.
func newUserCode() string {
	var out [userCodeLength]byte
	var buf [32]byte
	n := 0
	for n < len(out) {
		if _, err := rand.Read(buf[:]); err != nil {
			panic(fmt.Sprintf("authorize: no randomness: %v", err))
		}
		for _, b := range buf {
			// 240 is the largest multiple of 20 below 256: rejecting
			// the rest keeps every letter equally likely.
			if b >= 240 {
				continue
			}
			out[n] = userCodeAlphabet[b%20]
			if n++; n == len(out) {
				break
			}
		}
	}
	return string(out[:])
}

// NormalizeUserCode turns what a user typed into the stored form of a
// user code: ASCII letters upper-cased, dashes and ASCII white space
// dropped. It reports false when the result cannot be a user code (wrong
// length, a character outside the alphabet, non-ASCII input, or more than
// 64 bytes), so a malformed entry never reaches the store.
func NormalizeUserCode(s string) (string, bool) {
	if len(s) > maxUserCodeInput {
		return "", false
	}
	var out [userCodeLength]byte
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '-' || c == ' ' || c == '\t' || c == '\n' || c == '\r':
			continue
		case 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
		}
		// Only ASCII is compared, byte by byte: Unicode case mapping
		// would let "ſ" (U+017F) stand for S.
		if n == len(out) || strings.IndexByte(userCodeAlphabet, c) < 0 {
			return "", false
		}
		out[n] = c
		n++
	}
	if n != len(out) {
		return "", false
	}
	return string(out[:]), true
}

// FormatUserCode returns a normalised user code as it is shown to users:
// XXXX-XXXX.
func FormatUserCode(code string) string {
	if len(code) != userCodeLength {
		return code
	}
	return code[:4] + "-" + code[4:]
}

// userCodeHash is the store key of a normalised user code. The prefix
// keeps it apart from hashes of other secrets.
func userCodeHash(code string) string { return store.Hash("user_code:" + code) }
