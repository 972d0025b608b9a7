package jose

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"fmt"
	"math/big"
)

// This file holds the two primitives internal/dpop needs to check a proof
// without go-jose's JWS parser: a proof is verified on every token request
// and every resource request, and go-jose's generic parse (its own JSON
// decoder over the header, then a second pass over the embedded JWK and a
// copy of every part) costs a large share of one ES256 verification. The
// key handling stays here, where the allow-list and the strength floor are.

// DecodeJSON decodes a JOSE header or JWT claims set into v. Unlike
// encoding/json it matches member names case-sensitively, as RFC 7515 §4
// and RFC 7519 §4 require: a header member "ALG" is not "alg", and a claim
// "HTU" never fills the htu field.
func DecodeJSON(data []byte, v any) error { return decodeClaims(data, v) }

// VerifySignature checks a JWS signature (RFC 7515 §5.2) made with alg over
// signingInput, the ASCII bytes BASE64URL(header) "." BASE64URL(payload).
// sig is the decoded signature. It returns ErrNoKey when the key cannot
// verify alg (wrong type or curve, a different declared alg, or a use other
// than "sig"), ErrWeakKey when the key is below the strength floor, and
// ErrSignature when the signature does not verify. alg must be one of
// FAPIAlgorithms: no key is ever used as an HMAC secret.
func (k *PublicKey) VerifySignature(alg string, signingInput, sig []byte) error {
	if k == nil || !k.compatible(alg) {
		return ErrNoKey
	}
	if err := checkPublicKey(k.jwk.Key); err != nil {
		return err
	}
	var ok bool
	switch pk := k.jwk.Key.(type) {
	case *ecdsa.PublicKey:
		ok = verifyES256(pk, signingInput, sig)
	case ed25519.PublicKey:
		// ed25519.Verify rejects signatures that are not 64 bytes.
		ok = ed25519.Verify(pk, signingInput, sig)
	case *rsa.PublicKey:
		h := sha256.Sum256(signingInput)
		// RFC 7518 §3.5: "The size of the salt value is the same size
		// as the hash function output." Auto-detecting the salt would
		// accept signatures no conforming signer produces.
		opts := &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}
		ok = rsa.VerifyPSS(pk, crypto.SHA256, h[:], sig, opts) == nil
	}
	if !ok {
		return fmt.Errorf("%w: %s", ErrSignature, alg)
	}
	return nil
}

// verifyES256 checks a JWS ES256 signature: RFC 7518 §3.4 requires the
// 64-byte concatenation R ‖ S, not the ASN.1 form crypto/ecdsa produces.
func verifyES256(pk *ecdsa.PublicKey, signingInput, sig []byte) bool {
	if len(sig) != 64 {
		return false
	}
	h := sha256.Sum256(signingInput)
	r := new(big.Int).SetBytes(sig[:32])
	s := new(big.Int).SetBytes(sig[32:])
	return ecdsa.Verify(pk, h[:], r, s)
}
