package jose

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"

	gojose "github.com/go-jose/go-jose/v4"
)

// NewExternalKey wraps a crypto.Signer as a PrivateKey that signs with alg
// (PS256, ES256 or EdDSA; empty picks the one the key type allows), so callers outside this package, such as the
// public client library signing private_key_jwt assertions, can use a key
// they hold in any form: an in-memory key, an HSM or a KMS. kid, when set,
// is sent as the JWS kid header.
//
// The key must match alg (RSA ≥ MinRSABits for PS256, P-256 for ES256,
// Ed25519 for EdDSA); anything else is ErrWeakKey. In-memory
// *ecdsa.PrivateKey, *rsa.PrivateKey and ed25519.PrivateKey values are used
// directly and behave like generated keys. Any other signer is driven
// through its Sign method: then the key signs (SignWithKey, without an
// embedded JWK), but Public, MarshalJSON and DeriveSecret are not
// available, because its private half is out of reach.
func NewExternalKey(s crypto.Signer, alg, kid string) (*PrivateKey, error) {
	if s == nil {
		return nil, errors.New("jose: no signer")
	}
	pub := s.Public()
	if err := checkPublicKey(pub); err != nil {
		return nil, err
	}
	if alg == "" {
		alg = algorithmFor(pub)
	}
	switch pk := pub.(type) {
	case *rsa.PublicKey:
		if alg != PS256 {
			return nil, fmt.Errorf("%w: RSA key for %s", ErrWeakKey, alg)
		}
	case *ecdsa.PublicKey:
		if alg != ES256 || pk.Curve != elliptic.P256() {
			return nil, fmt.Errorf("%w: EC key on %s for %s", ErrWeakKey, pk.Curve.Params().Name, alg)
		}
	case ed25519.PublicKey:
		if alg != EdDSA {
			return nil, fmt.Errorf("%w: Ed25519 key for %s", ErrWeakKey, alg)
		}
	}
	var key any
	switch k := s.(type) {
	case *ecdsa.PrivateKey, *rsa.PrivateKey:
		key = k
	case ed25519.PrivateKey:
		key = k
	case *ed25519.PrivateKey:
		key = *k
	default:
		key = &opaque{s: s, alg: alg, kid: kid}
	}
	return &PrivateKey{jwk: gojose.JSONWebKey{Key: key, KeyID: kid, Algorithm: alg, Use: "sig"}}, nil
}

// algorithmFor is the one allowed algorithm of a public key's type (PS256
// for RSA, ES256 for EC, EdDSA for Ed25519), "" for any other type.
func algorithmFor(pub crypto.PublicKey) string {
	switch pub.(type) {
	case *rsa.PublicKey:
		return PS256
	case *ecdsa.PublicKey:
		return ES256
	case ed25519.PublicKey:
		return EdDSA
	}
	return ""
}

// Signer returns the key as a crypto.Signer: the in-memory private key, or
// the signer NewExternalKey wrapped.
func (k *PrivateKey) Signer() crypto.Signer {
	switch key := k.jwk.Key.(type) {
	case *opaque:
		return key.s
	case crypto.Signer:
		return key
	}
	return nil
}

// opaque adapts a crypto.Signer to go-jose's OpaqueSigner, converting the
// signature to the JWS form (RFC 7518 §3.4: ECDSA is R || S, not ASN.1).
type opaque struct {
	s   crypto.Signer
	alg string
	kid string
}

func (o *opaque) Public() *gojose.JSONWebKey {
	return &gojose.JSONWebKey{Key: o.s.Public(), KeyID: o.kid, Algorithm: o.alg, Use: "sig"}
}

func (o *opaque) Algs() []gojose.SignatureAlgorithm {
	return []gojose.SignatureAlgorithm{gojose.SignatureAlgorithm(o.alg)}
}

func (o *opaque) SignPayload(payload []byte, alg gojose.SignatureAlgorithm) ([]byte, error) {
	if string(alg) != o.alg {
		return nil, fmt.Errorf("jose: external key signs %s, not %s", o.alg, alg)
	}
	switch o.alg {
	case EdDSA:
		return o.s.Sign(rand.Reader, payload, crypto.Hash(0))
	case PS256:
		h := crypto.SHA256.New()
		h.Write(payload)
		return o.s.Sign(rand.Reader, h.Sum(nil), &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: crypto.SHA256})
	case ES256:
		h := crypto.SHA256.New()
		h.Write(payload)
		der, err := o.s.Sign(rand.Reader, h.Sum(nil), crypto.SHA256)
		if err != nil {
			return nil, err
		}
		var sig struct{ R, S *big.Int }
		if rest, err := asn1.Unmarshal(der, &sig); err != nil || len(rest) != 0 || sig.R == nil || sig.S == nil ||
			sig.R.Sign() <= 0 || sig.S.Sign() <= 0 || sig.R.BitLen() > 256 || sig.S.BitLen() > 256 {
			return nil, errors.New("jose: external signer returned a malformed ECDSA signature")
		}
		out := make([]byte, 64)
		sig.R.FillBytes(out[:32])
		sig.S.FillBytes(out[32:])
		return out, nil
	}
	return nil, fmt.Errorf("jose: external key algorithm %q not supported", o.alg)
}
