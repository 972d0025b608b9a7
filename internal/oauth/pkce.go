package oauth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
)

// VerifyPKCE checks a code_verifier against a stored S256 challenge
// (RFC 7636 §4.6) in constant time. The verifier must be 43-128 characters
// from the unreserved set: RFC 7636 §4.1 "code_verifier = 43*128unreserved"
// (https://www.rfc-editor.org/rfc/rfc7636#section-4.1).
func VerifyPKCE(challenge, verifier string) bool {
	if len(verifier) < 43 || len(verifier) > 128 {
		return false
	}
	for i := 0; i < len(verifier); i++ {
		c := verifier[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '.' || c == '_' || c == '~') {
			return false
		}
	}
	sum := sha256.Sum256([]byte(verifier))
	var got [43]byte
	base64.RawURLEncoding.Encode(got[:], sum[:])
	return subtle.ConstantTimeCompare(got[:], []byte(challenge)) == 1
}
