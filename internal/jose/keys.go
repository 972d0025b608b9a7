package jose

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	gojose "github.com/go-jose/go-jose/v4"
)

// Algorithm names accepted by Bulwark (FAPI 2.0 SP §5.4.1).
const (
	PS256 = "PS256"
	ES256 = "ES256"
	EdDSA = "EdDSA"
)

// FAPIAlgorithms is the allow-list FAPI 2.0 SP §5.4.1-1.2 permits for every
// JWT: client assertions, ID tokens, DPoP proofs and access tokens.
var FAPIAlgorithms = []string{PS256, ES256, EdDSA}

// MinRSABits is the smallest RSA modulus accepted (FAPI 2.0 SP §5.4.1-2).
const MinRSABits = 2048

// ErrWeakKey reports a key below the strength floor or of an unsupported type.
var ErrWeakKey = errors.New("jose: key type or size not allowed")

// PublicKey is a parsed, strength-checked public JWK. The zero value is not
// valid; obtain one from ParseKeySet or ParsePublicJWK.
type PublicKey struct {
	jwk gojose.JSONWebKey
}

// KeyID returns the key's kid, which may be empty.
func (k *PublicKey) KeyID() string { return k.jwk.KeyID }

// Algorithm returns the key's declared alg, which may be empty.
func (k *PublicKey) Algorithm() string { return k.jwk.Algorithm }

// Thumbprint returns the RFC 7638 SHA-256 JWK thumbprint, base64url-encoded
// without padding (the form RFC 9449 uses for jkt).
func (k *PublicKey) Thumbprint() string {
	tp, err := k.jwk.Thumbprint(crypto.SHA256)
	if err != nil {
		// Unreachable for keys that passed checkKey: thumbprints are
		// defined for every key type we accept.
		return ""
	}
	return base64.RawURLEncoding.EncodeToString(tp)
}

// MarshalJSON renders the public JWK.
func (k *PublicKey) MarshalJSON() ([]byte, error) { return k.jwk.MarshalJSON() }

// CertificateThumbprints returns the base64url SHA-256 thumbprints of the
// DER certificates in the key's x5c chain (RFC 8705 self-signed matching).
func (k *PublicKey) CertificateThumbprints() []string {
	out := make([]string, 0, len(k.jwk.Certificates))
	for _, c := range k.jwk.Certificates {
		sum := sha256.Sum256(c.Raw)
		out = append(out, base64.RawURLEncoding.EncodeToString(sum[:]))
	}
	return out
}

// compatible reports whether the key can verify signatures made with alg.
func (k *PublicKey) compatible(alg string) bool {
	if k.jwk.Algorithm != "" && k.jwk.Algorithm != alg {
		return false
	}
	if k.jwk.Use != "" && k.jwk.Use != "sig" {
		return false
	}
	switch pk := k.jwk.Key.(type) {
	case *rsa.PublicKey:
		return alg == PS256
	case *ecdsa.PublicKey:
		return alg == ES256 && pk.Curve == elliptic.P256()
	case ed25519.PublicKey:
		return alg == EdDSA
	}
	return false
}

// checkPublicKey enforces the key-strength floor.
func checkPublicKey(key any) error {
	switch pk := key.(type) {
	case *rsa.PublicKey:
		if pk.N.BitLen() < MinRSABits {
			return fmt.Errorf("%w: RSA key of %d bits", ErrWeakKey, pk.N.BitLen())
		}
	case *ecdsa.PublicKey:
		if pk.Curve.Params().BitSize < 256 {
			return fmt.Errorf("%w: EC curve %s", ErrWeakKey, pk.Curve.Params().Name)
		}
	case ed25519.PublicKey:
	default:
		return fmt.Errorf("%w: %T", ErrWeakKey, key)
	}
	return nil
}

// ParsePublicJWK parses one public JWK, rejecting private or symmetric keys
// and keys below the strength floor.
func ParsePublicJWK(data []byte) (*PublicKey, error) {
	var jwk gojose.JSONWebKey
	if err := jwk.UnmarshalJSON(data); err != nil {
		return nil, fmt.Errorf("jose: parse JWK: %w", err)
	}
	return newPublicKey(jwk)
}

func newPublicKey(jwk gojose.JSONWebKey) (*PublicKey, error) {
	if !jwk.Valid() {
		return nil, errors.New("jose: invalid JWK")
	}
	if !jwk.IsPublic() {
		return nil, errors.New("jose: JWK contains private or symmetric key material")
	}
	if err := checkPublicKey(jwk.Key); err != nil {
		return nil, err
	}
	return &PublicKey{jwk: jwk}, nil
}

// KeySet is an immutable set of public keys, safe for concurrent use.
type KeySet struct {
	keys []*PublicKey
}

// ParseKeySet parses a JWKS document ({"keys": [...]}) and checks every
// key. One bad key fails the whole set, so a misconfigured client is noticed
// at registration rather than at its first login.
func ParseKeySet(data []byte) (*KeySet, error) {
	var raw struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, fmt.Errorf("jose: parse JWKS: %w", err)
	}
	ks := &KeySet{}
	for i, r := range raw.Keys {
		k, err := ParsePublicJWK(r)
		if err != nil {
			return nil, fmt.Errorf("jose: JWKS key %d: %w", i, err)
		}
		ks.keys = append(ks.keys, k)
	}
	return ks, nil
}

// Len returns the number of keys in the set.
func (s *KeySet) Len() int {
	if s == nil {
		return 0
	}
	return len(s.keys)
}

// Keys returns the keys in the set.
func (s *KeySet) Keys() []*PublicKey { return slices.Clone(s.keys) }

// Candidates returns the keys that may have produced a signature with kid
// and alg. When kid is set only keys with that kid are considered, and among
// several with the same kid the key type and alg decide (FAPI 2.0 SP
// §5.4.3). Without a kid every compatible key is a candidate.
func (s *KeySet) Candidates(kid, alg string) []*PublicKey {
	if s == nil {
		return nil
	}
	var out []*PublicKey
	for _, k := range s.keys {
		if kid != "" && k.jwk.KeyID != kid {
			continue
		}
		if k.compatible(alg) {
			out = append(out, k)
		}
	}
	return out
}

// MarshalJSON renders the set as a JWKS document.
func (s *KeySet) MarshalJSON() ([]byte, error) {
	keys := make([]gojose.JSONWebKey, 0, s.Len())
	for _, k := range s.keys {
		keys = append(keys, k.jwk)
	}
	return json.Marshal(gojose.JSONWebKeySet{Keys: keys})
}

// PrivateKey is one of the server's signing keys.
type PrivateKey struct {
	jwk gojose.JSONWebKey
}

// GenerateKey creates a new signing key for alg with a random kid.
// PS256 keys are 3072-bit RSA; ES256 uses P-256; EdDSA uses Ed25519.
func GenerateKey(alg string) (*PrivateKey, error) {
	var key crypto.Signer
	var err error
	switch alg {
	case PS256:
		key, err = rsa.GenerateKey(rand.Reader, 3072)
	case ES256:
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case EdDSA:
		_, key, err = ed25519.GenerateKey(rand.Reader)
	default:
		return nil, fmt.Errorf("jose: cannot generate key for %q", alg)
	}
	if err != nil {
		return nil, fmt.Errorf("jose: generate %s key: %w", alg, err)
	}
	var kid [16]byte
	if _, err := rand.Read(kid[:]); err != nil {
		return nil, err
	}
	return &PrivateKey{jwk: gojose.JSONWebKey{
		Key:       key,
		KeyID:     base64.RawURLEncoding.EncodeToString(kid[:]),
		Algorithm: alg,
		Use:       "sig",
	}}, nil
}

// ParsePrivateJWK parses a private JWK previously produced by MarshalJSON;
// its alg is required.
func ParsePrivateJWK(data []byte) (*PrivateKey, error) { return parsePrivateJWK(data, false) }

// ParseUserJWK parses a private JWK a person supplied (a client's key file):
// without alg it gets the one algorithm its key type allows. Every other
// check is ParsePrivateJWK's.
func ParseUserJWK(data []byte) (*PrivateKey, error) { return parsePrivateJWK(data, true) }

func parsePrivateJWK(data []byte, inferAlg bool) (*PrivateKey, error) {
	var jwk gojose.JSONWebKey
	if err := jwk.UnmarshalJSON(data); err != nil {
		return nil, fmt.Errorf("jose: parse private JWK: %w", err)
	}
	if jwk.IsPublic() || !jwk.Valid() {
		return nil, errors.New("jose: not a private JWK")
	}
	if inferAlg && jwk.Algorithm == "" {
		jwk.Algorithm = algorithmFor(jwk.Public().Key)
	}
	if !slices.Contains(FAPIAlgorithms, jwk.Algorithm) {
		return nil, fmt.Errorf("jose: private JWK alg %q not allowed", jwk.Algorithm)
	}
	if err := checkPublicKey(jwk.Public().Key); err != nil {
		return nil, err
	}
	return &PrivateKey{jwk: jwk}, nil
}

// KeyID returns the key's kid.
func (k *PrivateKey) KeyID() string { return k.jwk.KeyID }

// Algorithm returns the algorithm the key signs with.
func (k *PrivateKey) Algorithm() string { return k.jwk.Algorithm }

// MarshalJSON renders the private JWK. The result is secret.
func (k *PrivateKey) MarshalJSON() ([]byte, error) { return k.jwk.MarshalJSON() }

// Public returns the public half of the key.
func (k *PrivateKey) Public() *PublicKey { return &PublicKey{jwk: k.jwk.Public()} }

// NewKeySet builds a public key set from public keys.
func NewKeySet(keys ...*PublicKey) *KeySet { return &KeySet{keys: slices.Clone(keys)} }
