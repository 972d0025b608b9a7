package jose

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	gojose "github.com/go-jose/go-jose/v4"
)

// This file holds what internal/dpop needs to check a proof without
// go-jose's JWS parser: a proof is verified on every token request and
// every resource request, and go-jose's generic parse (reflection-based
// JSON over the header, a second pass over the embedded JWK, the JWK's own
// thumbprint encoding) costs a large share of one ES256 verification. Key
// handling stays here, with the allow-list and the strength floor.

// HeaderJWK holds the members of a JWK embedded in a JOSE header (the jwk
// parameter, RFC 7515 §4.1.3) as the caller's parser found them. Call
// Parse to get a checked key; a HeaderJWK itself proves nothing.
type HeaderJWK struct {
	// Kty, Crv, X, Y, N, E, Alg and Use are the members of those names,
	// KeyID is kid. Empty means absent.
	Kty, Crv, X, Y, N, E, Alg, Use, KeyID string
	// Private reports that the JWK had a member for which
	// IsPrivateJWKMember is true. Such a key is never accepted.
	Private bool
}

// IsPrivateJWKMember reports whether name is a JWK member that carries
// private key material (RFC 7518 §6.2.2 and §6.3.2, RFC 8037 §2) or a
// symmetric key (RFC 7518 §6.4.1).
func IsPrivateJWKMember(name string) bool {
	switch name {
	case "d", "p", "q", "dp", "dq", "qi", "oth", "k":
		return true
	}
	return false
}

// ErrPrivateJWK reports a JWK that carries private or symmetric key
// material where only a public key may appear.
var ErrPrivateJWK = errors.New("jose: JWK contains private or symmetric key material")

// Parse returns the public key j describes and its RFC 7638 thumbprint
// (the same value as PublicKey.Thumbprint), with the checks of
// ParsePublicJWK: no private or symmetric material, a supported key type,
// and the strength floor. EC keys must be on P-256, the only curve an
// allowed algorithm (ES256) uses; they are built here directly because a
// DPoP proof carries one on every request. Other key types go through
// go-jose's JWK parser.
func (j *HeaderJWK) Parse() (*PublicKey, string, error) {
	if j.Private {
		return nil, "", ErrPrivateJWK
	}
	if j.Kty != "EC" {
		// Re-encoding only the public members drops anything go-jose
		// would check but Bulwark never uses (x5c, key_ops).
		m := map[string]string{}
		for k, v := range map[string]string{
			"kty": j.Kty, "crv": j.Crv, "x": j.X, "n": j.N, "e": j.E,
			"alg": j.Alg, "use": j.Use, "kid": j.KeyID,
		} {
			if v != "" {
				m[k] = v
			}
		}
		b, err := json.Marshal(m)
		if err != nil {
			return nil, "", fmt.Errorf("jose: JWK: %w", err)
		}
		k, err := ParsePublicJWK(b)
		if err != nil {
			return nil, "", err
		}
		return k, k.Thumbprint(), nil
	}
	if j.Crv != "P-256" {
		return nil, "", fmt.Errorf("%w: EC curve %q", ErrWeakKey, j.Crv)
	}
	// RFC 7518 §6.2.1.2: x and y are "the full size of a coordinate for
	// the curve", 32 bytes for P-256.
	var point [65]byte
	point[0] = 4 // SEC 1 §2.3.3 uncompressed form
	if !decodeCoordinate(point[1:33], j.X) || !decodeCoordinate(point[33:], j.Y) {
		return nil, "", errors.New("jose: invalid EC JWK coordinates")
	}
	pk, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), point[:])
	if err != nil {
		return nil, "", fmt.Errorf("jose: EC JWK: %w", err) // not on the curve
	}
	// RFC 7638 §3.2: the required members in lexicographic order, no
	// whitespace. Strict decoding above means X and Y are already the
	// canonical encodings of the coordinates.
	sum := sha256.Sum256([]byte(`{"crv":"P-256","kty":"EC","x":"` + j.X + `","y":"` + j.Y + `"}`))
	key := &PublicKey{jwk: gojose.JSONWebKey{Key: pk, KeyID: j.KeyID, Algorithm: j.Alg, Use: j.Use}}
	return key, base64.RawURLEncoding.EncodeToString(sum[:]), nil
}

// decodeCoordinate decodes an unpadded base64url coordinate into dst,
// which it must fill exactly.
func decodeCoordinate(dst []byte, s string) bool {
	if base64.RawURLEncoding.DecodedLen(len(s)) != len(dst) {
		return false
	}
	n, err := base64.RawURLEncoding.Strict().Decode(dst, []byte(s))
	return err == nil && n == len(dst)
}

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
// 64-byte concatenation R ‖ S, which is re-encoded here as the ASN.1
// ECDSA-Sig-Value crypto/ecdsa verifies (without big.Int round trips).
func verifyES256(pk *ecdsa.PublicKey, signingInput, sig []byte) bool {
	if len(sig) != 64 {
		return false
	}
	h := sha256.Sum256(signingInput)
	var der [72]byte // SEQUENCE { INTEGER r, INTEGER s }, each ≤ 33 bytes
	n := 2
	for _, v := range [][]byte{sig[:32], sig[32:]} {
		for len(v) > 0 && v[0] == 0 {
			v = v[1:] // DER integers are minimal
		}
		pad := len(v) > 0 && v[0]&0x80 != 0 // and positive
		l := len(v)
		if pad {
			l++
		}
		der[n], der[n+1] = 0x02, byte(l)
		n += 2
		if pad {
			der[n] = 0
			n++
		}
		n += copy(der[n:], v)
	}
	der[0], der[1] = 0x30, byte(n-2)
	// A zero r or s encodes as an empty INTEGER, which VerifyASN1 rejects.
	return ecdsa.VerifyASN1(pk, h[:], der[:n])
}
